import type { CertificationToken, Reason, StepFailed, StepOutput, StepReport, TokenAcknowledged, TokenReturned } from '@sigillum/contracts';
import type { OperatorSigner } from '../operators/operator-signer';
import { canonicalDigest } from '../steps/step-outputs';

/** What the acknowledgement signs: `{ tokenId, tokenDigest, acknowledgedAt }`. */
export interface AcknowledgementPayload {
  readonly tokenId: string;
  readonly tokenDigest: string;
  readonly acknowledgedAt: string;
}

function acknowledgementOf(token: CertificationToken, acknowledgedAt: Date): AcknowledgementPayload {
  return { tokenId: token.tokenId, tokenDigest: canonicalDigest(token), acknowledgedAt: acknowledgedAt.toISOString() };
}

function acknowledgedEvent(token: CertificationToken, payload: AcknowledgementPayload, keyId: string, signature: string): TokenAcknowledged {
  return {
    type: 'TokenAcknowledged',
    version: 1,
    data: {
      tokenId: token.tokenId,
      correspondenceId: token.correspondenceId,
      stepIndex: token.stepIndex,
      operatorId: token.operatorId,
      tokenDigest: payload.tokenDigest,
      acknowledgedAt: payload.acknowledgedAt,
      keyId,
      signature,
    },
  };
}

/** TokenAcknowledged: receipt of the token, signed (detached JWS) with the operator's certified key. */
export function tokenAcknowledged(token: CertificationToken, signer: OperatorSigner, acknowledgedAt: Date): TokenAcknowledged {
  const payload = acknowledgementOf(token, acknowledgedAt);
  return acknowledgedEvent(token, payload, signer.keyId, signer.signDetached(payload));
}

/** tokenAcknowledged with the signature made off the event loop (OperatorSigner.signDetachedAsync): the same event. */
export async function tokenAcknowledgedAsync(token: CertificationToken, signer: OperatorSigner, acknowledgedAt: Date): Promise<TokenAcknowledged> {
  const payload = acknowledgementOf(token, acknowledgedAt);
  return acknowledgedEvent(token, payload, signer.keyId, await signer.signDetachedAsync(payload));
}

/** The report of a performed step: output digest = SHA-256 of canonicalize(output). */
export function stepReport(token: CertificationToken, output: StepOutput, startedAt: Date, finishedAt: Date): StepReport {
  return {
    tokenId: token.tokenId,
    step: token.step,
    inputDigest: token.inputDigest,
    outputDigest: canonicalDigest(output),
    parameters: token.parameters,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    output,
  };
}

function returnedEvent(token: CertificationToken, report: StepReport, returnedAt: Date, keyId: string, signature: string): TokenReturned {
  return {
    type: 'TokenReturned',
    version: 1,
    data: {
      tokenId: token.tokenId,
      correspondenceId: token.correspondenceId,
      stepIndex: token.stepIndex,
      operatorId: token.operatorId,
      report,
      returnedAt: returnedAt.toISOString(),
      keyId,
      signature,
    },
  };
}

/** TokenReturned: the token back with its report, the report signed (detached JWS) with the operator's certified key. */
export function tokenReturned(token: CertificationToken, report: StepReport, signer: OperatorSigner, returnedAt: Date): TokenReturned {
  return returnedEvent(token, report, returnedAt, signer.keyId, signer.signDetached(report));
}

/** tokenReturned with the signature made off the event loop (OperatorSigner.signDetachedAsync): the same event. */
export async function tokenReturnedAsync(token: CertificationToken, report: StepReport, signer: OperatorSigner, returnedAt: Date): Promise<TokenReturned> {
  return returnedEvent(token, report, returnedAt, signer.keyId, await signer.signDetachedAsync(report));
}

export function stepFailed(token: CertificationToken, reasons: readonly Reason[], failedAt: Date): StepFailed {
  return {
    type: 'StepFailed',
    version: 1,
    data: {
      tokenId: token.tokenId,
      correspondenceId: token.correspondenceId,
      stepIndex: token.stepIndex,
      operatorId: token.operatorId,
      reasons: [...reasons],
      failedAt: failedAt.toISOString(),
    },
  };
}
