import { DomainError, type ProcessingStep, type Reason, type SubjectVerdict } from '@sigillum/contracts';

/**
 * Retrying a failed chain by hand (staff `ops` or `admin`: `POST /chains/:correspondenceId/retry`): the failed step
 * runs again with a new token (the step's next attempt, same input), ChainRetried and that token in one append. A
 * chain may be retried only when:
 *   1. it failed — not running, completed, refused or unknown;
 *   2. the content had reached its recipients before the failure: a hand-over step (deliver, print-and-post) was
 *      certified before the failed step. A chain that failed before that gave its recipients ContentConsignmentFailure,
 *      terminal evidence (EN 319 522; `TERMINAL_EVIDENCE`, evidence/evidence-names.ts): no evidence of a delivery may
 *      follow it, so that correspondence is sent again, never retried. After the hand-over, what remains (the
 *      archive) may run again without touching what the recipients hold;
 *   3. fewer manual retries than CHAIN_MANUAL_RETRIES were made on this chain;
 *   4. the operator the new token goes to (the failed token's, or another one when CHAIN_REROUTE chooses so) is valid
 *      now for the step at the kind's level, as a trust check judges it (its verdict comes in with the command).
 * No deadline of the correspondence limits a retry: the chain knows none (ChainStarted carries none), and the only
 * one the correspondence has, each recipient's acceptance window, runs from its delivery, before any retry (rule 2).
 * Pure: the service loads the chain and asks the trust check about the operator; the decider applies `retryRefusals`
 * when it appends, so a retry replayed, or raced by another one, finds the chain running (`chain.retry.not-failed`).
 *
 * Rules named here: `chain.retry.not-failed`, `chain.retry.consignment-failed`, `chain.retry.exhausted`,
 * `chain.retry.operator-ineligible`.
 */

/** What the rules read of a step of the chain (the decider's StepRecord). */
interface StepFacts {
  readonly stepIndex: number;
  readonly step: ProcessingStep;
  readonly status: 'pending' | 'in-progress' | 'certified' | 'failed';
  readonly tokens: readonly { readonly token: { readonly attempt: number } }[];
}

/** What the rules read of the chain: the decider's ChainState fits it (the rules do not import the decider). */
export type ChainFacts =
  | { readonly status: 'none' }
  | { readonly status: 'refused'; readonly refusal: { readonly refusedAt: string } }
  | { readonly status: 'running'; readonly steps: readonly StepFacts[] }
  | { readonly status: 'completed'; readonly completion: { readonly completedAt: string } }
  | {
      readonly status: 'failed';
      readonly failure: { readonly stepIndex: number; readonly step: ProcessingStep };
      readonly steps: readonly StepFacts[];
      /** The manual retries made so far. */
      readonly retries: readonly unknown[];
    };

/** Steps whose certification hands the correspondence over to its recipients (the domicile then records the delivery). */
export const HAND_OVER_STEPS: ReadonlySet<ProcessingStep> = new Set<ProcessingStep>(['deliver', 'print-and-post']);

export interface RetryPolicy {
  /** CHAIN_MANUAL_RETRIES: manual retries of one chain at most (0: never). */
  readonly maxManualRetries: number;
}

/** What the trust check says of the operator the new token goes to, now, for the step at the kind's level. */
export type OperatorVerdict = Pick<SubjectVerdict, 'partyId' | 'validNow' | 'reasons'>;

const refusal = (rule: string, message: string, partyId?: string): Reason => ({
  rule,
  message,
  ...(partyId ? { partyId, subjectRole: 'operator' as const } : {}),
});

function notFailed(state: ChainFacts): Reason | null {
  switch (state.status) {
    case 'failed':
      return null;
    case 'none':
      return refusal('chain.retry.not-failed', 'the correspondence has no chain: there is nothing to retry');
    case 'refused':
      return refusal(
        'chain.retry.not-failed',
        `the delivery gate refused the correspondence at ${state.refusal.refusedAt}: no step ran, there is nothing to retry`,
      );
    case 'completed':
      return refusal('chain.retry.not-failed', `the chain completed at ${state.completion.completedAt}: there is nothing to retry`);
    case 'running': {
      const step = state.steps.find((candidate) => candidate.status === 'in-progress');
      const attempt = step?.tokens[step.tokens.length - 1]?.token.attempt;
      return refusal(
        'chain.retry.not-failed',
        step
          ? `the chain is running (step ${step.stepIndex}, ${step.step}, attempt ${attempt ?? 1}): it has not failed`
          : 'the chain is running: it has not failed',
      );
    }
  }
}

/**
 * Rules 1 to 3, from the chain alone: why it may not be retried, empty when it may (rule 4, the operator, is then
 * asked about). Not failed: that reason only.
 */
export function chainRetryRefusals(state: ChainFacts, policy: RetryPolicy): Reason[] {
  const notYet = notFailed(state);
  if (notYet || state.status !== 'failed') return notYet ? [notYet] : [];
  const reasons: Reason[] = [];
  const { stepIndex, step } = state.failure;
  const handedOver = state.steps.slice(0, stepIndex).some((candidate) => HAND_OVER_STEPS.has(candidate.step) && candidate.status === 'certified');
  if (!handedOver) {
    reasons.push(
      refusal(
        'chain.retry.consignment-failed',
        `the chain failed at step ${stepIndex} (${step}), before the content reached its recipients: their evidence says the consignment failed, for good; send the correspondence again`,
      ),
    );
  }
  const made = state.retries.length;
  if (made >= policy.maxManualRetries) {
    reasons.push(
      refusal(
        'chain.retry.exhausted',
        policy.maxManualRetries === 0
          ? 'manual retries are turned off (CHAIN_MANUAL_RETRIES=0)'
          : `the chain was already retried ${made} time${made === 1 ? '' : 's'}, the most CHAIN_MANUAL_RETRIES allows (${policy.maxManualRetries})`,
      ),
    );
  }
  return reasons;
}

/** Rule 4: the operator the new token goes to must be valid now; its verdict's own rules are named. */
export function operatorRefusals(operator: OperatorVerdict, step: ProcessingStep): Reason[] {
  if (operator.validNow) return [];
  const rules = operator.reasons.map((reason) => reason.rule);
  return [
    refusal(
      'chain.retry.operator-ineligible',
      `operator ${operator.partyId}, whom the new token would go to, may not perform the ${step} step now${rules.length > 0 ? ` (${[...new Set(rules)].join(', ')})` : ''}`,
      operator.partyId,
    ),
  ];
}

/** Every rule, as the decider applies it when it appends: empty when the chain may be retried with this operator. */
export function retryRefusals(state: ChainFacts, policy: RetryPolicy, operator: OperatorVerdict): Reason[] {
  const chain = chainRetryRefusals(state, policy);
  if (state.status !== 'failed') return chain;
  return [...chain, ...operatorRefusals(operator, state.failure.step)];
}

/** The refusal of a retry, with every reason (409). */
export function retryRefused(correspondenceId: string, reasons: readonly Reason[]): DomainError {
  return new DomainError(
    'CHAIN.RETRY_REFUSED',
    `The chain of correspondence ${correspondenceId} may not be retried: ${reasons.map((reason) => reason.rule).join(', ')}`,
    'conflict',
    reasons,
  );
}
