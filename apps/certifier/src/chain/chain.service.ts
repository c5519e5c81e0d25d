import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  CHAIN_CATEGORY,
  foldEvents,
  type ChainEvent,
  type ChainRefused,
  CLOCK,
  type Clock,
  type CorrespondenceKind,
  DomainError,
  eventsOf,
  ID_GENERATOR,
  type IdGenerator,
  JOB_CATEGORY,
  type JobEvent,
  PARTY_CATEGORY,
  type PartyEvent,
  type ProcessingStep,
  readStepFailed,
  readTokenAcknowledged,
  readTokenReturned,
  type Reason,
  type RecordedEvent,
  SESSION_CATEGORY,
  ShapeError,
  type StepFailed,
  type StepParameters,
  streamIdOf,
  type SubmissionRequested,
  type TokenAcknowledged,
  type TokenReturned,
} from '@sigillum/contracts';
import { type CommandContext, commandHandler, EVENT_STORE, type EventStore, type HandleCommand } from '@sigillum/eventstore';
import { nameBasedId } from '@sigillum/runtime';
import { KnownCertificates } from '../certificates/known-certificates';
import { RevokedCertificates } from '../certificates/revoked-certificates';
import { CERTIFIER_SOURCE } from '../certifier.source';
import { CERTIFIER_SIGNER, type CertifierSigner } from '../signing/certifier-signer';
import { FoldedStreamCache } from '@sigillum/eventstore';
import { TrustCheckService } from '../trust-check/trust-check.service';
import { CHAIN_CONFIG, type ChainConfig } from './chain.config';
import { type ChainCommand, chainDecider, type ChainState, type IssuedToken, openTokenOf, type TokenRecord } from './chain.decider';
import { certificatesNamedBy, checkReturnAsync, standingOf, stepFailedReasons } from './compliance';
import { HostedOperators } from './hosted-operators';
import { type OperatorFacts, operatorFactsFold } from './operator-facts';
import { chainRetryRefusals, operatorRefusals, retryRefused } from './rules/chain-retry';
import { admitSubmission, deliveryDecision } from './rules/delivery-gate';
import { atDeadline, type DeadlineKind, tokenDeadlines } from './rules/token-deadlines';
import { senderSessionFold } from './sender-session';
import { CertifiedSignatureVerifier } from './signatures';

/** What a token asks for, before it gets an id, times and a signature. */
interface TokenOrder {
  readonly correspondenceId: string;
  readonly stepIndex: number;
  readonly step: ProcessingStep;
  readonly attempt: number;
  readonly operatorId: string;
  readonly inputDigest: string;
  readonly parameters: StepParameters;
}

/** The delivery gate's check id of a correspondence: one per correspondence, so a redelivered submission finds it. */
export const deliveryCheckId = (correspondenceId: string): string => nameBasedId(`delivery:${correspondenceId}`);

export const chainStreamOf = (correspondenceId: string): string => streamIdOf(CHAIN_CATEGORY, correspondenceId);
export const jobStreamOf = (tokenId: string): string => streamIdOf(JOB_CATEGORY, tokenId);

/** A chain that has started: its steps and tokens, running or ended. */
type StartedChain = Extract<ChainState, { status: 'running' | 'failed' }>;

/**
 * The certified processing chain of each correspondence (`chain-<correspondenceId>`): the delivery gate, one
 * certification token per step signed by the certifier, the check of each return against the token and the
 * operator's specification, deadlines, the retry/reroute policy, and manual retries of failed chains by staff.
 * Every transition is ONE append.
 */
@Injectable()
export class ChainService {
  private readonly log = new Logger('Chain');
  private readonly handle: HandleCommand<ChainCommand, ChainState, ChainEvent>;
  private readonly operators: FoldedStreamCache<OperatorFacts, PartyEvent>;
  readonly verifier: CertifiedSignatureVerifier;
  private readonly hosting: HostedOperators;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    @Inject(CHAIN_CONFIG) private readonly config: ChainConfig,
    @Inject(CERTIFIER_SIGNER) private readonly signer: CertifierSigner,
    private readonly trust: TrustCheckService,
    revocations: RevokedCertificates,
    private readonly certificates: KnownCertificates,
  ) {
    // A return, a timer and a redelivery may race on one chain: re-read and decide again a few times.
    this.handle = commandHandler(chainDecider, { store, clock, ids, source: CERTIFIER_SOURCE, maxAttempts: 8 });
    this.operators = new FoldedStreamCache(store, operatorFactsFold);
    this.hosting = new HostedOperators(store);
    this.verifier = new CertifiedSignatureVerifier(signer.caCertificatePem, revocations, certificates);
  }

  get kinds(): readonly CorrespondenceKind[] {
    return this.trust.kinds;
  }

  async state(correspondenceId: string): Promise<ChainState> {
    return (await this.handle.load(chainStreamOf(correspondenceId))).state;
  }

  async jobEvents(tokenId: string): Promise<RecordedEvent<JobEvent>[]> {
    return (await this.store.readStream(jobStreamOf(tokenId))) as RecordedEvent<JobEvent>[];
  }

  //////// 1. The delivery gate (the rule: rules/delivery-gate.ts)

  async onSubmissionRequested(request: SubmissionRequested['data'], context: CommandContext): Promise<void> {
    const streamId = chainStreamOf(request.correspondenceId);
    // Redelivered: the first decision stands (the decider would ignore a second one anyway).
    if ((await this.store.readStream(streamId, { maxCount: 1 })).length > 0) return;
    const now = this.clock.now();
    const admission = admitSubmission(request, this.kinds, await this.senderSession(request.sessionId), now);
    if (!admission.admitted) return this.refuse(streamId, admission.refusal, context);
    // The check chooses the chain's operators and checks them with the parties, now (never inherited from the session).
    const checked = await this.trust.checkWithOperators({ ...admission.check, checkId: deliveryCheckId(request.correspondenceId) }, context);
    const decision = deliveryDecision(request, admission.kind, checked, now);
    if (!decision.passed) return this.refuse(streamId, decision.refusal, context);

    const { started } = decision;
    const first = started.steps[0];
    const firstToken = await this.issueToken(
      {
        correspondenceId: started.correspondenceId,
        stepIndex: 0,
        step: first.step,
        attempt: 1,
        operatorId: first.operatorId,
        inputDigest: started.specimenDigest,
        parameters: first.parameters,
      },
      now,
    );
    await this.handle(streamId, { type: 'StartChain', started, firstToken }, context);
  }

  private async refuse(streamId: string, refusal: ChainRefused['data'], context: CommandContext): Promise<void> {
    await this.handle(streamId, { type: 'RefuseChain', refusal }, context);
    this.log.log(`Chain ${refusal.correspondenceId} refused: ${refusal.reasons.map((reason) => reason.rule).join(', ')}`);
  }

  private async senderSession(sessionId: string) {
    return foldEvents(senderSessionFold, eventsOf(SESSION_CATEGORY, await this.store.readStream(streamIdOf(SESSION_CATEGORY, sessionId))));
  }

  //////// 2. Tokens

  /**
   * A certification token signed by the certifier, its deadlines from the operator's specification in force
   * (`tokenDeadlines`, rules/token-deadlines.ts): an operator that no longer offers the step still gets its token and
   * its return is refused (`spec.step-not-allowed`), so the retry policy, not silence, takes over.
   */
  private async issueToken(order: TokenOrder, now: Date): Promise<IssuedToken> {
    const { state } = await this.operators.load(streamIdOf(PARTY_CATEGORY, order.operatorId));
    const specification = state.facts.status === 'registered' ? state.facts.specification : null;
    const stepSpec = specification?.steps.find((candidate) => candidate.step === order.step);
    const { acknowledgeBy, returnBy } = tokenDeadlines(now, stepSpec, this.config.ackSeconds);
    const token = {
      tokenId: this.ids.next(),
      correspondenceId: order.correspondenceId,
      stepIndex: order.stepIndex,
      step: order.step,
      attempt: order.attempt,
      operatorId: order.operatorId,
      specificationVersion: specification?.version ?? 0,
      inputDigest: order.inputDigest,
      parameters: order.parameters,
      issuedAt: now.toISOString(),
      acknowledgeBy,
      returnBy,
    };
    return { token, signature: await this.tokenSignature(token) };
  }

  /** The certifier's signature over a token: by `x5t#S256` for an operator a Sigillum processor hosts, else `x5c` (hosted-operators.ts). */
  private async tokenSignature(token: { readonly operatorId: string }): Promise<string> {
    // Signed on libuv's threadpool (off the event loop); the token is appended only once its signature is made.
    return (await this.hosting.isHosted(token.operatorId)) ? this.signer.signDetachedByReferenceAsync(token) : this.signer.signDetachedAsync(token);
  }

  /** The next attempt's token, or null when the step's attempts are spent (the chain then fails). */
  private async retryToken(state: Extract<ChainState, { status: 'running' }>, open: TokenRecord, now: Date): Promise<IssuedToken | null> {
    if (open.token.attempt >= this.config.maxAttempts) return null;
    return this.nextAttemptToken(open, await this.retryOperator(state, open), now);
  }

  /** Who performs the next attempt of `last`'s step: another operator when CHAIN_REROUTE finds one, else the same. */
  private retryOperator(state: StartedChain, last: TokenRecord): Promise<string> {
    return this.config.reroute ? this.rerouteTarget(state, last) : Promise.resolve(last.token.operatorId);
  }

  /** The token of the next attempt of `last`'s step, on the same input, for `operatorId` (with its parameters when it is the same operator). */
  private nextAttemptToken(last: TokenRecord, operatorId: string, now: Date): Promise<IssuedToken> {
    const { token } = last;
    return this.issueToken(
      {
        correspondenceId: token.correspondenceId,
        stepIndex: token.stepIndex,
        step: token.step,
        attempt: token.attempt + 1,
        operatorId,
        inputDigest: token.inputDigest,
        parameters: operatorId === token.operatorId ? token.parameters : {},
      },
      now,
    );
  }

  /**
   * Another processing operator offering the step that holds the kind's level now (one not tried on this step first),
   * as a trust check would judge it; the same operator when there is none.
   */
  private async rerouteTarget(state: StartedChain, open: TokenRecord): Promise<string> {
    const { token } = open;
    const tried = new Set(state.steps[token.stepIndex].tokens.map((record) => record.token.operatorId));
    const others = this.trust.operatorCandidates(token.step).filter((candidate) => candidate !== token.operatorId);
    const ordered = [...others.filter((candidate) => !tried.has(candidate)), ...others.filter((candidate) => tried.has(candidate))];
    for (const candidate of ordered) {
      const verdict = await this.trust.evaluateOperator(candidate, token.step, state.started.requiredLevel);
      if (verdict.validNow) return candidate;
    }
    return token.operatorId;
  }

  //////// 3. Returns and compliance

  /** A TokenReturned of `job-<tokenId>`: certify the step and issue the next token, or record why not and retry. */
  async onTokenReturned(returned: TokenReturned['data'], recordedAt: string | null, context: CommandContext): Promise<void> {
    const state = await this.state(returned.correspondenceId);
    const standing = standingOf(state, returned.tokenId);
    if (standing.kind === 'ignored') {
      this.log.warn(
        `Return of token ${returned.tokenId} (correspondence ${returned.correspondenceId}) ignored: ${standing.reason.rule}: ${standing.reason.message}`,
      );
      return;
    }
    if (state.status !== 'running') return;
    const { token } = standing.record;
    const [job, operator] = await Promise.all([this.jobEvents(token.tokenId), this.operators.load(streamIdOf(PARTY_CATEGORY, token.operatorId))]);
    const acknowledgement = firstAcknowledgement(job);
    // Certificates named by x5t#S256 are looked up in the log first if this process has not learnt them yet.
    await this.certificates.ensureKnown(certificatesNamedBy(acknowledgement, returned));
    const now = this.clock.now();
    const reasons = await checkReturnAsync(
      {
        token,
        recipientIds: state.started.recipientIds,
        acknowledgement,
        returned,
        returnRecordedAt: recordedAt,
        specification: operator.state.facts.status === 'registered' ? operator.state.facts.specification : null,
        operatorKeys: operator.state.keys.status === 'registered' ? operator.state.keys.keys : {},
        now,
      },
      this.verifier,
    );
    const streamId = chainStreamOf(token.correspondenceId);
    if (reasons.length > 0) {
      this.log.warn(
        `Step ${token.step} of ${token.correspondenceId} (token ${token.tokenId}) is not compliant: ${reasons.map((reason) => reason.rule).join(', ')}`,
      );
      const retryToken = await this.retryToken(state, standing.record, now);
      await this.handle(
        streamId,
        { type: 'RecordNonCompliance', tokenId: token.tokenId, reasons, retryToken, maxAttempts: this.config.maxAttempts, now },
        context,
      );
      return;
    }
    const next = state.started.steps[token.stepIndex + 1];
    const outputDigest = returned.report.outputDigest;
    const nextToken = next
      ? await this.issueToken(
          {
            correspondenceId: token.correspondenceId,
            stepIndex: token.stepIndex + 1,
            step: next.step,
            attempt: 1,
            operatorId: next.operatorId,
            inputDigest: outputDigest,
            parameters: next.parameters,
          },
          now,
        )
      : null;
    await this.handle(
      streamId,
      {
        type: 'CertifyStep',
        tokenId: token.tokenId,
        acknowledgedAt: acknowledgement!.acknowledgedAt,
        returnedAt: returned.returnedAt,
        outputDigest,
        nextToken,
        now,
      },
      context,
    );
  }

  /** The operator could not perform the step: non-compliant with its reasons, then the retry policy. */
  async onStepFailed(failed: StepFailed['data'], context: CommandContext): Promise<void> {
    const state = await this.state(failed.correspondenceId);
    const standing = standingOf(state, failed.tokenId);
    if (standing.kind === 'ignored') {
      this.log.warn(
        `Failure of token ${failed.tokenId} (correspondence ${failed.correspondenceId}) ignored: ${standing.reason.rule}: ${standing.reason.message}`,
      );
      return;
    }
    if (state.status !== 'running') return;
    const { token } = standing.record;
    const now = this.clock.now();
    const reasons = stepFailedReasons(token, failed.reasons);
    const retryToken = await this.retryToken(state, standing.record, now);
    await this.handle(
      chainStreamOf(token.correspondenceId),
      { type: 'RecordNonCompliance', tokenId: token.tokenId, reasons, retryToken, maxAttempts: this.config.maxAttempts, now },
      context,
    );
  }

  //////// 4. Deadlines (the rule: rules/token-deadlines.ts)

  /**
   * A deadline of a token passed (fired by a durable timer, never early). Nothing when the token is settled; otherwise
   * what `atDeadline` says of the job: nothing, settle it from the job, or StepDeadlineMissed and the retry policy.
   */
  async onDeadline(correspondenceId: string, tokenId: string, missing: DeadlineKind, context: CommandContext): Promise<void> {
    const state = await this.state(correspondenceId);
    const open = openTokenOf(state);
    if (state.status !== 'running' || !open || open.token.tokenId !== tokenId) return;
    const job = await this.jobEvents(tokenId);
    const settledByJob = job.find((recorded) => recorded.event.type === 'TokenReturned' || recorded.event.type === 'StepFailed');
    const outcome = atDeadline(open.token, missing, { acknowledgedAt: firstAcknowledgement(job)?.acknowledgedAt ?? null, settled: settledByJob !== undefined });
    if (outcome === 'nothing') return;
    if (outcome === 'settle-from-job') return this.settleFromJob(settledByJob!, context);
    const now = this.clock.now();
    const retryToken = await this.retryToken(state, open, now);
    await this.handle(
      chainStreamOf(correspondenceId),
      { type: 'RecordDeadlineMissed', tokenId, missing, retryToken, maxAttempts: this.config.maxAttempts, now },
      context,
    );
  }

  /** Settles a token from what its job stream holds (the same checks as the consumer; a malformed return is non-compliant). */
  private async settleFromJob(recorded: RecordedEvent<JobEvent>, context: CommandContext): Promise<void> {
    try {
      if (recorded.event.type === 'TokenReturned') await this.onTokenReturned(readTokenReturned(recorded.event.data), recorded.metadata.occurredAt, context);
      else await this.onStepFailed(readStepFailed(recorded.event.data), context);
    } catch (error) {
      if (!(error instanceof ShapeError)) throw error;
      const data = recorded.event.data as { correspondenceId?: unknown };
      const state = typeof data?.correspondenceId === 'string' ? await this.state(data.correspondenceId) : chainDecider.initialState();
      const open = openTokenOf(state);
      const tokenId = recorded.streamId.slice(JOB_CATEGORY.length + 1);
      if (state.status !== 'running' || !open || open.token.tokenId !== tokenId) return;
      const now = this.clock.now();
      const reasons: Reason[] = [
        {
          rule: 'report.malformed',
          message: `the ${recorded.event.type} of token ${tokenId} does not have its documented shape: ${error.message}`,
          partyId: open.token.operatorId,
          subjectRole: 'operator',
        },
      ];
      const retryToken = await this.retryToken(state, open, now);
      await this.handle(
        chainStreamOf(open.token.correspondenceId),
        { type: 'RecordNonCompliance', tokenId, reasons, retryToken, maxAttempts: this.config.maxAttempts, now },
        context,
      );
    }
  }

  //////// 5. Manual retries (the rule: rules/chain-retry.ts)

  /**
   * A staff member retries a failed chain: refused (409, every reason) unless the policy allows it; otherwise
   * ChainRetried and the failed step's next token in one append. The token is an automatic retry's (the same choice
   * of operator, signature and deadlines), and reaches its operator as every StepTokenIssued does: on the chain
   * events, which also schedule its deadlines (ChainConsumer). A replayed or concurrent retry finds the chain running
   * when it appends (optimistic concurrency on the stream) and is refused: one token per retry.
   */
  async retry(correspondenceId: string, request: { readonly reason: string; readonly requestedBy: string }, context: CommandContext): Promise<IssuedToken> {
    const state = await this.require(correspondenceId);
    const maxManualRetries = this.config.manualRetries;
    const refusals = chainRetryRefusals(state, { maxManualRetries });
    if (refusals.length > 0 || state.status !== 'failed') throw retryRefused(correspondenceId, refusals);
    const { stepIndex, step } = state.failure;
    const last = state.steps[stepIndex].tokens.at(-1);
    if (!last) throw new DomainError('CHAIN.TOKEN_INVALID', `Step ${stepIndex} of correspondence ${correspondenceId} failed without a token`, 'invalid');
    const operatorId = await this.retryOperator(state, last);
    const operator = await this.trust.evaluateOperator(operatorId, step, state.started.requiredLevel);
    const ineligible = operatorRefusals(operator, step);
    if (ineligible.length > 0) throw retryRefused(correspondenceId, ineligible);
    const now = this.clock.now();
    const retryToken = await this.nextAttemptToken(last, operatorId, now);
    await this.handle(
      chainStreamOf(correspondenceId),
      { type: 'RetryChain', reason: request.reason, requestedBy: request.requestedBy, retryToken, operator, maxManualRetries, now },
      context,
    );
    this.log.log(
      `Chain ${correspondenceId} retried by ${request.requestedBy}: step ${stepIndex} (${step}), attempt ${retryToken.token.attempt}, operator ${operatorId}`,
    );
    return retryToken;
  }

  /** Throws a 404 DomainError for a correspondence without a chain. */
  async require(correspondenceId: string): Promise<Exclude<ChainState, { status: 'none' }>> {
    const state = await this.state(correspondenceId);
    if (state.status === 'none') throw new DomainError('CHAIN.NOT_FOUND', `No certified chain for correspondence ${correspondenceId}`, 'not-found');
    return state;
  }
}

/** The first acknowledgement in a job stream whose shape holds, if any. */
export function firstAcknowledgement(job: readonly RecordedEvent<JobEvent>[]): TokenAcknowledged['data'] | null {
  for (const recorded of job) {
    if (recorded.event.type !== 'TokenAcknowledged') continue;
    try {
      return readTokenAcknowledged(recorded.event.data);
    } catch (error) {
      if (!(error instanceof ShapeError)) throw error;
    }
  }
  return null;
}
