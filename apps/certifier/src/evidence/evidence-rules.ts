import { assertNever, type CertificationToken, type Reason, type TrustCheckAnswered } from '@sigillum/contracts';
import type { EvidenceName } from './evidence-names';
import {
  canonicalDigestOf,
  type EvidenceReason,
  evidenceReasonOf,
  type EvidenceRecord,
  type ProcessingTokenEntry,
  SHA256_DIGEST_METHOD,
  type TrustAttestation,
  type UserContentInfo,
} from './evidence-record';
import type { EvidenceContext, SourceEvent } from './evidence-sources';

/**
 * The evidence rules: which record, if any, each source event of a correspondence gives (`evaluate`), from the facts
 * the sources before it established (`learn`): the EN 319 522 event it is, its time, the recipients it concerns,
 * its reasons, and the refusals (a late answer is no answer, a source without its context is a bug). Pure; the
 * decider (evidence.decider.ts) chains the records and decides what to record.
 */

/** A record needs a fact from another stream that the command did not bring. */
export class MissingEvidenceContextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingEvidenceContextError';
  }
}

type RecipientPhase = 'pending' | 'notified' | 'accepted' | 'closed';

interface RecipientFacts {
  phase: RecipientPhase;
  expiresAt?: string;
}

/** What the evidence knows about the correspondence before a given source: rebuilt from the sources each time. */
export interface Facts {
  senderId: string | null;
  recipientIds: string[];
  mode: 'basic' | 'consent' | null;
  kind: string | null;
  requiredLevel: string | null;
  submissionTime: string | null;
  contentInfo: UserContentInfo | null;
  submissionRequested: boolean;
  submission: 'open' | 'accepted' | 'rejected';
  tokens: Map<string, { token: CertificationToken; signature: string }>;
  recipients: Map<string, RecipientFacts>;
}

/** What one source gives: a record to build (name, time, recipients, extra fields), a refusal, or nothing. */
export type Outcome =
  | {
      readonly kind: 'evidence';
      readonly name: EvidenceName;
      readonly eventTime: string;
      readonly recipients: readonly string[];
      readonly expiresAt?: string;
      /** The record's event-specific fields; only computed for a record to build (it may need context). */
      readonly details: () => Partial<EvidenceRecord>;
    }
  | { readonly kind: 'ignored'; readonly rule: string; readonly message: string }
  | { readonly kind: 'none' };

const none: Outcome = { kind: 'none' };
const ignored = (rule: string, message: string): Outcome => ({ kind: 'ignored', rule, message });
const evidence = (
  name: EvidenceName,
  eventTime: string,
  recipients: readonly string[],
  details: () => Partial<EvidenceRecord> = () => ({}),
  expiresAt?: string,
): Outcome => ({
  kind: 'evidence',
  name,
  eventTime,
  recipients,
  details: () => ({ ...(expiresAt ? { expiresAt } : {}), ...details() }),
  ...(expiresAt ? { expiresAt } : {}),
});

const instant = (iso: string) => Date.parse(iso);

function reasonsOrUnstated(reasons: readonly Reason[], what: string): EvidenceReason[] {
  if (reasons.length > 0) return reasons.map(evidenceReasonOf);
  // The contract makes reasons mandatory; a source without any still gets evidence that says so, never silence.
  return [evidenceReasonOf({ rule: 'reason.unstated', message: `${what} was recorded without a reason` })];
}

function trustAttestationOf(answer: TrustCheckAnswered['data']): TrustAttestation {
  return {
    checkId: answer.checkId,
    purpose: answer.purpose,
    policyId: answer.policyId,
    levelRequired: answer.levelRequired,
    passed: answer.passed,
    answeredAt: answer.answeredAt,
    verdicts: answer.verdicts.map((verdict) => ({
      partyId: verdict.partyId,
      subjectRole: verdict.subjectRole,
      levelHeld: verdict.levelHeld,
      levelRequired: verdict.levelRequired,
      validNow: verdict.validNow,
      reasons: verdict.reasons.map(evidenceReasonOf),
    })),
  };
}

export function newFacts(): Facts {
  return {
    senderId: null,
    recipientIds: [],
    mode: null,
    kind: null,
    requiredLevel: null,
    submissionTime: null,
    contentInfo: null,
    submissionRequested: false,
    submission: 'open',
    tokens: new Map(),
    recipients: new Map(),
  };
}

function setRecipients(facts: Facts, recipientIds: readonly string[]): void {
  if (facts.recipientIds.length > 0) return;
  facts.recipientIds = [...recipientIds];
  for (const id of recipientIds) facts.recipients.set(id, { phase: 'pending' });
}

/** A late answer (at or after the deadline) is not an answer: the window had closed. */
function lateAnswer(recipientId: string, expiresAt: string, at: string, what: string): Outcome {
  return evidence(
    'AcceptanceRejectionExpiry',
    at,
    [recipientId],
    () => ({
      EventReasons: [
        evidenceReasonOf({
          rule: 'acceptance.window-closed',
          message: `The recipient's ${what} at ${at} came after the acceptance window closed at ${expiresAt}`,
          partyId: recipientId,
          subjectRole: 'recipient',
        }),
      ],
    }),
    expiresAt,
  );
}

function trustCheckOf(context: EvidenceContext, checkId: string, evidenceName: string): TrustCheckAnswered['data'] {
  const answer = context.trustChecks[checkId];
  if (!answer) throw new MissingEvidenceContextError(`${evidenceName} needs the delivery gate's answer, trustcheck-${checkId}`);
  return answer;
}

/** Judges one source against the facts before it: which evidence it gives, to whom, or why none. */
export function evaluate(facts: Facts, source: SourceEvent, context: EvidenceContext): Outcome {
  const { event } = source;
  switch (event.type) {
    case 'SubmissionRequested': {
      if (facts.submissionRequested) return ignored('submission.duplicate', 'A submission was already evidenced for this correspondence');
      const d = event.data;
      return evidence('sigillum:CorrespondenceValidatedBySender', d.requestedAt, d.recipientIds, () => ({
        validation: { specimenDigest: d.specimenDigest, sessionId: d.sessionId, proof: d.validationProof },
      }));
    }
    case 'ChainStarted': {
      if (facts.submission !== 'open') return ignored('submission.already-decided', `The submission was already ${facts.submission}`);
      const d = event.data;
      return evidence('SubmissionAcceptance', d.startedAt, d.recipientIds, () => ({
        trustAttestation: trustAttestationOf(trustCheckOf(context, d.checkId, 'SubmissionAcceptance')),
      }));
    }
    case 'ChainRefused': {
      if (facts.submission !== 'open') return ignored('submission.already-decided', `The submission was already ${facts.submission}`);
      const d = event.data;
      return evidence('SubmissionRejection', d.refusedAt, facts.recipientIds, () => ({
        EventReasons: reasonsOrUnstated(d.reasons, 'The refusal of the submission'),
        ...(d.checkId === null ? {} : { trustAttestation: trustAttestationOf(trustCheckOf(context, d.checkId, 'SubmissionRejection')) }),
      }));
    }
    case 'StepTokenIssued': {
      const { token } = event.data;
      return evidence('sigillum:CertificationTokenIssued', token.issuedAt, facts.recipientIds, () => ({
        certificationToken: token as unknown as Record<string, unknown>,
        tokenDigest: canonicalDigestOf(token),
      }));
    }
    case 'StepCertified': {
      const d = event.data;
      const issued = facts.tokens.get(d.tokenId);
      if (!issued) return ignored('token.unknown', `Token ${d.tokenId} was certified but its issue is not in the chain`);
      return evidence('sigillum:CertificationTokenReturned', d.certifiedAt, facts.recipientIds, () => {
        const job = context.jobs[d.tokenId];
        if (!job?.acknowledged || !job.returned) {
          throw new MissingEvidenceContextError(`CertificationTokenReturned needs the operator's acknowledgement and return, job-${d.tokenId}`);
        }
        const entry: ProcessingTokenEntry = {
          stepIndex: d.stepIndex,
          stepId: d.step,
          tokenId: d.tokenId,
          attempt: issued.token.attempt,
          operatorId: d.operatorId,
          specificationVersion: issued.token.specificationVersion,
          tokenDigest: job.acknowledged.tokenDigest,
          inputDigest: d.inputDigest,
          outputDigest: d.outputDigest,
          issuedAt: issued.token.issuedAt,
          acknowledgedAt: d.acknowledgedAt,
          returnedAt: d.returnedAt,
          certifiedAt: d.certifiedAt,
          operatorKeyId: job.returned.keyId,
          acknowledgementSignature: job.acknowledged.signature,
          reportDigest: canonicalDigestOf(job.returned.report),
          reportSignature: job.returned.signature,
        };
        return { processingTokens: [entry] };
      });
    }
    case 'StepNonCompliant': {
      const d = event.data;
      return evidence('sigillum:CertificationTokenMismatch', d.recordedAt, facts.recipientIds, () => ({
        EventReasons: reasonsOrUnstated(d.reasons, `The return of token ${d.tokenId}`),
        certificationToken: { tokenId: d.tokenId, stepIndex: d.stepIndex, step: d.step, operatorId: d.operatorId },
      }));
    }
    case 'StepDeadlineMissed': {
      const d = event.data;
      return evidence('sigillum:CertificationTokenMissing', d.recordedAt, facts.recipientIds, () => ({
        EventReasons: [
          evidenceReasonOf({
            rule: d.missing === 'acknowledgement' ? 'token.acknowledgement-missing' : 'token.return-missing',
            message: `Operator ${d.operatorId} did not ${d.missing === 'acknowledgement' ? 'acknowledge' : 'return'} token ${d.tokenId} (step ${d.step}) by ${d.deadline}`,
            partyId: d.operatorId,
            subjectRole: 'operator',
          }),
        ],
        certificationToken: { tokenId: d.tokenId, stepIndex: d.stepIndex, step: d.step, operatorId: d.operatorId, deadline: d.deadline },
      }));
    }
    case 'ChainFailed': {
      if (facts.submission === 'rejected') return ignored('submission.rejected', 'A rejected submission has no chain to fail');
      const d = event.data;
      const details = () => ({ EventReasons: reasonsOrUnstated(d.reasons, 'The failure of the processing chain') });
      const undelivered = facts.recipientIds.filter((id) => facts.recipients.get(id)?.phase === 'pending');
      // Recipients not reached yet: the content will never be consigned to them. Otherwise the failure (e.g. of
      // archiving) comes after consignment and is evidence of the chain, not of the recipients.
      return undelivered.length > 0
        ? evidence('ContentConsignmentFailure', d.failedAt, undelivered, details)
        : evidence('sigillum:ProcessingChainFailed', d.failedAt, facts.recipientIds, details);
    }
    case 'DeliveredToRecipient': {
      const d = event.data;
      const recipient = facts.recipients.get(d.recipientId);
      if (!recipient) return ignored('recipient.unknown', `${d.recipientId} is not a recipient of this correspondence`);
      if (recipient.phase !== 'pending') return ignored('recipient.already-reached', `Recipient ${d.recipientId} is already ${recipient.phase}`);
      const name = facts.mode === 'consent' ? 'NotificationForAcceptance' : 'ContentConsignment';
      return evidence(name, d.deliveredAt, [d.recipientId], undefined, d.acceptBy);
    }
    case 'AcceptedByRecipient':
    case 'RefusedByRecipient': {
      const d = event.data;
      const accepted = event.type === 'AcceptedByRecipient';
      const at = event.type === 'AcceptedByRecipient' ? event.data.acceptedAt : event.data.refusedAt;
      const refusal = event.type === 'RefusedByRecipient' ? event.data.reason : null;
      const recipient = facts.recipients.get(d.recipientId);
      if (!recipient) return ignored('recipient.unknown', `${d.recipientId} is not a recipient of this correspondence`);
      if (recipient.phase !== 'notified')
        return ignored('recipient.not-awaiting-answer', `Recipient ${d.recipientId} is ${recipient.phase}, not awaiting an answer`);
      const expiresAt = recipient.expiresAt as string;
      if (instant(at) >= instant(expiresAt)) return lateAnswer(d.recipientId, expiresAt, at, accepted ? 'acceptance' : 'refusal');
      if (accepted) return evidence('ConsignmentAcceptance', at, [d.recipientId], undefined, expiresAt);
      return evidence(
        'ConsignmentRejection',
        at,
        [d.recipientId],
        () => ({
          EventReasons: [
            evidenceReasonOf({
              rule: 'recipient.refused',
              message: refusal ?? 'The recipient refused the correspondence',
              partyId: d.recipientId,
              subjectRole: 'recipient',
            }),
          ],
        }),
        expiresAt,
      );
    }
    case 'AcceptanceWindowExpired': {
      const d = event.data;
      const recipient = facts.recipients.get(d.recipientId);
      if (!recipient) return ignored('recipient.unknown', `${d.recipientId} is not a recipient of this correspondence`);
      if (recipient.phase !== 'notified')
        return ignored('recipient.not-awaiting-answer', `Recipient ${d.recipientId} is ${recipient.phase}, not awaiting an answer`);
      const expiresAt = recipient.expiresAt as string;
      if (instant(d.expiredAt) < instant(expiresAt)) return ignored('expiry.premature', `Expiry at ${d.expiredAt} is before the deadline ${expiresAt}`);
      return evidence(
        'AcceptanceRejectionExpiry',
        d.expiredAt,
        [d.recipientId],
        () => ({
          EventReasons: [
            evidenceReasonOf({
              rule: 'acceptance.window-expired',
              message: `The recipient neither accepted nor refused by ${expiresAt}`,
              partyId: d.recipientId,
              subjectRole: 'recipient',
            }),
          ],
        }),
        expiresAt,
      );
    }
    case 'ContentHandedOver': {
      const d = event.data;
      const recipient = facts.recipients.get(d.recipientId);
      if (!recipient) return ignored('recipient.unknown', `${d.recipientId} is not a recipient of this correspondence`);
      const expiresAt = recipient.expiresAt as string;
      // After a timely acceptance the content may be retrieved at any time.
      if (recipient.phase === 'accepted') return evidence('ContentHandover', d.handedOverAt, [d.recipientId], undefined, expiresAt);
      if (recipient.phase !== 'notified')
        return ignored('recipient.not-reached', `Recipient ${d.recipientId} is ${recipient.phase}; no content can be handed over`);
      // Consent mode: never certify a handover the recipient had not accepted.
      if (facts.mode === 'consent') return ignored('handover.before-acceptance', `Consent mode: recipient ${d.recipientId} had not accepted`);
      if (instant(d.handedOverAt) >= instant(expiresAt)) return lateAnswer(d.recipientId, expiresAt, d.handedOverAt, 'retrieval');
      return evidence('ContentHandover', d.handedOverAt, [d.recipientId], undefined, expiresAt);
    }
    // Echoes of chain facts on the correspondence stream (the chain's own events are the evidence), and the end of
    // the chain (its steps are evidenced one by one).
    case 'SubmissionAccepted':
    case 'SubmissionRejected':
    case 'CorrespondenceFailed':
    case 'ArchivedInSafes':
    case 'ChainCompleted':
      return none;
    // A failed chain retried by hand: its new token is evidenced (CertificationTokenIssued, the next attempt) like any
    // other. The retry concerns no recipient and reopens nothing: it is allowed only for a failure after the hand-over
    // step was certified (chain/rules/chain-retry.ts), not one before it (which gave them ContentConsignmentFailure).
    case 'ChainRetried':
      return none;
    default:
      return assertNever(event, 'source event');
  }
}

/** Folds a source (and the evidence it gave, if any) into the facts the following sources are judged against. */
export function learn(facts: Facts, source: SourceEvent, outcome: Outcome): void {
  const { event } = source;
  switch (event.type) {
    case 'SubmissionRequested': {
      if (facts.submissionRequested) return;
      const d = event.data;
      facts.submissionRequested = true;
      facts.senderId = d.senderId;
      facts.mode = d.consignment;
      facts.kind = d.kind;
      facts.requiredLevel = d.requiredLevel;
      facts.submissionTime = d.requestedAt;
      facts.contentInfo = {
        specimenDigest: d.specimenDigest,
        PartsInfo: d.parts.map((part) => ({ ContentType: part.contentType, size: part.size, DigestMethod: SHA256_DIGEST_METHOD, DigestValue: part.digest })),
      };
      setRecipients(facts, d.recipientIds);
      return;
    }
    case 'ChainStarted': {
      const d = event.data;
      facts.senderId ??= d.senderId;
      facts.mode ??= d.consignment;
      facts.kind ??= d.kind;
      facts.requiredLevel ??= d.requiredLevel;
      facts.submissionTime ??= d.submittedAt;
      facts.contentInfo ??= { specimenDigest: d.specimenDigest, PartsInfo: [] };
      setRecipients(facts, d.recipientIds);
      if (outcome.kind === 'evidence') facts.submission = 'accepted';
      return;
    }
    case 'ChainRefused':
      if (outcome.kind === 'evidence') {
        facts.submission = 'rejected';
        for (const recipient of facts.recipients.values()) recipient.phase = 'closed';
      }
      return;
    case 'StepTokenIssued':
      facts.tokens.set(event.data.token.tokenId, { token: event.data.token, signature: event.data.signature });
      return;
    default:
      break;
  }
  if (outcome.kind !== 'evidence') return;
  for (const id of outcome.recipients) {
    const recipient = facts.recipients.get(id);
    if (!recipient) continue;
    switch (outcome.name) {
      case 'ContentConsignment':
      case 'NotificationForAcceptance':
        recipient.phase = 'notified';
        recipient.expiresAt = outcome.expiresAt;
        break;
      case 'ConsignmentAcceptance':
        recipient.phase = 'accepted';
        break;
      case 'ContentConsignmentFailure':
      case 'ConsignmentRejection':
      case 'AcceptanceRejectionExpiry':
      case 'ContentHandover':
        recipient.phase = 'closed';
        break;
      default:
        break;
    }
  }
}
