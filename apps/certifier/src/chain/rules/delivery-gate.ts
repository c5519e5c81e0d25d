import type {
  ChainRefused,
  ChainStarted,
  CorrespondenceKind,
  PlannedStep,
  Reason,
  SubjectVerdict,
  SubmissionRequested,
  TrustCheckAnswered,
} from '@sigillum/contracts';
import type { CheckedOperators, TrustCheckRequest } from '../../trust-check/trust-check.decider';
import type { SenderSession } from '../sender-session';

/**
 * The delivery gate (abstract: before delivery, the certification operator certifies that the trust attributes of
 * the sender, of each recipient and of every actor of the processing chain are valid for the level the delivery
 * requires; otherwise nothing is delivered). A submission starts its certified chain only when:
 *   1. it names a configured kind of correspondence, with that kind's level and consignment mode;
 *   2. it was made in an open session of the sender (a one-time code verified in that session: claim 1, 1g–1h);
 *   3. a trust check answered now — never inherited from the session — finds the sender, every recipient and the
 *      operator of every step of the kind's chain valid at the kind's level;
 *   4. the chain runs exactly the operators that check chose and found valid (one choice, made by the check).
 * Pure: the service loads the kinds, the session and the check's answer, calls these, and appends what they return.
 *
 * Rules named here: `kind.unknown`, `kind.level-mismatch`, `kind.consignment-mismatch`, `session.not-open`,
 * `operator.unavailable`, and every rule of a failing verdict of the check (policy/evaluate.ts).
 */

/** The trust check the gate asks for (its check id is the service's: one per correspondence). */
export type DeliveryCheck = Omit<TrustCheckRequest, 'checkId'>;

export type Admission =
  | { readonly admitted: false; readonly refusal: ChainRefused['data'] }
  | { readonly admitted: true; readonly kind: CorrespondenceKind; readonly check: DeliveryCheck };

export type GateDecision =
  { readonly passed: false; readonly refusal: ChainRefused['data'] } | { readonly passed: true; readonly started: ChainStarted['data'] };

type Submission = SubmissionRequested['data'];

const refusal = (submission: Submission, reasons: readonly Reason[], now: Date, answer?: TrustCheckAnswered['data']): ChainRefused['data'] => ({
  correspondenceId: submission.correspondenceId,
  checkId: answer?.checkId ?? null,
  policyId: answer?.policyId ?? null,
  reasons,
  refusedAt: now.toISOString(),
});

/** Rules 1 and 2, before any trust check: the kind as configured, then the sender's session. */
export function admitSubmission(submission: Submission, kinds: readonly CorrespondenceKind[], session: SenderSession, now: Date): Admission {
  const refuse = (reason: Reason): Admission => ({ admitted: false, refusal: refusal(submission, [reason], now) });
  const kind = kinds.find((candidate) => candidate.name === submission.kind);
  if (!kind) {
    return refuse({
      rule: 'kind.unknown',
      message: `unknown kind of correspondence "${submission.kind}"; known kinds: ${kinds.map((k) => k.name).join(', ')}`,
    });
  }
  if (kind.requiredLevel !== submission.requiredLevel) {
    return refuse({
      rule: 'kind.level-mismatch',
      message: `the kind ${kind.name} requires the level ${kind.requiredLevel}, the submission names ${submission.requiredLevel}`,
    });
  }
  if (kind.consignment !== submission.consignment) {
    return refuse({
      rule: 'kind.consignment-mismatch',
      message: `the kind ${kind.name} is handed over in ${kind.consignment} mode, the submission names ${submission.consignment}`,
    });
  }
  const notOpen = sessionProblem(session, submission.senderId, submission.requestedAt, now);
  if (notOpen) return refuse(notOpen);
  return { admitted: true, kind, check: deliveryCheck(submission, kind) };
}

/**
 * Rule 3, who must be valid at which level: the sender and every recipient as subjects, every operator of the
 * kind's chain with them (the check chooses them), all at the kind's required level.
 */
export function deliveryCheck(submission: Submission, kind: CorrespondenceKind): DeliveryCheck {
  return {
    purpose: 'delivery',
    subjectOf: submission.correspondenceId,
    subjects: [
      { partyId: submission.senderId, subjectRole: 'sender' },
      ...submission.recipientIds.map((partyId) => ({ partyId, subjectRole: 'recipient' as const })),
    ],
    levelRequired: kind.requiredLevel,
    correspondenceKind: kind.name,
  };
}

/**
 * Rules 3 and 4, on the check's answer: refused with the reasons of every failing verdict; refused with
 * `operator.unavailable` for a step whose operator the answer did not find valid (only possible when the answer was
 * recorded by an earlier attempt, whose choice of operators is not kept, and the directory changed since);
 * otherwise the chain starts with the operators the check chose.
 */
export function deliveryDecision(submission: Submission, kind: CorrespondenceKind, checked: CheckedOperators, now: Date): GateDecision {
  const { answer, operators } = checked;
  if (!answer.passed) return { passed: false, refusal: refusal(submission, reasonsOfFailedVerdicts(answer.verdicts), now, answer) };
  const certified = new Set(answer.verdicts.filter((verdict) => verdict.subjectRole === 'operator' && verdict.validNow).map((verdict) => verdict.partyId));
  const unchecked = kind.chain.filter((_, index) => !operators[index] || !certified.has(operators[index]!));
  if (unchecked.length > 0) {
    const reasons = unchecked.map((step): Reason => ({
      rule: 'operator.unavailable',
      message: `the operator of step ${step} changed during the check; send again`,
      subjectRole: 'operator',
    }));
    return { passed: false, refusal: refusal(submission, reasons, now, answer) };
  }
  const steps: PlannedStep[] = kind.chain.map((step, index) => ({ step, operatorId: operators[index]!, parameters: {} }));
  return {
    passed: true,
    started: {
      correspondenceId: submission.correspondenceId,
      senderId: submission.senderId,
      recipientIds: submission.recipientIds,
      kind: kind.name,
      requiredLevel: kind.requiredLevel,
      consignment: kind.consignment,
      checkId: answer.checkId,
      policyId: answer.policyId,
      steps,
      specimenDigest: submission.specimenDigest,
      submittedAt: submission.requestedAt,
      startedAt: now.toISOString(),
    },
  };
}

/** Each reason of each failing verdict, naming its party and role (never private data). */
export function reasonsOfFailedVerdicts(verdicts: readonly SubjectVerdict[]): Reason[] {
  const reasons: Reason[] = [];
  for (const verdict of verdicts.filter((candidate) => !candidate.validNow)) {
    const own =
      verdict.reasons.length > 0
        ? verdict.reasons
        : [{ rule: 'level.insufficient', message: `holds ${verdict.levelHeld ?? 'no level'}, ${verdict.levelRequired} required` }];
    for (const reason of own) {
      const partyId = reason.partyId ?? (verdict.partyId || undefined);
      const subjectRole = reason.subjectRole ?? verdict.subjectRole;
      reasons.push({ rule: reason.rule, message: reason.message, ...(partyId ? { partyId } : {}), subjectRole });
    }
  }
  return reasons;
}

const notOpen = (senderId: string, message: string): Reason => ({ rule: 'session.not-open', message, partyId: senderId, subjectRole: 'sender' });

/**
 * Rule 2: why the submission was not made in an open session of the sender (no submission without a one-time code
 * verified in the current session), or null when it was: the session opened before `submittedAt` and had neither
 * ended nor passed its absolute expiry by then, and the submission is not dated after `now`.
 */
export function sessionProblem(session: SenderSession, senderId: string, submittedAt: string, now: Date): Reason | null {
  if (session.status === 'unknown') return notOpen(senderId, 'the submission names no session of the domicile');
  if (session.userId !== senderId) return notOpen(senderId, `session ${session.sessionId} is not a session of the sender`);
  if (session.openedAt === null) return notOpen(senderId, `session ${session.sessionId} was never opened with a verified one-time code`);
  const at = Date.parse(submittedAt);
  if (!(at <= now.getTime())) return notOpen(senderId, `the submission is dated ${submittedAt}, after now`);
  if (at < Date.parse(session.openedAt)) return notOpen(senderId, `session ${session.sessionId} opened after the submission`);
  if (session.endedAt !== null && Date.parse(session.endedAt) <= at) return notOpen(senderId, `session ${session.sessionId} had ended at ${session.endedAt}`);
  if (session.absoluteExpiresAt !== null && Date.parse(session.absoluteExpiresAt) <= at) {
    return notOpen(senderId, `session ${session.sessionId} had expired at ${session.absoluteExpiresAt}`);
  }
  return null;
}
