import type { Reason } from '@sigillum/contracts';

/**
 * The operator cannot perform a step (no certified key, no address, no earlier output...): recorded as
 * StepFailed with these reasons. Anything else thrown while performing is a fault to retry, not a failure.
 */
export class StepFailure extends Error {
  constructor(readonly reasons: readonly Reason[]) {
    super(reasons.map((reason) => `${reason.rule}: ${reason.message}`).join('; '));
    this.name = 'StepFailure';
  }
}

/** A StepFailure with one reason about the operator performing the step. */
export function stepFailure(operatorId: string, rule: string, message: string, partyId?: string): StepFailure {
  return new StepFailure([partyId === undefined ? { rule, message, partyId: operatorId, subjectRole: 'operator' } : { rule, message, partyId }]);
}
