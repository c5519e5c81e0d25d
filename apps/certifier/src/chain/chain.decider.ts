import {
  assertNever,
  type CertificationToken,
  type ChainCompleted,
  type ChainEvent,
  type ChainFailed,
  type ChainRefused,
  type ChainRetried,
  type ChainStarted,
  type Decider,
  DomainError,
  type ProcessingStep,
  type Reason,
  type StepCertified,
  type StepDeadlineMissed,
  type StepNonCompliant,
  type StepTokenIssued,
} from '@sigillum/contracts';
import { type OperatorVerdict, retryRefused, retryRefusals } from './rules/chain-retry';
import { deadlineOf, deadlinePassed, deadlinesInOrder, missedDeadlineReason, missedDeadlineRule } from './rules/token-deadlines';

/** A token as the certifier issues it: the token and its detached JWS. */
export type IssuedToken = StepTokenIssued['data'];

export type TokenStatus = 'open' | 'certified' | 'non-compliant' | 'deadline-missed';

/** One token of a step and what became of it. */
export interface TokenRecord {
  readonly token: CertificationToken;
  readonly signature: string;
  readonly status: TokenStatus;
  /** Why it did not count (non-compliant, deadline missed); empty otherwise. */
  readonly reasons: readonly Reason[];
  readonly missing: StepDeadlineMissed['data']['missing'] | null;
  readonly certified: StepCertified['data'] | null;
  /** When the certifier settled it (certified, non-compliant or deadline missed); null while open. */
  readonly settledAt: string | null;
}

export interface StepRecord {
  readonly stepIndex: number;
  readonly step: ProcessingStep;
  /** The planned operator (a retry may go to another: see each token). */
  readonly operatorId: string;
  readonly status: 'pending' | 'in-progress' | 'certified' | 'failed';
  readonly tokens: readonly TokenRecord[];
  readonly outputDigest: string | null;
}

interface Started {
  readonly started: ChainStarted['data'];
  readonly steps: readonly StepRecord[];
  /** The manual retries of the chain after a failure, in order (rules/chain-retry.ts). */
  readonly retries: readonly ChainRetried['data'][];
}

/** The chain of one correspondence: `chain-<correspondenceId>`. */
export type ChainState =
  | { readonly status: 'none' }
  | { readonly status: 'refused'; readonly refusal: ChainRefused['data'] }
  | ({ readonly status: 'running' } & Started)
  | ({ readonly status: 'completed'; readonly completion: ChainCompleted['data'] } & Started)
  | ({ readonly status: 'failed'; readonly failure: ChainFailed['data'] } & Started);

export type ChainCommand =
  /** The delivery gate passed: the plan and the first step's token. */
  | { readonly type: 'StartChain'; readonly started: ChainStarted['data']; readonly firstToken: IssuedToken }
  /** The delivery gate refused (or the submission could not be checked). */
  | { readonly type: 'RefuseChain'; readonly refusal: ChainRefused['data'] }
  /** The return of token `tokenId` complied: certify it and issue the next step's token (null after the last step). */
  | {
      readonly type: 'CertifyStep';
      readonly tokenId: string;
      readonly acknowledgedAt: string;
      readonly returnedAt: string;
      readonly outputDigest: string;
      readonly nextToken: IssuedToken | null;
      readonly now: Date;
    }
  /** The return did not comply, or the operator reported a failure: record why, then retry (a new token) or fail. */
  | {
      readonly type: 'RecordNonCompliance';
      readonly tokenId: string;
      readonly reasons: readonly Reason[];
      readonly retryToken: IssuedToken | null;
      readonly maxAttempts: number;
      readonly now: Date;
    }
  /** A deadline of token `tokenId` passed without an acknowledgement (or a return): record it, then retry or fail. */
  | {
      readonly type: 'RecordDeadlineMissed';
      readonly tokenId: string;
      readonly missing: StepDeadlineMissed['data']['missing'];
      readonly retryToken: IssuedToken | null;
      readonly maxAttempts: number;
      readonly now: Date;
    }
  /**
   * A staff member retries the failed chain (rules/chain-retry.ts): ChainRetried and the failed step's new token
   * (next attempt, same input) in one decision, or refused with every reason.
   */
  | {
      readonly type: 'RetryChain';
      readonly reason: string;
      /** The staff member's subject. */
      readonly requestedBy: string;
      readonly retryToken: IssuedToken;
      /** The trust check's verdict, now, on the operator the new token goes to. */
      readonly operator: OperatorVerdict;
      /** CHAIN_MANUAL_RETRIES. */
      readonly maxManualRetries: number;
      readonly now: Date;
    };

const initialState = (): ChainState => ({ status: 'none' });

/** The token awaiting its operator's return, if the chain runs. */
export function openTokenOf(state: ChainState): TokenRecord | undefined {
  if (state.status !== 'running') return undefined;
  const step = state.steps.find((candidate) => candidate.status === 'in-progress');
  return step?.tokens.find((token) => token.status === 'open');
}

/** Every token the chain issued, by id. */
export function tokenOf(state: ChainState, tokenId: string): TokenRecord | undefined {
  if (state.status === 'none' || state.status === 'refused') return undefined;
  for (const step of state.steps) {
    const token = step.tokens.find((candidate) => candidate.token.tokenId === tokenId);
    if (token) return token;
  }
  return undefined;
}

const invalid = (message: string): never => {
  throw new DomainError('CHAIN.TOKEN_INVALID', message, 'invalid');
};

/** A token that does not follow from the chain is a programming error upstream: refuse it loudly. */
function assertTokenFits(
  issued: IssuedToken,
  expected: { correspondenceId: string; stepIndex: number; step: ProcessingStep; attempt: number; inputDigest: string; operatorId?: string },
): void {
  const { token } = issued;
  if (token.correspondenceId !== expected.correspondenceId)
    invalid(`Token ${token.tokenId} names correspondence ${token.correspondenceId}, not ${expected.correspondenceId}`);
  if (token.stepIndex !== expected.stepIndex || token.step !== expected.step) {
    invalid(`Token ${token.tokenId} is for step ${token.stepIndex} (${token.step}); the chain expects step ${expected.stepIndex} (${expected.step})`);
  }
  if (token.attempt !== expected.attempt) invalid(`Token ${token.tokenId} is attempt ${token.attempt}; the chain expects attempt ${expected.attempt}`);
  if (token.inputDigest !== expected.inputDigest)
    invalid(`Token ${token.tokenId} takes input ${token.inputDigest}; the chain's input is ${expected.inputDigest}`);
  if (expected.operatorId !== undefined && token.operatorId !== expected.operatorId) {
    invalid(`Token ${token.tokenId} goes to operator ${token.operatorId}; the plan names ${expected.operatorId}`);
  }
  if (!deadlinesInOrder(token)) {
    invalid(`Token ${token.tokenId} has deadlines out of order (issued ${token.issuedAt}, acknowledge by ${token.acknowledgeBy}, return by ${token.returnBy})`);
  }
  if (issued.signature.length === 0) invalid(`Token ${token.tokenId} is not signed`);
}

const tokenIssued = (issued: IssuedToken): StepTokenIssued => ({
  type: 'StepTokenIssued',
  version: 1,
  data: { token: issued.token, signature: issued.signature },
});

/**
 * After a failed attempt: a new token for the same step and input while attempts remain and a token was prepared;
 * otherwise the chain fails with the reasons of this last failure.
 */
function retryOrFail(open: TokenRecord, reasons: readonly Reason[], retryToken: IssuedToken | null, maxAttempts: number, now: Date): ChainEvent[] {
  const { token } = open;
  if (token.attempt >= maxAttempts || retryToken === null) {
    return [
      {
        type: 'ChainFailed',
        version: 1,
        data: { correspondenceId: token.correspondenceId, stepIndex: token.stepIndex, step: token.step, reasons, failedAt: now.toISOString() },
      },
    ];
  }
  assertTokenFits(retryToken, {
    correspondenceId: token.correspondenceId,
    stepIndex: token.stepIndex,
    step: token.step,
    attempt: token.attempt + 1,
    inputDigest: token.inputDigest,
  });
  return [tokenIssued(retryToken)];
}

function decide(command: ChainCommand, state: ChainState): ChainEvent[] {
  switch (command.type) {
    case 'StartChain': {
      // Started or refused already (a redelivered submission): the first decision stands.
      if (state.status !== 'none') return [];
      const { started, firstToken } = command;
      if (started.steps.length === 0)
        throw new DomainError('CHAIN.EMPTY', `Correspondence ${started.correspondenceId}: a chain needs at least one step`, 'invalid');
      const first = started.steps[0];
      assertTokenFits(firstToken, {
        correspondenceId: started.correspondenceId,
        stepIndex: 0,
        step: first.step,
        attempt: 1,
        inputDigest: started.specimenDigest,
        operatorId: first.operatorId,
      });
      return [{ type: 'ChainStarted', version: 1, data: started }, tokenIssued(firstToken)];
    }
    case 'RefuseChain': {
      if (state.status !== 'none') return [];
      if (command.refusal.reasons.length === 0)
        throw new DomainError('CHAIN.REFUSAL_WITHOUT_REASON', 'A refusal must say why (at least one reason)', 'invalid');
      return [{ type: 'ChainRefused', version: 1, data: command.refusal }];
    }
    case 'CertifyStep': {
      const open = openTokenOf(state);
      // Settled already (a redelivered return) or superseded by a retry: nothing to certify.
      if (state.status !== 'running' || !open || open.token.tokenId !== command.tokenId) return [];
      const { token } = open;
      const certified: StepCertified = {
        type: 'StepCertified',
        version: 1,
        data: {
          ...tokenFacts(token),
          inputDigest: token.inputDigest,
          outputDigest: command.outputDigest,
          acknowledgedAt: command.acknowledgedAt,
          returnedAt: command.returnedAt,
          certifiedAt: command.now.toISOString(),
        },
      };
      const next = state.started.steps[token.stepIndex + 1];
      if (!next) {
        if (command.nextToken !== null) invalid(`Step ${token.stepIndex} is the last of the chain: no token follows it`);
        return [
          certified,
          {
            type: 'ChainCompleted',
            version: 1,
            data: { correspondenceId: token.correspondenceId, finalDigest: command.outputDigest, completedAt: command.now.toISOString() },
          },
        ];
      }
      if (command.nextToken === null) return invalid(`Step ${token.stepIndex + 1} (${next.step}) follows: certifying step ${token.stepIndex} needs its token`);
      // The digest chain: the next step takes exactly what this one certified.
      assertTokenFits(command.nextToken, {
        correspondenceId: token.correspondenceId,
        stepIndex: token.stepIndex + 1,
        step: next.step,
        attempt: 1,
        inputDigest: command.outputDigest,
        operatorId: next.operatorId,
      });
      return [certified, tokenIssued(command.nextToken)];
    }
    case 'RecordNonCompliance': {
      const open = openTokenOf(state);
      if (state.status !== 'running' || !open || open.token.tokenId !== command.tokenId) return [];
      if (command.reasons.length === 0)
        throw new DomainError('CHAIN.NON_COMPLIANCE_WITHOUT_REASON', 'A non-compliant step must say why (at least one reason)', 'invalid');
      const { token } = open;
      const nonCompliant: StepNonCompliant = {
        type: 'StepNonCompliant',
        version: 1,
        data: {
          ...tokenFacts(token),
          reasons: command.reasons,
          recordedAt: command.now.toISOString(),
        },
      };
      return [nonCompliant, ...retryOrFail(open, command.reasons, command.retryToken, command.maxAttempts, command.now)];
    }
    case 'RecordDeadlineMissed': {
      const open = openTokenOf(state);
      if (state.status !== 'running' || !open || open.token.tokenId !== command.tokenId) return [];
      const { token } = open;
      const deadline = deadlineOf(token, command.missing);
      // Never early: a deadline is missed only once it has passed.
      if (!deadlinePassed(token, command.missing, command.now)) {
        throw new DomainError(
          'CHAIN.DEADLINE_NOT_REACHED',
          `Token ${token.tokenId}: the ${command.missing} deadline ${deadline} has not passed yet`,
          'conflict',
        );
      }
      const missed: StepDeadlineMissed = {
        type: 'StepDeadlineMissed',
        version: 1,
        data: {
          ...tokenFacts(token),
          missing: command.missing,
          deadline,
          recordedAt: command.now.toISOString(),
        },
      };
      return [missed, ...retryOrFail(open, [missedDeadlineReason(token, command.missing)], command.retryToken, command.maxAttempts, command.now)];
    }
    case 'RetryChain':
      return retry(command, state);
    default:
      return assertNever(command, 'chain command');
  }
}

/** A manual retry: refused with every reason of the policy, or ChainRetried and the failed step's next token. */
function retry(command: Extract<ChainCommand, { type: 'RetryChain' }>, state: ChainState): ChainEvent[] {
  const { retryToken, operator, now } = command;
  const refusals = retryRefusals(state, { maxManualRetries: command.maxManualRetries }, operator);
  if (refusals.length > 0 || state.status !== 'failed') throw retryRefused(retryToken.token.correspondenceId, refusals);
  if (command.reason.trim().length === 0 || command.requestedBy.length === 0)
    throw new DomainError('CHAIN.RETRY_WITHOUT_REASON', 'A retry must say who asked for it and why', 'invalid');
  const { correspondenceId, stepIndex, step } = state.failure;
  const last = state.steps[stepIndex]?.tokens.at(-1);
  if (!last) return invalid(`Step ${stepIndex} of correspondence ${correspondenceId} failed without a token: nothing to retry from`);
  if (operator.partyId !== retryToken.token.operatorId)
    invalid(`Token ${retryToken.token.tokenId} goes to operator ${retryToken.token.operatorId}; the verdict is about ${operator.partyId}`);
  const attempt = last.token.attempt + 1;
  assertTokenFits(retryToken, { correspondenceId, stepIndex, step, attempt, inputDigest: last.token.inputDigest });
  const retried: ChainRetried = {
    type: 'ChainRetried',
    version: 1,
    data: { correspondenceId, stepIndex, attempt, requestedBy: command.requestedBy, reason: command.reason, retriedAt: now.toISOString() },
  };
  return [retried, tokenIssued(retryToken)];
}

/** What every event about one token names: the token, its correspondence, step and operator. */
function tokenFacts(token: CertificationToken) {
  const { tokenId, correspondenceId, stepIndex, step, operatorId } = token;
  return { tokenId, correspondenceId, stepIndex, step, operatorId };
}

/** Replaces the record of token `tokenId` (and its step) in a started chain. */
function settle(
  state: Started,
  tokenId: string,
  update: (token: TokenRecord) => TokenRecord,
  stepUpdate: (step: StepRecord) => StepRecord = (step) => step,
): Started {
  return {
    ...state,
    steps: state.steps.map((step) =>
      step.tokens.some((token) => token.token.tokenId === tokenId)
        ? stepUpdate({ ...step, tokens: step.tokens.map((token) => (token.token.tokenId === tokenId ? update(token) : token)) })
        : step,
    ),
  };
}

function startedOf(state: ChainState): Started | undefined {
  return state.status === 'running' || state.status === 'completed' || state.status === 'failed'
    ? { started: state.started, steps: state.steps, retries: state.retries }
    : undefined;
}

function evolve(state: ChainState, event: ChainEvent): ChainState {
  switch (event.type) {
    case 'ChainStarted':
      return {
        status: 'running',
        started: event.data,
        steps: event.data.steps.map((planned, stepIndex) => ({
          stepIndex,
          step: planned.step,
          operatorId: planned.operatorId,
          status: 'pending',
          tokens: [],
          outputDigest: null,
        })),
        retries: [],
      };
    case 'ChainRefused':
      return state.status === 'none' ? { status: 'refused', refusal: event.data } : state;
    case 'StepTokenIssued': {
      if (state.status !== 'running') return state;
      const { token, signature } = event.data;
      const record: TokenRecord = { token, signature, status: 'open', reasons: [], missing: null, certified: null, settledAt: null };
      return {
        ...state,
        steps: state.steps.map((step) => (step.stepIndex === token.stepIndex ? { ...step, status: 'in-progress', tokens: [...step.tokens, record] } : step)),
      };
    }
    case 'StepCertified': {
      if (state.status !== 'running') return state;
      const { tokenId, outputDigest, certifiedAt } = event.data;
      return {
        status: 'running',
        ...settle(
          state,
          tokenId,
          (token) => ({ ...token, status: 'certified', certified: event.data, settledAt: certifiedAt }),
          (step) => ({ ...step, status: 'certified', outputDigest }),
        ),
      };
    }
    case 'StepNonCompliant': {
      if (state.status !== 'running') return state;
      const { tokenId, reasons, recordedAt } = event.data;
      return { status: 'running', ...settle(state, tokenId, (token) => ({ ...token, status: 'non-compliant', reasons, settledAt: recordedAt })) };
    }
    case 'StepDeadlineMissed': {
      if (state.status !== 'running') return state;
      const { tokenId, missing, recordedAt, operatorId, deadline } = event.data;
      const reason: Reason = {
        rule: missedDeadlineRule(missing),
        message: `no ${missing} by ${deadline}`,
        partyId: operatorId,
        subjectRole: 'operator',
      };
      return {
        status: 'running',
        ...settle(state, tokenId, (token) => ({ ...token, status: 'deadline-missed', missing, reasons: [reason], settledAt: recordedAt })),
      };
    }
    case 'ChainCompleted': {
      const started = startedOf(state);
      return started ? { status: 'completed', ...started, completion: event.data } : state;
    }
    case 'ChainFailed': {
      const started = startedOf(state);
      if (!started) return state;
      const steps = started.steps.map((step) => (step.stepIndex === event.data.stepIndex ? { ...step, status: 'failed' as const } : step));
      return { status: 'failed', started: started.started, steps, retries: started.retries, failure: event.data };
    }
    case 'ChainRetried': {
      // The chain runs again from the failed step; its new token is the StepTokenIssued that follows.
      if (state.status !== 'failed') return state;
      const { stepIndex } = event.data;
      return {
        status: 'running',
        started: state.started,
        steps: state.steps.map((step) => (step.stepIndex === stepIndex ? { ...step, status: 'in-progress' as const } : step)),
        retries: [...state.retries, event.data],
      };
    }
    default:
      return assertNever(event, 'chain event');
  }
}

export const chainDecider: Decider<ChainCommand, ChainState, ChainEvent> = { decide, evolve, initialState };
