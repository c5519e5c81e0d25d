import * as path from 'node:path';
import type { ChainStarted, CertificationToken, ContentPartRef, ProcessingStep, StepOutput, SubmissionRequested } from '@sigillum/contracts';
import { canonicalize } from '@sigillum/crypto';
import { MAX_RETENTION_YEARS } from '../processor.config';
import { stepFailure } from './step-failure';
import { type ArchiveOutput, canonicalDigest, type SealOutput, sha256Hex, type TimestampOutput } from './step-outputs';
import { isSafeFileName, writeOnce } from './write-once';

/** An earlier step of the same chain that the certifier certified (StepCertified), with the operator's output when read. */
export interface CertifiedStep {
  readonly stepIndex: number;
  readonly step: ProcessingStep;
  readonly tokenId: string;
  readonly operatorId: string;
  readonly inputDigest: string;
  readonly outputDigest: string;
  readonly certifiedAt: string;
  /** The returned report's output (read for `seal` and `timestamp` from `job-<tokenId>`); undefined when not found. */
  readonly output?: StepOutput;
}

export interface ArchiveInput {
  readonly token: CertificationToken;
  readonly chain: ChainStarted['data'] | undefined;
  readonly submission: SubmissionRequested['data'] | undefined;
  /** StepCertified of this chain, any order. */
  readonly certifiedSteps: readonly CertifiedStep[];
  readonly defaultRetentionYears: number;
  readonly archiveDir: string;
  /** fsync the package (SQLITE_SYNCHRONOUS=FULL). */
  readonly durable?: boolean;
  readonly now: Date;
}

/** Format tag of an archive package, so that a reader years later knows what it holds. */
export const ARCHIVE_PACKAGE_FORMAT = 'sigillum.archive-package/1';

/** The archive package as written (canonical JSON). */
export interface ArchivePackage {
  readonly format: typeof ARCHIVE_PACKAGE_FORMAT;
  readonly tokenId: string;
  readonly correspondenceId: string;
  readonly senderId: string;
  readonly recipientIds: readonly string[];
  readonly specimenDigest: string;
  readonly inputDigest: string;
  /** The originals, by digest (their bytes stay in the content store, addressed by these digests). */
  readonly parts: readonly ContentPartRef[];
  readonly seal: (SealOutput & { readonly tokenId: string; readonly outputDigest: string }) | null;
  readonly timestamp: (TimestampOutput & { readonly tokenId: string; readonly outputDigest: string }) | null;
  /** Every step certified before this one, as the certifier recorded it. */
  readonly certifiedSteps: readonly Omit<CertifiedStep, 'output'>[];
  readonly safes: readonly { readonly ownerId: string; readonly retainUntil: string }[];
  readonly retainUntil: string;
  readonly archivedAt: string;
}

/** `now` plus whole calendar years, in UTC. */
export function addYears(now: Date, years: number): Date {
  const until = new Date(now.getTime());
  until.setUTCFullYear(until.getUTCFullYear() + years);
  return until;
}

function retentionYearsOf(token: CertificationToken, fallback: number): number {
  const asked = token.parameters.retentionYears;
  if (asked === undefined) return fallback;
  if (typeof asked !== 'number' || !Number.isInteger(asked) || asked < 1 || asked > MAX_RETENTION_YEARS) {
    throw stepFailure(
      token.operatorId,
      'parameters.invalid',
      `retentionYears must be a whole number of years from 1 to ${MAX_RETENTION_YEARS}, not ${JSON.stringify(asked)}`,
    );
  }
  return asked;
}

/** The last certified step of a kind before this token, with its output checked against the certified digest. */
function earlierOutput<S extends 'seal' | 'timestamp'>(
  input: ArchiveInput,
  step: S,
): (Extract<StepOutput, { step: S }> & { tokenId: string; outputDigest: string }) | null {
  const certified = input.certifiedSteps
    .filter((candidate) => candidate.step === step && candidate.stepIndex < input.token.stepIndex)
    .sort((a, b) => b.stepIndex - a.stepIndex)[0];
  if (!certified) return null;
  const { operatorId } = input.token;
  if (!certified.output || certified.output.step !== step) {
    throw stepFailure(
      operatorId,
      'chain.output-missing',
      `the ${step} step certified at index ${certified.stepIndex} has no returned output in job-${certified.tokenId}`,
    );
  }
  if (canonicalDigest(certified.output) !== certified.outputDigest) {
    throw stepFailure(operatorId, 'chain.output-mismatch', `the ${step} output in job-${certified.tokenId} does not have the digest the certifier certified`);
  }
  return { ...(certified.output as Extract<StepOutput, { step: S }>), tokenId: certified.tokenId, outputDigest: certified.outputDigest };
}

/**
 * `archive`: the originals (by digest), the seal and the time-stamp of the earlier certified steps and the
 * retention metadata go into one package, written once as canonical JSON to
 * `<archiveDir>/<correspondenceId>/<tokenId>.json`; the sender's and every recipient's safe hold it until
 * `retainUntil` (now + the token's `retentionYears`, else the default). A retried attempt finds the package its
 * first attempt wrote and reports that one. `location` is relative: `archive/` stands for the archive root.
 */
export function performArchive(input: ArchiveInput): ArchiveOutput {
  const { token, chain, submission, now } = input;
  const { operatorId, correspondenceId, tokenId } = token;
  if (!chain) throw stepFailure(operatorId, 'chain.unknown', `no ChainStarted in chain-${correspondenceId}: sender and recipients are unknown`);
  if (!submission)
    throw stepFailure(operatorId, 'submission.unknown', `no SubmissionRequested in correspondence-${correspondenceId}: the originals are unknown`);
  if (submission.specimenDigest !== chain.specimenDigest) {
    throw stepFailure(operatorId, 'specimen.mismatch', 'the submission and the chain name different specimen digests');
  }
  if (!isSafeFileName(correspondenceId) || !isSafeFileName(tokenId)) {
    throw stepFailure(operatorId, 'archive.location-invalid', 'the correspondence or token id cannot name an archive file');
  }
  const years = retentionYearsOf(token, input.defaultRetentionYears);
  const retainUntil = addYears(now, years).toISOString();
  const owners = [chain.senderId, ...chain.recipientIds.filter((id) => id !== chain.senderId)];
  const archivePackage: ArchivePackage = {
    format: ARCHIVE_PACKAGE_FORMAT,
    tokenId,
    correspondenceId,
    senderId: chain.senderId,
    recipientIds: [...chain.recipientIds],
    specimenDigest: chain.specimenDigest,
    inputDigest: token.inputDigest,
    parts: submission.parts.map(({ digest, name, contentType, size }) => ({ digest, name, contentType, size })),
    seal: earlierOutput(input, 'seal'),
    timestamp: earlierOutput(input, 'timestamp'),
    certifiedSteps: input.certifiedSteps
      .filter((step) => step.stepIndex < token.stepIndex)
      .sort((a, b) => a.stepIndex - b.stepIndex)
      .map(({ output: _output, ...step }) => step),
    safes: [...new Set(owners)].map((ownerId) => ({ ownerId, retainUntil })),
    retainUntil,
    archivedAt: now.toISOString(),
  };
  const relative = path.posix.join(correspondenceId, `${tokenId}.json`);
  const written = writeOnce(path.join(input.archiveDir, relative), Buffer.from(canonicalize(archivePackage), 'utf8'), input.durable);
  // The package on disk is the one reported: ours, or the first attempt's when this is a retry.
  const kept = written.created ? archivePackage : (JSON.parse(written.bytes.toString('utf8')) as ArchivePackage);
  return { step: 'archive', packageDigest: sha256Hex(written.bytes), safes: kept.safes, location: `archive/${relative}` };
}
