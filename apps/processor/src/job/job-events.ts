import type { CertificationToken, Reason, StepFailed, StepOutput, StepReport, TokenAcknowledged, TokenReturned } from '@sigillum/contracts';
import type { OperatorSigner } from '../operators/operator-signer';
import { canonicalDigest } from '../steps/step-outputs';

/** What the acknowledgement signs: `{ tokenId, tokenDigest, acknowledgedAt }`. */
export interface AcknowledgementPayload {
  readonly tokenId: string;
  readonly tokenDigest: string;
  readonly acknowledgedAt: string;
}

/** TokenAcknowledged: receipt of the token, signed (detached JWS) with the operator's certified key. */
export function tokenAcknowledged(token: CertificationToken, signer: OperatorSigner, acknowledgedAt: Date): TokenAcknowledged {
  const payload: AcknowledgementPayload = { tokenId: token.tokenId, tokenDigest: canonicalDigest(token), acknowledgedAt: acknowledgedAt.toISOString() };
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
      keyId: signer.keyId,
      signature: signer.signDetached(payload),
    },
  };
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

/** TokenReturned: the token back with its report, the report signed (detached JWS) with the operator's certified key. */
export function tokenReturned(token: CertificationToken, report: StepReport, signer: OperatorSigner, returnedAt: Date): TokenReturned {
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
      keyId: signer.keyId,
      signature: signer.signDetached(report),
    },
  };
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
