import { Logger } from '@nestjs/common';
import {
  assertNever,
  type CertificationToken,
  type Clock,
  type DomainEvent,
  type IdGenerator,
  JOB_CATEGORY,
  type StepOutput,
  streamIdOf,
} from '@sigillum/contracts';
import { type CommandContext, type EventStore, metadataOf, WrongExpectedVersionError } from '@sigillum/eventstore';
import { nameBasedId } from '@sigillum/runtime';
import type { HostedOperatorsStore } from '../operators/hosted-operators.store';
import type { OperatorCredentials } from '../operators/operator-credentials';
import type { OperatorSigner } from '../operators/operator-signer';
import type { ProcessorConfig } from '../processor.config';
import { PROCESSOR_SOURCE } from '../processor.source';
import { performArchive } from '../steps/archive.step';
import { performDeliver } from '../steps/deliver.step';
import { performPrintAndPost, type PostalIdentity } from '../steps/print-and-post.step';
import { performSealAsync } from '../steps/seal.step';
import { StepFailure } from '../steps/step-failure';
import { performTimestampAsync } from '../steps/timestamp.step';
import type { ChainReader } from './chain-reader';
import { stepFailed, stepReport, tokenAcknowledgedAsync, tokenReturnedAsync } from './job-events';
import type { CertifierTokenVerifier } from './token-verifier';

/** A StepTokenIssued as consumed: the token exactly as the certifier signed it, and its detached JWS. */
export interface IssuedToken {
  readonly token: CertificationToken;
  readonly signature: string;
}

/** The causality of a job: the token's message (correlation, cause, trace). */
export type JobContext = CommandContext;

export type JobOutcome = 'not-hosted' | 'already-recorded' | 'returned' | 'failed' | 'refused';

/** No CA certificate is known yet: the token cannot be checked now (the bus retries, then dead-letters with this). */
export class TrustAnchorUnknownError extends Error {
  constructor(tokenId: string) {
    super(
      `Token ${tokenId} cannot be verified yet: this processor knows no CA certificate (CertificationAuthorityEstablished on sigillum.ca.events not consumed yet)`,
    );
    this.name = 'TrustAnchorUnknownError';
  }
}

export interface JobRunnerDependencies {
  readonly store: EventStore;
  readonly operators: HostedOperatorsStore;
  readonly credentials: OperatorCredentials;
  readonly verifier: CertifierTokenVerifier;
  readonly reader: ChainReader;
  readonly config: ProcessorConfig;
  /** fsync archive packages and print jobs (SQLITE_SYNCHRONOUS=FULL). */
  readonly durableFiles: boolean;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

/**
 * One certification token, start to end, for an operator this process hosts, written to `job-<tokenId>`:
 * 1. the certifier's signature is checked (a tampered token: StepFailed `token.signature-invalid`, nothing performed);
 * 2. receipt is acknowledged (signed), 3. the step is performed for real, 4. the token is returned with the signed report.
 * The signatures and the verification are made on libuv's threadpool (the async forms of node:crypto), off the event
 * loop; nothing is appended before all are done, and the job's events are still one append.
 * Acknowledgement and return are appended together (one commit); an operator that cannot perform records StepFailed
 * with reasons. Idempotent: a job stream that exists means the token was handled; the append expects no stream, so
 * a concurrent duplicate loses the race and changes nothing.
 */
export class JobRunner {
  private readonly log = new Logger('JobRunner');

  constructor(private readonly deps: JobRunnerDependencies) {}

  async run(issued: IssuedToken, context: JobContext): Promise<JobOutcome> {
    const { token, signature } = issued;
    const { operators, store, credentials, verifier, clock } = this.deps;
    if (!operators.isHosted(token.operatorId)) return 'not-hosted';
    const streamId = streamIdOf(JOB_CATEGORY, token.tokenId);
    if ((await store.readStream(streamId, { maxCount: 1 })).length > 0) return 'already-recorded';

    const receivedAt = clock.now();
    const anchors = credentials.trustedCaPems();
    if (anchors.length === 0) throw new TrustAnchorUnknownError(token.tokenId);
    await verifier.learn(signature);
    const problem = await verifier.problemAsync(signature, token, anchors, receivedAt);
    if (problem !== undefined) {
      this.log.warn(`Token ${token.tokenId} for operator ${token.operatorId} refused: ${problem}`);
      const reasons = [{ rule: 'token.signature-invalid', message: `the certifier's signature over the token does not verify: ${problem}` }];
      return this.append(streamId, [stepFailed(token, reasons, receivedAt)], context, 'refused');
    }

    let signer: OperatorSigner;
    try {
      signer = credentials.signer(token.operatorId, receivedAt);
    } catch (error) {
      // Without a certified signing key the operator cannot even acknowledge: the failure is all it can record.
      if (error instanceof StepFailure) return this.append(streamId, [stepFailed(token, error.reasons, receivedAt)], context, 'failed');
      throw error;
    }
    const acknowledged = await tokenAcknowledgedAsync(token, signer, receivedAt);

    const startedAt = clock.now();
    let output: StepOutput;
    try {
      output = await this.perform(token, signer, startedAt);
    } catch (error) {
      if (error instanceof StepFailure) return this.append(streamId, [acknowledged, stepFailed(token, error.reasons, clock.now())], context, 'failed');
      throw error;
    }
    const finishedAt = clock.now();
    const report = stepReport(token, output, startedAt, finishedAt);
    return this.append(streamId, [acknowledged, await tokenReturnedAsync(token, report, signer, clock.now())], context, 'returned');
  }

  private async perform(token: CertificationToken, signer: OperatorSigner, now: Date): Promise<StepOutput> {
    const { credentials, reader, config, durableFiles } = this.deps;
    const step = token.step;
    switch (step) {
      case 'seal':
        return performSealAsync(token, signer, now);
      case 'timestamp':
        return performTimestampAsync(token, credentials.tsa(token.operatorId, now), { policyOid: config.tsaPolicyOid, genTime: now });
      case 'deliver':
        return performDeliver(token, await reader.chainStarted(token.correspondenceId), now);
      case 'archive': {
        const [chain, submission, certifiedSteps] = await Promise.all([
          reader.chainStarted(token.correspondenceId),
          reader.submission(token.correspondenceId),
          reader.certifiedSteps(token.correspondenceId),
        ]);
        return performArchive({
          token,
          chain,
          submission,
          certifiedSteps,
          defaultRetentionYears: config.retentionYears,
          archiveDir: config.archiveDir,
          durable: durableFiles,
          now,
        });
      }
      case 'print-and-post': {
        const [chain, submission] = await Promise.all([reader.chainStarted(token.correspondenceId), reader.submission(token.correspondenceId)]);
        const recipients = new Map<string, PostalIdentity | undefined>();
        for (const recipientId of chain?.recipientIds ?? []) recipients.set(recipientId, await reader.postalIdentity(recipientId));
        return performPrintAndPost({
          token,
          chain,
          recipients,
          ...(submission ? { parts: submission.parts } : {}),
          // Named after the token, so that a retried attempt finds the job its first attempt wrote.
          printJobId: nameBasedId(`print-job:${token.tokenId}`),
          printJobsDir: config.printJobsDir,
          durable: durableFiles,
          now,
        });
      }
      default:
        return assertNever(step, 'processing step');
    }
  }

  private async append(streamId: string, events: readonly DomainEvent[], context: JobContext, outcome: JobOutcome): Promise<JobOutcome> {
    const occurredAt = this.deps.clock.now().toISOString();
    const pending = events.map((event) => ({
      event,
      metadata: metadataOf(context, this.deps.ids.next(), occurredAt, PROCESSOR_SOURCE),
    }));
    try {
      await this.deps.store.append(streamId, pending, 'no-stream');
      return outcome;
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) return 'already-recorded';
      throw error;
    }
  }
}
