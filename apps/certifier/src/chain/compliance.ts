import { createHash } from 'node:crypto';
import type {
  CertificationToken,
  OperatorSpecification,
  OperatorStepSpec,
  Reason,
  StepParameters,
  StepParameterSpec,
  StepReport,
  TokenAcknowledged,
  TokenReturned,
} from '@sigillum/contracts';
import { canonicalize, sha256Imprint, verifyTimeStampToken } from '@sigillum/crypto';
import type { PartyKey } from '../certificates/party-keys';
import { type ChainState, type TokenRecord, tokenOf, openTokenOf } from './chain.decider';
import { lateAcknowledgement, lateReturn, overlongStep } from './rules/token-deadlines';
import {
  CertificateRevokedError,
  type CertifiedSigner,
  type CertifiedSignatureVerifier,
  signerCertificateFingerprintOf,
  thumbprintFingerprintOf,
  verifyDetachedByKey,
  verifyDetachedByKeyAsync,
} from './signatures';

/**
 * Checks of an operator's return against its token and its specification: pure functions (crypto included, no I/O).
 * Every failure is a Reason whose `rule` is stable:
 *   ack.missing, ack.signature-invalid, ack.late,
 *   report.token-mismatch, report.step-mismatch, report.times-invalid, digest.input-mismatch, digest.output-mismatch,
 *   spec.step-not-allowed, spec.parameters, deadline.exceeded (the lateness rules themselves: rules/token-deadlines.ts),
 *   signature.invalid, signature.key-not-certified, certificate.revoked,
 *   seal.invalid, timestamp.invalid, deliver.recipients-mismatch.
 */

/** SHA-256 hex of the RFC 8785 canonical JSON of `value`. */
export const digestOf = (value: unknown): string => createHash('sha256').update(canonicalize(value), 'utf8').digest('hex');

/** What a token's acknowledgement signs: `{ tokenId, tokenDigest, acknowledgedAt }`, tokenDigest = digestOf(token). */
export const acknowledgementPayload = (token: CertificationToken, acknowledgedAt: string) => ({
  tokenId: token.tokenId,
  tokenDigest: digestOf(token),
  acknowledgedAt,
});

/** Whether a return concerns the token its step waits for; anything else is recorded nowhere (only logged). */
export type ReturnStanding = { readonly kind: 'open'; readonly record: TokenRecord } | { readonly kind: 'ignored'; readonly reason: Reason };

export function standingOf(state: ChainState, tokenId: string): ReturnStanding {
  const open = openTokenOf(state);
  if (open && open.token.tokenId === tokenId) return { kind: 'open', record: open };
  const known = tokenOf(state, tokenId);
  if (!known) return { kind: 'ignored', reason: { rule: 'token.unknown', message: `no chain issued token ${tokenId}` } };
  return {
    kind: 'ignored',
    reason: {
      rule: 'token.superseded',
      message: `token ${tokenId} (step ${known.token.step}, attempt ${known.token.attempt}) is no longer open: ${known.status}`,
      partyId: known.token.operatorId,
      subjectRole: 'operator',
    },
  };
}

export interface ReturnToCheck {
  readonly token: CertificationToken;
  /** The chain's recipients (a delivery must name each). */
  readonly recipientIds: readonly string[];
  /** The operator's acknowledgement from `job-<tokenId>`, if any. */
  readonly acknowledgement: TokenAcknowledged['data'] | null;
  readonly returned: TokenReturned['data'];
  /** When the processor recorded the return in its log (event metadata), if known. */
  readonly returnRecordedAt: string | null;
  /** The operator's specification as the directory holds it now. */
  readonly specification: OperatorSpecification | null;
  /** The operator's keys in the directory. */
  readonly operatorKeys: Readonly<Record<string, PartyKey>>;
  readonly now: Date;
}

const time = (value: unknown): number => (typeof value === 'string' ? Date.parse(value) : Number.NaN);

/** What one verification gave: its result, or what it threw. */
type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/** The Ed25519 verifications of a return, made before its rules read them (synchronously, or off the event loop). */
interface SignatureOutcomes {
  /** The acknowledgement by the key the directory pins; absent without an acknowledgement or a signature key in force for it. */
  readonly acknowledgement?: Outcome<void>;
  /** The report's detached JWS under a certificate of the certifier CA. */
  readonly report: Outcome<CertifiedSigner>;
  /** The seal of a seal step's output (its output's step the token's); absent otherwise. */
  readonly seal?: Outcome<CertifiedSigner>;
}

/** The verifications a return asks for, each a thunk to run once (`run`'s forms: synchronous, or off the event loop). */
function signatureWork<A, R, S>(
  input: ReturnToCheck,
  run: {
    acknowledgement(compact: string, payload: unknown, publicKeyPem: string): A;
    report(compact: string, payload: unknown, at: Date): R;
    seal(compact: string, at: Date): S;
  },
): { readonly acknowledgement?: () => A; readonly report: () => R; readonly seal?: () => S } {
  const { token, acknowledgement, returned, operatorKeys, now } = input;
  const key = acknowledgement ? usableKey(operatorKeys, acknowledgement.keyId) : undefined;
  const output = returned.report.output;
  return {
    // Signed over the token as the certifier issued it: an acknowledgement of another token digest fails here.
    ...(acknowledgement && key
      ? {
          acknowledgement: () =>
            run.acknowledgement(acknowledgement.signature, acknowledgementPayload(token, acknowledgement.acknowledgedAt), key.publicKeyPem),
        }
      : {}),
    report: () => run.report(returned.signature, returned.report, now),
    ...(output?.step === token.step && output.step === 'seal' ? { seal: () => run.seal(output.sealJws, now) } : {}),
  };
}

function settle<T>(work: () => T): Outcome<T> {
  try {
    return { ok: true, value: work() };
  } catch (error) {
    return { ok: false, error };
  }
}

async function settleAsync<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Every reason the return does not comply; empty when the step can be certified. */
export function checkReturn(input: ReturnToCheck, verifier: CertifiedSignatureVerifier): Reason[] {
  const work = signatureWork(input, {
    acknowledgement: verifyDetachedByKey,
    report: (compact, payload, at) => verifier.verifyDetached(compact, payload, at),
    seal: (compact, at) => verifier.verify(compact, at),
  });
  return checkReturnWith(input, verifier, {
    ...(work.acknowledgement ? { acknowledgement: settle(work.acknowledgement) } : {}),
    report: settle(work.report),
    ...(work.seal ? { seal: settle(work.seal) } : {}),
  });
}

/**
 * checkReturn with the return's Ed25519 verifications (acknowledgement, report, seal) made on libuv's threadpool, off
 * the event loop, concurrently: the same reasons in the same order. The time-stamp token's RSA verification stays
 * synchronous (~30 µs: queuing it would cost the event loop about as much).
 */
export async function checkReturnAsync(input: ReturnToCheck, verifier: CertifiedSignatureVerifier): Promise<Reason[]> {
  const work = signatureWork(input, {
    acknowledgement: verifyDetachedByKeyAsync,
    report: (compact, payload, at) => verifier.verifyDetachedAsync(compact, payload, at),
    seal: (compact, at) => verifier.verifyAsync(compact, at),
  });
  // Started in the order checkReturn makes them: a certificate the report's verification meets first is cached for the seal's.
  const [acknowledgement, report, seal] = await Promise.all([
    work.acknowledgement ? settleAsync(work.acknowledgement) : undefined,
    settleAsync(work.report),
    work.seal ? settleAsync(work.seal) : undefined,
  ]);
  return checkReturnWith(input, verifier, { ...(acknowledgement ? { acknowledgement } : {}), report, ...(seal ? { seal } : {}) });
}

function checkReturnWith(input: ReturnToCheck, verifier: CertifiedSignatureVerifier, outcomes: SignatureOutcomes): Reason[] {
  const { token, returned } = input;
  const reasons: Reason[] = [];
  const fail = (rule: string, message: string) => reasons.push({ rule, message, partyId: token.operatorId, subjectRole: 'operator' });
  const report = returned.report;

  checkAcknowledgement(input, verifier, outcomes.acknowledgement, fail);

  // The report is about this token, this step and this input.
  if (
    report.tokenId !== token.tokenId ||
    returned.tokenId !== token.tokenId ||
    returned.operatorId !== token.operatorId ||
    returned.stepIndex !== token.stepIndex ||
    returned.correspondenceId !== token.correspondenceId
  ) {
    fail(
      'report.token-mismatch',
      `the return does not name token ${token.tokenId} of operator ${token.operatorId} for step ${token.stepIndex} of correspondence ${token.correspondenceId}`,
    );
  }
  if (report.step !== token.step) fail('report.step-mismatch', `the report is for step ${String(report.step)}, the token for ${token.step}`);
  if (report.inputDigest !== token.inputDigest) fail('digest.input-mismatch', `the report's input digest is not the token's (${token.inputDigest})`);

  // The output digest chains to what was produced.
  let outputDigest: string | null = null;
  try {
    outputDigest = digestOf(report.output);
  } catch {
    outputDigest = null;
  }
  if (outputDigest === null || report.outputDigest !== outputDigest)
    fail('digest.output-mismatch', "the report's output digest is not SHA-256 of its canonical output");
  if (report.output?.step !== token.step) fail('digest.output-mismatch', `the output is for step ${String(report.output?.step)}, the token for ${token.step}`);

  // The specification in force: step, parameters, duration.
  const stepSpec = input.specification?.steps.find((candidate) => candidate.step === token.step);
  if (!stepSpec) fail('spec.step-not-allowed', `the specification of operator ${token.operatorId} does not allow the step ${token.step}`);
  else for (const problem of parameterProblems(report.parameters, stepSpec.parameters)) fail('spec.parameters', problem);
  if (!sameParameters(report.parameters, token.parameters)) fail('spec.parameters', "the parameters used are not the token's");
  checkTimes(input, stepSpec, fail);

  checkReportSignature(input, outcomes.report, fail);
  if (report.output?.step === token.step) checkOutput(input, verifier, outcomes.seal, fail);
  return reasons;
}

/** The certificates (SHA-256 of the DER, hex) a return's signatures name by `x5t#S256`: resolved before checkReturn runs. */
export function certificatesNamedBy(acknowledgement: TokenAcknowledged['data'] | null, returned: TokenReturned['data']): string[] {
  const output = returned.report?.output as { step?: unknown; sealJws?: unknown } | undefined;
  const named = [acknowledgement?.signature, returned.signature, output?.step === 'seal' ? output.sealJws : undefined].map(thumbprintFingerprintOf);
  return named.filter((fingerprint): fingerprint is string => fingerprint !== null);
}

type Fail = (rule: string, message: string) => void;

/** SHA-256 (hex) of a PEM certificate's DER. */
const certificateFingerprintOfPem = (pem: string): string =>
  createHash('sha256')
    .update(Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''), 'base64'))
    .digest('hex');

/** The refusal of what an operator signed under a certificate the certifier CA revoked. */
const revokedMessage = (what: string, token: CertificationToken, certificateFingerprint: string) =>
  `${what} is signed under certificate ${certificateFingerprint} of operator ${token.operatorId}, revoked by the certifier CA`;

function checkAcknowledgement(
  { token, acknowledgement }: ReturnToCheck,
  verifier: CertifiedSignatureVerifier,
  verified: Outcome<void> | undefined,
  fail: Fail,
): void {
  if (!acknowledgement) {
    fail('ack.missing', `operator ${token.operatorId} never acknowledged token ${token.tokenId}`);
    return;
  }
  // The acknowledgement is verified by the key the directory pins; when it names its certificate (x5c or x5t#S256), that must not be revoked.
  const ackCertificate = signerCertificateFingerprintOf(acknowledgement.signature);
  if (ackCertificate !== null && verifier.isRevoked(ackCertificate)) fail('certificate.revoked', revokedMessage('the acknowledgement', token, ackCertificate));
  // Not verified (signatureWork): no signature key of the operator in force has the acknowledgement's key id.
  if (!verified) {
    fail(
      'ack.signature-invalid',
      `the acknowledgement is signed with key ${String(acknowledgement.keyId)}, not a signature key of operator ${token.operatorId} in force`,
    );
  } else if (!verified.ok) {
    fail('ack.signature-invalid', `the acknowledgement signature does not verify over token ${token.tokenId}: ${(verified.error as Error).message}`);
  }
  if (acknowledgement.tokenId !== token.tokenId || acknowledgement.tokenDigest !== digestOf(token)) {
    fail('ack.signature-invalid', `the acknowledgement names another token than ${token.tokenId} as issued`);
  }
  const late = lateAcknowledgement(token, acknowledgement.acknowledgedAt);
  if (late) fail(late.rule, late.message);
}

function checkTimes({ token, returned, returnRecordedAt }: ReturnToCheck, stepSpec: OperatorStepSpec | undefined, fail: Fail): void {
  const late = lateReturn(token, returned.returnedAt, returnRecordedAt);
  if (late) fail(late.rule, late.message);
  const started = time(returned.report.startedAt);
  const finished = time(returned.report.finishedAt);
  if (Number.isNaN(started) || Number.isNaN(finished) || finished < started) {
    fail('report.times-invalid', "the report's startedAt and finishedAt are not ISO-8601 times in order");
  } else {
    const overlong = overlongStep(started, finished, stepSpec);
    if (overlong) fail(overlong.rule, overlong.message);
  }
}

/** The report's detached JWS: its certificate (x5c, or x5t#S256 in the directory) to the certifier CA, leaf = a signature key of the operator in the directory, in force. */
function checkReportSignature({ token, returned, operatorKeys }: ReturnToCheck, verified: Outcome<CertifiedSigner>, fail: Fail): void {
  if (!verified.ok) {
    const { error } = verified;
    if (error instanceof CertificateRevokedError) fail('certificate.revoked', revokedMessage('the report', token, error.certificateFingerprint));
    else fail('signature.invalid', `the report signature does not verify under a certificate of the certifier CA: ${(error as Error).message}`);
    return;
  }
  const signer = verified.value;
  const key = usableKey(operatorKeys, returned.keyId);
  if (!key || key.fingerprint !== signer.spkiFingerprint) {
    fail(
      'signature.key-not-certified',
      `the report is signed with a certificate whose key is not signature key ${String(returned.keyId)} of operator ${token.operatorId} in force`,
    );
  }
}

function checkOutput(input: ReturnToCheck, verifier: CertifiedSignatureVerifier, sealVerified: Outcome<CertifiedSigner> | undefined, fail: Fail): void {
  const { token, returned } = input;
  const output = returned.report.output;
  switch (output.step) {
    case 'seal': {
      try {
        // Verified by signatureWork for a seal step's output; thrown here as verifying it here would.
        if (!sealVerified) throw new Error('the seal was not verified');
        if (!sealVerified.ok) throw sealVerified.error;
        const seal = sealVerified.value;
        const payload = seal.payload as Record<string, unknown> | null;
        const owned = Object.values(input.operatorKeys).some((key) => isInForce(key) && key.fingerprint === seal.spkiFingerprint);
        if (!owned) fail('seal.invalid', `the seal is made with a key that is not a signature key of operator ${token.operatorId} in force`);
        if (
          typeof payload !== 'object' ||
          payload === null ||
          payload.correspondenceId !== token.correspondenceId ||
          payload.inputDigest !== token.inputDigest
        ) {
          fail('seal.invalid', `the seal does not name correspondence ${token.correspondenceId} and input ${token.inputDigest}`);
        }
        if (output.certificateFingerprint !== seal.certificateFingerprint)
          fail('seal.invalid', "the seal's certificateFingerprint is not SHA-256 of its signing certificate");
      } catch (error) {
        if (error instanceof CertificateRevokedError) fail('certificate.revoked', revokedMessage('the seal', token, error.certificateFingerprint));
        else fail('seal.invalid', `the seal does not verify under a certificate of the certifier CA: ${(error as Error).message}`);
      }
      return;
    }
    case 'timestamp': {
      try {
        const der = Buffer.from(String(output.timeStampToken), 'base64');
        const stamped = verifyTimeStampToken(der, {
          trustedCaPem: verifier.caCertificatePem,
          messageImprint: sha256Imprint(Buffer.from(token.inputDigest, 'hex')),
        });
        const tsaCertificate = stamped.signerCertificatePem ? certificateFingerprintOfPem(stamped.signerCertificatePem) : null;
        if (tsaCertificate !== null && verifier.isRevoked(tsaCertificate))
          fail('certificate.revoked', revokedMessage('the time-stamp token', token, tsaCertificate));
      } catch (error) {
        fail('timestamp.invalid', `the time-stamp token does not verify against the certifier CA over the input digest: ${(error as Error).message}`);
      }
      return;
    }
    case 'deliver': {
      const delivered = new Set(Array.isArray(output.recipientIds) ? output.recipientIds : []);
      if (delivered.size !== input.recipientIds.length || !input.recipientIds.every((recipientId) => delivered.has(recipientId))) {
        fail('deliver.recipients-mismatch', "the delivery does not name exactly the correspondence's recipients");
      }
      return;
    }
    case 'archive':
    case 'print-and-post':
      // Their digests are covered by the output digest and the operator's signature.
      return;
    default:
      fail('digest.output-mismatch', `unknown output step ${String((output as { step?: unknown }).step)}`);
  }
}

const isInForce = (key: PartyKey): boolean => key.use === 'signature' && key.revokedAt === null;

function usableKey(keys: Readonly<Record<string, PartyKey>>, keyId: unknown): PartyKey | undefined {
  if (typeof keyId !== 'string') return undefined;
  const key = Object.prototype.hasOwnProperty.call(keys, keyId) ? keys[keyId] : undefined;
  return key && isInForce(key) ? key : undefined;
}

/** Why `parameters` do not satisfy a step's parameter specification (unknown names refused); empty when they do. */
export function parameterProblems(parameters: StepParameters | undefined, spec: Readonly<Record<string, StepParameterSpec>>): string[] {
  const problems: string[] = [];
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) return ['the parameters are not an object'];
  for (const [name, value] of Object.entries(parameters)) {
    const rule = Object.prototype.hasOwnProperty.call(spec, name) ? spec[name] : undefined;
    if (!rule) {
      problems.push(`parameter ${name} is not in the specification`);
      continue;
    }
    if (typeof value !== rule.type || (rule.type === 'number' && !Number.isFinite(value))) {
      problems.push(`parameter ${name} must be a ${rule.type}`);
      continue;
    }
    if (rule.allowed && !rule.allowed.includes(String(value))) problems.push(`parameter ${name} must be one of ${rule.allowed.join(', ')}`);
    if (typeof value === 'number' && rule.min !== undefined && value < rule.min) problems.push(`parameter ${name} must be at least ${rule.min}`);
    if (typeof value === 'number' && rule.max !== undefined && value > rule.max) problems.push(`parameter ${name} must be at most ${rule.max}`);
  }
  for (const [name, rule] of Object.entries(spec)) {
    if (rule.required && !Object.prototype.hasOwnProperty.call(parameters, name)) problems.push(`parameter ${name} is required`);
  }
  return problems;
}

function sameParameters(a: StepParameters | undefined, b: StepParameters): boolean {
  try {
    return canonicalize(a ?? null) === canonicalize(b);
  } catch {
    return false;
  }
}

/** The reasons of an operator's StepFailed, attributed to it. */
export function stepFailedReasons(token: CertificationToken, reported: readonly Reason[]): Reason[] {
  return [
    {
      rule: 'step.failed',
      message: `operator ${token.operatorId} reported it could not perform step ${token.step} (attempt ${token.attempt})`,
      partyId: token.operatorId,
      subjectRole: 'operator',
    },
    ...reported.map((reason) => ({ rule: reason.rule, message: reason.message, partyId: token.operatorId, subjectRole: 'operator' as const })),
  ];
}

export type { StepReport };
