import type { CertificationToken, OperatorStepSpec, Reason, StepDeadlineMissed } from '@sigillum/contracts';

/**
 * The token deadlines (abstract: each step's certification token is sent, acknowledged and returned; design
 * choice: each within a deadline): when a token's acknowledgement and return are due, what is late, and that a
 * deadline is missed only once it has passed (never early). Pure: no clock, store, bus or Nest; times come in.
 *
 * Rules named here: `ack.late`, `deadline.exceeded` (a return checked against its token),
 * `deadline.acknowledgement-missed`, `deadline.return-missed` (a deadline passed with nothing due recorded).
 */

/** Which deadline of a token: receipt (acknowledgement) or the work (return). */
export type DeadlineKind = StepDeadlineMissed['data']['missing'];

/** Both deadlines of a token, in the order they fall. */
export const DEADLINE_KINDS: readonly DeadlineKind[] = ['acknowledgement', 'return'];

/** The times of a token the deadlines are about. */
export type TokenTimes = Pick<CertificationToken, 'issuedAt' | 'acknowledgeBy' | 'returnBy'>;

export interface TokenDeadlines {
  readonly acknowledgeBy: string;
  readonly returnBy: string;
}

const addSeconds = (at: Date, seconds: number) => new Date(at.getTime() + seconds * 1000).toISOString();

/**
 * The deadlines of a token issued at `issuedAt`: return by the step's `maxDurationSeconds` in the operator's
 * specification in force (CHAIN_ACK_SECONDS when its specification no longer offers the step: its return is then
 * refused as `spec.step-not-allowed`, and the retry policy takes over rather than silence); acknowledge by
 * CHAIN_ACK_SECONDS, never after the return is due (receipt comes before the work).
 */
export function tokenDeadlines(issuedAt: Date, stepSpec: Pick<OperatorStepSpec, 'maxDurationSeconds'> | undefined, ackSeconds: number): TokenDeadlines {
  const workSeconds = stepSpec ? stepSpec.maxDurationSeconds : ackSeconds;
  return { acknowledgeBy: addSeconds(issuedAt, Math.min(ackSeconds, workSeconds)), returnBy: addSeconds(issuedAt, workSeconds) };
}

/** Whether a token's times are in order: issued ≤ acknowledge by ≤ return by (a token out of order is never issued). */
export function deadlinesInOrder(token: TokenTimes): boolean {
  return Date.parse(token.issuedAt) <= Date.parse(token.acknowledgeBy) && Date.parse(token.acknowledgeBy) <= Date.parse(token.returnBy);
}

/** The time a deadline of the token falls at. */
export const deadlineOf = (token: TokenTimes, missing: DeadlineKind): string => (missing === 'acknowledgement' ? token.acknowledgeBy : token.returnBy);

/** Never early: a deadline is passed at its time and after, not a millisecond before. */
export const deadlinePassed = (token: TokenTimes, missing: DeadlineKind, now: Date): boolean => now.getTime() >= Date.parse(deadlineOf(token, missing));

/** What to wait for, and until when: one timer per deadline of the token. */
export function dueDeadlines(token: Pick<TokenTimes, 'acknowledgeBy' | 'returnBy'>): { readonly missing: DeadlineKind; readonly dueAt: string }[] {
  return DEADLINE_KINDS.map((missing) => ({ missing, dueAt: missing === 'acknowledgement' ? token.acknowledgeBy : token.returnBy }));
}

/** A lateness found in a return: its rule and why. */
export interface Lateness {
  readonly rule: 'ack.late' | 'deadline.exceeded';
  readonly message: string;
}

const time = (value: unknown): number => (typeof value === 'string' ? Date.parse(value) : Number.NaN);

/** `ack.late` when the acknowledgement is dated after acknowledgeBy (or not dated at all); null in time. */
export function lateAcknowledgement(token: TokenTimes, acknowledgedAt: unknown): Lateness | null {
  if (time(acknowledgedAt) <= time(token.acknowledgeBy)) return null;
  return { rule: 'ack.late', message: `acknowledged at ${String(acknowledgedAt)}, after the deadline ${token.acknowledgeBy}` };
}

/**
 * `deadline.exceeded` when the return is dated after returnBy, or — whatever it says — was recorded by the processor
 * after returnBy (`recordedAt`, when known); null in time.
 */
export function lateReturn(token: TokenTimes, returnedAt: unknown, recordedAt: string | null): Lateness | null {
  const returnBy = time(token.returnBy);
  if (!(time(returnedAt) <= returnBy)) return { rule: 'deadline.exceeded', message: `returned at ${String(returnedAt)}, after the deadline ${token.returnBy}` };
  if (recordedAt !== null && time(recordedAt) > returnBy)
    return { rule: 'deadline.exceeded', message: `the return was recorded at ${recordedAt}, after the deadline ${token.returnBy}` };
  return null;
}

/** `deadline.exceeded` when the work (startedMs to finishedMs, in order) took longer than the step's specification allows. */
export function overlongStep(startedMs: number, finishedMs: number, stepSpec: Pick<OperatorStepSpec, 'maxDurationSeconds'> | undefined): Lateness | null {
  if (!stepSpec || finishedMs - startedMs <= stepSpec.maxDurationSeconds * 1000) return null;
  return {
    rule: 'deadline.exceeded',
    message: `the step took ${Math.round((finishedMs - startedMs) / 1000)} s, more than the ${stepSpec.maxDurationSeconds} s its specification allows`,
  };
}

/** What the token's job showed when a deadline's timer fired. */
export interface JobAtDeadline {
  /** When the first acknowledgement of a valid shape says it was made; null without one. */
  readonly acknowledgedAt: string | null;
  /** The job holds a return or a failure of the operator. */
  readonly settled: boolean;
}

/**
 * A deadline of the open token came due: `nothing` when what was due is in the job (an acknowledgement in time, or
 * already a return: the return's check judges a late acknowledgement), `settle-from-job` when the return deadline
 * finds a return or a failure still unsettled (e.g. its message dead-lettered: it is checked now, so no token stays
 * open for ever), `missed` otherwise.
 */
export function atDeadline(token: TokenTimes, missing: DeadlineKind, job: JobAtDeadline): 'nothing' | 'settle-from-job' | 'missed' {
  if (missing === 'acknowledgement') {
    const inTime = job.acknowledgedAt !== null && lateAcknowledgement(token, job.acknowledgedAt) === null;
    return inTime || job.settled ? 'nothing' : 'missed';
  }
  return job.settled ? 'settle-from-job' : 'missed';
}

/** The rule of a missed deadline. */
export const missedDeadlineRule = (missing: DeadlineKind): string =>
  missing === 'acknowledgement' ? 'deadline.acknowledgement-missed' : 'deadline.return-missed';

/** Why a token's step failed when a deadline passed: the operator did not acknowledge (or return) by then. */
export function missedDeadlineReason(token: CertificationToken, missing: DeadlineKind): Reason {
  const deadline = deadlineOf(token, missing);
  return {
    rule: missedDeadlineRule(missing),
    message: `operator ${token.operatorId} did not ${missing === 'acknowledgement' ? 'acknowledge' : 'return'} token ${token.tokenId} (step ${token.step}, attempt ${token.attempt}) by ${deadline}`,
    partyId: token.operatorId,
    subjectRole: 'operator',
  };
}
