import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  CHAIN_CATEGORY,
  type ChainEvent,
  type ChainStarted,
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
  type PlannedStep,
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
  type SubjectVerdict,
  type SubmissionRequested,
  type TokenAcknowledged,
  type TokenReturned,
} from '@sigillum/contracts';
import { type CommandContext, commandHandler, EVENT_STORE, type EventStore, type HandleCommand } from '@sigillum/eventstore';
import { nameBasedId } from '@sigillum/runtime';
import { RevokedCertificates } from '../certificates/revoked-certificates';
import { CERTIFIER_SOURCE } from '../certifier.source';
import { CERTIFIER_SIGNER, type CertifierSigner } from '../signing/certifier-signer';
import { FoldedStreamCache } from '../state/folded-stream-cache';
import { TrustCheckService } from '../trust-check/trust-check.service';
import { CHAIN_CONFIG, type ChainConfig } from './chain.config';
import { type ChainCommand, chainDecider, type ChainState, type IssuedToken, openTokenOf, type TokenRecord } from './chain.decider';
import { checkReturn, standingOf, stepFailedReasons } from './compliance';
import { type OperatorFacts, operatorFactsFold } from './operator-facts';
import { senderSessionFold, sessionProblem } from './sender-session';
import { CertifiedSignatureVerifier } from './signatures';

export type DeadlineKind = 'acknowledgement' | 'return';

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

const addSeconds = (at: Date, seconds: number) => new Date(at.getTime() + seconds * 1000).toISOString();

/** The delivery gate's check id of a correspondence: one per correspondence, so a redelivered submission finds it. */
export const deliveryCheckId = (correspondenceId: string): string => nameBasedId(`delivery:${correspondenceId}`);

export const chainStreamOf = (correspondenceId: string): string => streamIdOf(CHAIN_CATEGORY, correspondenceId);
export const jobStreamOf = (tokenId: string): string => streamIdOf(JOB_CATEGORY, tokenId);

/**
 * The certified processing chain of each correspondence (`chain-<correspondenceId>`): the delivery gate, one
 * certification token per step signed by the certifier, the check of each return against the token and the
 * operator's specification, deadlines, and the retry/reroute policy. Every transition is ONE append.
 */
@Injectable()
export class ChainService {
  private readonly log = new Logger('Chain');
  private readonly handle: HandleCommand<ChainCommand, ChainState, ChainEvent>;
  private readonly operators: FoldedStreamCache<OperatorFacts, PartyEvent>;
  readonly verifier: CertifiedSignatureVerifier;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    @Inject(CHAIN_CONFIG) private readonly config: ChainConfig,
    @Inject(CERTIFIER_SIGNER) private readonly signer: CertifierSigner,
    private readonly trust: TrustCheckService,
    revocations: RevokedCertificates,
  ) {
    // A return, a timer and a redelivery may race on one chain: re-read and decide again a few times.
    this.handle = commandHandler(chainDecider, { store, clock, ids, source: CERTIFIER_SOURCE, maxAttempts: 8 });
    this.operators = new FoldedStreamCache(store, operatorFactsFold);
    this.verifier = new CertifiedSignatureVerifier(signer.caCertificatePem, revocations);
  }

  get kinds(): readonly CorrespondenceKind[] {
    return this.trust.kinds;
  }

  async state(correspondenceId: string): Promise<ChainState> {
    const recorded = await this.store.readStream(chainStreamOf(correspondenceId));
    let state = chainDecider.initialState();
    for (const { event } of recorded) state = chainDecider.evolve(state, event as ChainEvent);
    return state;
  }

  async jobEvents(tokenId: string): Promise<RecordedEvent<JobEvent>[]> {
    return (await this.store.readStream(jobStreamOf(tokenId))) as RecordedEvent<JobEvent>[];
  }

  //////// 1. The delivery gate

  async onSubmissionRequested(request: SubmissionRequested['data'], context: CommandContext): Promise<void> {
    const { correspondenceId } = request;
    const streamId = chainStreamOf(correspondenceId);
    // Redelivered: the first decision stands (the decider would ignore a second one anyway).
    if ((await this.store.readStream(streamId, { maxCount: 1 })).length > 0) return;
    const now = this.clock.now();
    const refuse = async (reasons: readonly Reason[], checkId: string | null = null, policyId: string | null = null) => {
      await this.handle(streamId, { type: 'RefuseChain', refusal: { correspondenceId, checkId, policyId, reasons, refusedAt: now.toISOString() } }, context);
      this.log.log(`Chain ${correspondenceId} refused: ${reasons.map((reason) => reason.rule).join(', ')}`);
    };

    const kind = this.trust.kindNamed(request.kind);
    if (!kind) {
      return refuse([{ rule: 'kind.unknown', message: `unknown kind of correspondence "${request.kind}"; known kinds: ${this.kinds.map((k) => k.name).join(', ')}` }]);
    }
    if (kind.requiredLevel !== request.requiredLevel) {
      return refuse([{ rule: 'kind.level-mismatch', message: `the kind ${kind.name} requires the level ${kind.requiredLevel}, the submission names ${request.requiredLevel}` }]);
    }
    if (kind.consignment !== request.consignment) {
      return refuse([{ rule: 'kind.consignment-mismatch', message: `the kind ${kind.name} is handed over in ${kind.consignment} mode, the submission names ${request.consignment}` }]);
    }

    const session = await this.senderSession(request.sessionId);
    const notOpen = sessionProblem(session, request.senderId, request.requestedAt, now);
    if (notOpen) return refuse([notOpen]);

    // The operators the check below puts in (the same choice it makes), planned before it answers.
    const operatorIds = await Promise.all(kind.chain.map((step) => this.trust.operatorFor(step)));
    // Re-checked now, never inherited from the session.
    const answer = await this.trust.check(
      {
        purpose: 'delivery',
        subjectOf: correspondenceId,
        subjects: [
          { partyId: request.senderId, subjectRole: 'sender' },
          ...request.recipientIds.map((partyId) => ({ partyId, subjectRole: 'recipient' as const })),
        ],
        levelRequired: kind.requiredLevel,
        correspondenceKind: kind.name,
        checkId: deliveryCheckId(correspondenceId),
      },
      context,
    );
    if (!answer.passed) return refuse(reasonsOfFailedVerdicts(answer.verdicts), answer.checkId, answer.policyId);
    const certifiedOperators = new Set(answer.verdicts.filter((v) => v.subjectRole === 'operator' && v.validNow).map((v) => v.partyId));
    const unplanned = kind.chain.filter((_, index) => !operatorIds[index] || !certifiedOperators.has(operatorIds[index]!));
    if (unplanned.length > 0) {
      // The directory changed between the plan and the check: refuse rather than run an unchecked operator.
      return refuse(
        unplanned.map((step) => ({ rule: 'operator.unavailable', message: `the operator of step ${step} changed during the check; send again`, subjectRole: 'operator' as const })),
        answer.checkId,
        answer.policyId,
      );
    }

    const steps: PlannedStep[] = kind.chain.map((step, index) => ({ step, operatorId: operatorIds[index]!, parameters: {} }));
    const started: ChainStarted['data'] = {
      correspondenceId,
      senderId: request.senderId,
      recipientIds: request.recipientIds,
      kind: kind.name,
      requiredLevel: kind.requiredLevel,
      consignment: kind.consignment,
      checkId: answer.checkId,
      policyId: answer.policyId,
      steps,
      specimenDigest: request.specimenDigest,
      submittedAt: request.requestedAt,
      startedAt: now.toISOString(),
    };
    const first = steps[0];
    const firstToken = await this.issueToken(
      { correspondenceId, stepIndex: 0, step: first.step, attempt: 1, operatorId: first.operatorId, inputDigest: request.specimenDigest, parameters: first.parameters },
      now,
    );
    await this.handle(streamId, { type: 'StartChain', started, firstToken }, context);
  }

  private async senderSession(sessionId: string) {
    const recorded = await this.store.readStream(streamIdOf(SESSION_CATEGORY, sessionId));
    let session = senderSessionFold.initialState();
    for (const event of eventsOf(SESSION_CATEGORY, recorded)) session = senderSessionFold.evolve(session, event);
    return session;
  }

  //////// 2. Tokens

  /**
   * A certification token signed by the certifier. Deadlines come from the operator's specification in force; an
   * operator that no longer offers the step still gets its token (returnBy = acknowledgeBy = issuedAt + CHAIN_ACK_SECONDS) and its return is refused
   * (`spec.step-not-allowed`), so the retry policy, not silence, takes over.
   */
  private async issueToken(order: TokenOrder, now: Date): Promise<IssuedToken> {
    const { state } = await this.operators.load(streamIdOf(PARTY_CATEGORY, order.operatorId));
    const specification = state.facts.status === 'registered' ? state.facts.specification : null;
    const stepSpec = specification?.steps.find((candidate) => candidate.step === order.step);
    const returnBy = addSeconds(now, stepSpec ? stepSpec.maxDurationSeconds : this.config.ackSeconds);
    // Receipt is due before the work is: never after the return deadline.
    const acknowledgeBy = addSeconds(now, Math.min(this.config.ackSeconds, stepSpec ? stepSpec.maxDurationSeconds : this.config.ackSeconds));
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
    return { token, signature: this.signer.signDetached(token) };
  }

  /** The next attempt's token, or null when the step's attempts are spent (the chain then fails). */
  private async retryToken(state: Extract<ChainState, { status: 'running' }>, open: TokenRecord, now: Date): Promise<IssuedToken | null> {
    const { token } = open;
    if (token.attempt >= this.config.maxAttempts) return null;
    const operatorId = this.config.reroute ? await this.rerouteTarget(state, open) : token.operatorId;
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
  private async rerouteTarget(state: Extract<ChainState, { status: 'running' }>, open: TokenRecord): Promise<string> {
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
      this.log.warn(`Return of token ${returned.tokenId} (correspondence ${returned.correspondenceId}) ignored: ${standing.reason.rule}: ${standing.reason.message}`);
      return;
    }
    if (state.status !== 'running') return;
    const { token } = standing.record;
    const [job, operator] = await Promise.all([this.jobEvents(token.tokenId), this.operators.load(streamIdOf(PARTY_CATEGORY, token.operatorId))]);
    const acknowledgement = firstAcknowledgement(job);
    const now = this.clock.now();
    const reasons = checkReturn(
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
      this.log.warn(`Step ${token.step} of ${token.correspondenceId} (token ${token.tokenId}) is not compliant: ${reasons.map((reason) => reason.rule).join(', ')}`);
      const retryToken = await this.retryToken(state, standing.record, now);
      await this.handle(streamId, { type: 'RecordNonCompliance', tokenId: token.tokenId, reasons, retryToken, maxAttempts: this.config.maxAttempts, now }, context);
      return;
    }
    const next = state.started.steps[token.stepIndex + 1];
    const outputDigest = returned.report.outputDigest;
    const nextToken = next
      ? await this.issueToken(
          { correspondenceId: token.correspondenceId, stepIndex: token.stepIndex + 1, step: next.step, attempt: 1, operatorId: next.operatorId, inputDigest: outputDigest, parameters: next.parameters },
          now,
        )
      : null;
    await this.handle(
      streamId,
      { type: 'CertifyStep', tokenId: token.tokenId, acknowledgedAt: acknowledgement!.acknowledgedAt, returnedAt: returned.returnedAt, outputDigest, nextToken, now },
      context,
    );
  }

  /** The operator could not perform the step: non-compliant with its reasons, then the retry policy. */
  async onStepFailed(failed: StepFailed['data'], context: CommandContext): Promise<void> {
    const state = await this.state(failed.correspondenceId);
    const standing = standingOf(state, failed.tokenId);
    if (standing.kind === 'ignored') {
      this.log.warn(`Failure of token ${failed.tokenId} (correspondence ${failed.correspondenceId}) ignored: ${standing.reason.rule}: ${standing.reason.message}`);
      return;
    }
    if (state.status !== 'running') return;
    const { token } = standing.record;
    const now = this.clock.now();
    const reasons = stepFailedReasons(token, failed.reasons);
    const retryToken = await this.retryToken(state, standing.record, now);
    await this.handle(chainStreamOf(token.correspondenceId), { type: 'RecordNonCompliance', tokenId: token.tokenId, reasons, retryToken, maxAttempts: this.config.maxAttempts, now }, context);
  }

  //////// 4. Deadlines

  /**
   * A deadline of a token passed (fired by a durable timer, never early). Nothing when the token is settled, or when
   * the job shows what was due; otherwise StepDeadlineMissed and the retry policy. At the return deadline a return
   * still unsettled (e.g. one whose message was dead-lettered) is checked here, so no token stays open for ever.
   */
  async onDeadline(correspondenceId: string, tokenId: string, missing: DeadlineKind, context: CommandContext): Promise<void> {
    const state = await this.state(correspondenceId);
    const open = openTokenOf(state);
    if (state.status !== 'running' || !open || open.token.tokenId !== tokenId) return;
    const job = await this.jobEvents(tokenId);
    const settledByJob = job.find((recorded) => recorded.event.type === 'TokenReturned' || recorded.event.type === 'StepFailed');
    if (missing === 'acknowledgement') {
      const acknowledgement = firstAcknowledgement(job);
      // Acknowledged in time, or already returned (the return's check judges a late acknowledgement).
      if ((acknowledgement && Date.parse(acknowledgement.acknowledgedAt) <= Date.parse(open.token.acknowledgeBy)) || settledByJob) return;
    } else if (settledByJob) {
      await this.settleFromJob(settledByJob, context);
      return;
    }
    const now = this.clock.now();
    const retryToken = await this.retryToken(state, open, now);
    await this.handle(chainStreamOf(correspondenceId), { type: 'RecordDeadlineMissed', tokenId, missing, retryToken, maxAttempts: this.config.maxAttempts, now }, context);
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
      const reasons: Reason[] = [{ rule: 'report.malformed', message: `the ${recorded.event.type} of token ${tokenId} does not have its documented shape: ${error.message}`, partyId: open.token.operatorId, subjectRole: 'operator' }];
      const retryToken = await this.retryToken(state, open, now);
      await this.handle(chainStreamOf(open.token.correspondenceId), { type: 'RecordNonCompliance', tokenId, reasons, retryToken, maxAttempts: this.config.maxAttempts, now }, context);
    }
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

/** Each reason of each failing verdict, naming its party and role (never private data). */
export function reasonsOfFailedVerdicts(verdicts: readonly SubjectVerdict[]): Reason[] {
  const reasons: Reason[] = [];
  for (const verdict of verdicts.filter((candidate) => !candidate.validNow)) {
    const own = verdict.reasons.length > 0 ? verdict.reasons : [{ rule: 'level.insufficient', message: `holds ${verdict.levelHeld ?? 'no level'}, ${verdict.levelRequired} required` }];
    for (const reason of own) {
      const partyId = reason.partyId ?? (verdict.partyId || undefined);
      const subjectRole = reason.subjectRole ?? verdict.subjectRole;
      reasons.push({ rule: reason.rule, message: reason.message, ...(partyId ? { partyId } : {}), subjectRole });
    }
  }
  return reasons;
}
