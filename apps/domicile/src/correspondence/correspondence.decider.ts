import {
  assertNever,
  type ContentPartRef,
  type CorrespondenceEvent,
  type Decider,
  DomainError,
  type Reason,
  type SubmissionRequested,
  type TrustLevel,
} from '@sigillum/contracts';

/**
 * One correspondence from its submission to its recipients' answers: stream `correspondence-<correspondenceId>`.
 *
 *   submitted ──gate refused──▶ rejected
 *   submitted ──gate passed──▶ in-progress ──chain failed──▶ failed
 *
 * and, per recipient, once the `deliver` (or `print-and-post`) step is certified:
 *
 *   awaiting-delivery ──delivered──▶ delivered ──▶ accepted | refused      (before acceptBy)
 *                                        └──────▶ expired                   (durable timer, at or after acceptBy)
 *
 * Time comes in with each command (`now`, from the injected clock): the window is judged by event time, and expiry
 * is refused before `acceptBy` — never early.
 */

//////// Commands

export type RequestSubmission = { readonly type: 'RequestSubmission'; readonly submission: SubmissionRequested['data'] };
/** From the certifier's ChainStarted: the delivery gate passed. */
export type RecordGatePassed = { readonly type: 'RecordGatePassed'; readonly checkId: string; readonly acceptedAt: string };
/** From the certifier's ChainRefused. */
export type RecordGateRefused = { readonly type: 'RecordGateRefused'; readonly checkId: string | null; readonly reasons: readonly Reason[]; readonly rejectedAt: string };
/** From StepCertified of the `deliver` (or `print-and-post`) step. */
export type RecordDelivery = { readonly type: 'RecordDelivery'; readonly tokenId: string; readonly deliveredAt: string; readonly windowSeconds: number };
/** From StepCertified of the `archive` step and the operator's report. */
export type RecordArchive = {
  readonly type: 'RecordArchive';
  readonly tokenId: string;
  readonly safes: readonly { readonly ownerId: string; readonly retainUntil: string }[];
  readonly packageDigest: string;
  readonly archivedAt: string;
};
/** From the certifier's ChainFailed. */
export type RecordChainFailure = { readonly type: 'RecordChainFailure'; readonly reasons: readonly Reason[]; readonly failedAt: string };
export type Accept = { readonly type: 'Accept'; readonly recipientId: string; readonly sessionId: string; readonly now: Date };
export type Refuse = { readonly type: 'Refuse'; readonly recipientId: string; readonly sessionId: string; readonly reason: string | null; readonly now: Date };
/** From the durable timer due at `acceptBy`. */
export type ExpireWindow = { readonly type: 'ExpireWindow'; readonly recipientId: string; readonly now: Date };
/** The recipient asks for the content: allowed or refused here, recorded the first time. */
export type HandOverContent = { readonly type: 'HandOverContent'; readonly recipientId: string; readonly sessionId: string; readonly now: Date };

export type CorrespondenceCommand =
  | RequestSubmission
  | RecordGatePassed
  | RecordGateRefused
  | RecordDelivery
  | RecordArchive
  | RecordChainFailure
  | Accept
  | Refuse
  | ExpireWindow
  | HandOverContent;

//////// State

export interface CorrespondenceFacts {
  readonly correspondenceId: string;
  readonly draftId: string;
  readonly submissionKey: string;
  readonly senderId: string;
  readonly sessionId: string;
  readonly recipientIds: readonly string[];
  readonly subject: string;
  readonly kind: string;
  readonly requiredLevel: TrustLevel;
  readonly consignment: 'basic' | 'consent';
  readonly parts: readonly ContentPartRef[];
  readonly specimenDigest: string;
  readonly validationProof: string;
  readonly requestedAt: string;
}

interface Delivery {
  readonly tokenId: string;
  readonly deliveredAt: string;
  readonly acceptBy: string;
  /** First retrieval of the content by the recipient, when it happened. */
  readonly handedOverAt: string | null;
}

export type RecipientState =
  | { readonly status: 'awaiting-delivery' }
  | ({ readonly status: 'delivered' } & Delivery)
  | ({ readonly status: 'accepted'; readonly acceptedAt: string; readonly sessionId: string } & Delivery)
  | ({ readonly status: 'refused'; readonly refusedAt: string; readonly sessionId: string; readonly reason: string | null } & Delivery)
  | ({ readonly status: 'expired'; readonly expiredAt: string } & Delivery);

export type RecipientStatus = RecipientState['status'];

export interface Archive {
  readonly tokenId: string;
  readonly safes: readonly { readonly ownerId: string; readonly retainUntil: string }[];
  readonly packageDigest: string;
  readonly archivedAt: string;
}

interface Processing {
  readonly checkId: string;
  readonly acceptedAt: string;
  readonly recipients: Readonly<Record<string, RecipientState>>;
  readonly archive: Archive | null;
}

export type CorrespondenceState =
  | { readonly status: 'none' }
  | ({ readonly status: 'submitted' } & CorrespondenceFacts)
  | ({ readonly status: 'rejected'; readonly checkId: string | null; readonly reasons: readonly Reason[]; readonly rejectedAt: string } & CorrespondenceFacts)
  | ({ readonly status: 'in-progress' } & Processing & CorrespondenceFacts)
  | ({ readonly status: 'failed'; readonly reasons: readonly Reason[]; readonly failedAt: string } & Processing & CorrespondenceFacts);

export type CorrespondenceStatus = CorrespondenceState['status'];

//////// Refusals

export const CorrespondenceErrors = {
  notFound: 'CORRESPONDENCE.NOT_FOUND',
  notRecipient: 'CORRESPONDENCE.NOT_RECIPIENT',
  submissionKeyReused: 'CORRESPONDENCE.SUBMISSION_KEY_REUSED',
  notDelivered: 'CORRESPONDENCE.NOT_DELIVERED',
  windowExpired: 'CORRESPONDENCE.WINDOW_EXPIRED',
  windowOpen: 'CORRESPONDENCE.WINDOW_STILL_OPEN',
  alreadyAnswered: 'CORRESPONDENCE.ALREADY_ANSWERED',
  consentRequired: 'CORRESPONDENCE.CONSENT_REQUIRED',
} as const;

function notFound(): never {
  throw new DomainError(CorrespondenceErrors.notFound, 'No such correspondence', 'not-found', [
    { rule: 'correspondence.unknown', message: 'No correspondence has this id' },
  ]);
}

function notRecipient(recipientId: string): never {
  throw new DomainError(CorrespondenceErrors.notRecipient, 'You are not a recipient of this correspondence', 'forbidden', [
    { rule: 'correspondence.not-recipient', message: 'Only a recipient of the correspondence may do this', partyId: recipientId, subjectRole: 'recipient' },
  ]);
}

function notDelivered(kind: 'conflict' | 'forbidden' = 'conflict'): never {
  throw new DomainError(CorrespondenceErrors.notDelivered, 'The correspondence has not been delivered to you yet', kind, [
    { rule: 'not-delivered', message: 'The correspondence has not been delivered to this recipient yet' },
  ]);
}

function windowExpired(acceptBy: string): never {
  throw new DomainError(CorrespondenceErrors.windowExpired, `The acceptance window closed at ${acceptBy}`, 'conflict', [
    { rule: 'window.expired', message: `The recipient could answer until ${acceptBy}` },
  ]);
}

function alreadyAnswered(status: RecipientStatus): never {
  throw new DomainError(CorrespondenceErrors.alreadyAnswered, `The recipient already ${status} this correspondence`, 'conflict', [
    { rule: 'already-answered', message: `The recipient already ${status} this correspondence; an answer cannot be changed` },
  ]);
}

const addSeconds = (iso: string, seconds: number) => new Date(Date.parse(iso) + seconds * 1000).toISOString();

/** The recipient's state, or 403 when the party is not a recipient. */
function recipientOf(state: Exclude<CorrespondenceState, { status: 'none' }>, recipientId: string): RecipientState {
  if (!state.recipientIds.includes(recipientId)) return notRecipient(recipientId);
  if (state.status === 'in-progress' || state.status === 'failed') return state.recipients[recipientId] ?? { status: 'awaiting-delivery' };
  return { status: 'awaiting-delivery' };
}

//////// Decisions

function requestSubmission(command: RequestSubmission, state: CorrespondenceState): CorrespondenceEvent[] {
  const submission = command.submission;
  if (state.status !== 'none') {
    // The correspondence id is derived from (sender, submission key): the same key again is the same sending.
    if (state.draftId === submission.draftId && state.senderId === submission.senderId && state.submissionKey === submission.submissionKey) return [];
    throw new DomainError(CorrespondenceErrors.submissionKeyReused, 'This submission key was already used for another draft', 'conflict', [
      { rule: 'submission-key.reused', message: 'Each sending needs its own submission key; this one already sent another draft' },
    ]);
  }
  return [{ type: 'SubmissionRequested', version: 1, data: submission }];
}

function recordGatePassed(command: RecordGatePassed, state: CorrespondenceState): CorrespondenceEvent[] {
  if (state.status !== 'submitted') return []; // redelivered, or too late to matter
  return [{ type: 'SubmissionAccepted', version: 1, data: { correspondenceId: state.correspondenceId, checkId: command.checkId, acceptedAt: command.acceptedAt } }];
}

function recordGateRefused(command: RecordGateRefused, state: CorrespondenceState): CorrespondenceEvent[] {
  if (state.status !== 'submitted') return [];
  return [
    {
      type: 'SubmissionRejected',
      version: 1,
      data: { correspondenceId: state.correspondenceId, checkId: command.checkId, reasons: command.reasons, rejectedAt: command.rejectedAt },
    },
  ];
}

function recordDelivery(command: RecordDelivery, state: CorrespondenceState): CorrespondenceEvent[] {
  if (state.status !== 'in-progress' && state.status !== 'failed') return [];
  const acceptBy = addSeconds(command.deliveredAt, command.windowSeconds);
  // Each recipient once: a redelivered certification, or a second hand-over step, adds nothing.
  return state.recipientIds
    .filter((recipientId) => (state.recipients[recipientId]?.status ?? 'awaiting-delivery') === 'awaiting-delivery')
    .map((recipientId) => ({
      type: 'DeliveredToRecipient',
      version: 1,
      data: { correspondenceId: state.correspondenceId, recipientId, tokenId: command.tokenId, acceptBy, deliveredAt: command.deliveredAt },
    }));
}

function recordArchive(command: RecordArchive, state: CorrespondenceState): CorrespondenceEvent[] {
  if ((state.status !== 'in-progress' && state.status !== 'failed') || state.archive !== null) return [];
  const { tokenId, safes, packageDigest, archivedAt } = command;
  return [{ type: 'ArchivedInSafes', version: 1, data: { correspondenceId: state.correspondenceId, tokenId, safes, packageDigest, archivedAt } }];
}

function recordChainFailure(command: RecordChainFailure, state: CorrespondenceState): CorrespondenceEvent[] {
  if (state.status !== 'in-progress' && state.status !== 'submitted') return [];
  return [{ type: 'CorrespondenceFailed', version: 1, data: { correspondenceId: state.correspondenceId, reasons: command.reasons, failedAt: command.failedAt } }];
}

function answer(command: Accept | Refuse, state: CorrespondenceState): CorrespondenceEvent[] {
  if (state.status === 'none') return notFound();
  const recipient = recipientOf(state, command.recipientId);
  const wanted = command.type === 'Accept' ? 'accepted' : 'refused';
  switch (recipient.status) {
    case 'awaiting-delivery':
      return notDelivered();
    case 'expired':
      return windowExpired(recipient.acceptBy);
    case 'accepted':
    case 'refused':
      if (recipient.status === wanted) return []; // the same answer again: idempotent
      return alreadyAnswered(recipient.status);
    case 'delivered':
      break;
    default:
      return assertNever(recipient, 'recipient state');
  }
  // The window is closed at acceptBy, whether or not its timer has fired yet.
  if (command.now.getTime() >= Date.parse(recipient.acceptBy)) return windowExpired(recipient.acceptBy);
  const at = command.now.toISOString();
  const { correspondenceId } = state;
  if (command.type === 'Accept') {
    return [{ type: 'AcceptedByRecipient', version: 1, data: { correspondenceId, recipientId: command.recipientId, sessionId: command.sessionId, acceptedAt: at } }];
  }
  return [
    {
      type: 'RefusedByRecipient',
      version: 1,
      data: { correspondenceId, recipientId: command.recipientId, sessionId: command.sessionId, reason: command.reason, refusedAt: at },
    },
  ];
}

function expireWindow(command: ExpireWindow, state: CorrespondenceState): CorrespondenceEvent[] {
  if (state.status !== 'in-progress' && state.status !== 'failed') return [];
  const recipient = state.recipients[command.recipientId];
  if (!recipient || recipient.status !== 'delivered') return []; // answered (or already expired): nothing to expire
  if (command.now.getTime() < Date.parse(recipient.acceptBy)) {
    throw new DomainError(CorrespondenceErrors.windowOpen, `The acceptance window is open until ${recipient.acceptBy}`, 'conflict', [
      { rule: 'window.still-open', message: `Expiry before ${recipient.acceptBy} would be early; it is refused` },
    ]);
  }
  return [
    {
      type: 'AcceptanceWindowExpired',
      version: 1,
      data: { correspondenceId: state.correspondenceId, recipientId: command.recipientId, acceptBy: recipient.acceptBy, expiredAt: command.now.toISOString() },
    },
  ];
}

function handOver(command: HandOverContent, state: CorrespondenceState): CorrespondenceEvent[] {
  if (state.status === 'none') return notFound();
  const recipient = recipientOf(state, command.recipientId);
  if (recipient.status === 'awaiting-delivery') return notDelivered('forbidden');
  // Consent mode: no content before the recipient accepted (EN 319 522 consignment with consent).
  if (state.consignment === 'consent' && recipient.status !== 'accepted') {
    throw new DomainError(CorrespondenceErrors.consentRequired, 'In consent mode the content is handed over only after acceptance', 'forbidden', [
      {
        rule: 'consent.required',
        message:
          recipient.status === 'delivered'
            ? 'Accept the correspondence first (POST /correspondences/:correspondenceId/acceptance)'
            : `The recipient ${recipient.status === 'refused' ? 'refused' : 'let the window expire on'} this correspondence: its content is not handed over`,
        partyId: command.recipientId,
        subjectRole: 'recipient',
      },
    ]);
  }
  if (recipient.handedOverAt !== null) return [];
  return [
    {
      type: 'ContentHandedOver',
      version: 1,
      data: { correspondenceId: state.correspondenceId, recipientId: command.recipientId, sessionId: command.sessionId, handedOverAt: command.now.toISOString() },
    },
  ];
}

export function decide(command: CorrespondenceCommand, state: CorrespondenceState): CorrespondenceEvent[] {
  switch (command.type) {
    case 'RequestSubmission':
      return requestSubmission(command, state);
    case 'RecordGatePassed':
      return recordGatePassed(command, state);
    case 'RecordGateRefused':
      return recordGateRefused(command, state);
    case 'RecordDelivery':
      return recordDelivery(command, state);
    case 'RecordArchive':
      return recordArchive(command, state);
    case 'RecordChainFailure':
      return recordChainFailure(command, state);
    case 'Accept':
    case 'Refuse':
      return answer(command, state);
    case 'ExpireWindow':
      return expireWindow(command, state);
    case 'HandOverContent':
      return handOver(command, state);
    default:
      return assertNever(command, 'correspondence command');
  }
}

//////// Evolution

function factsOf(state: Exclude<CorrespondenceState, { status: 'none' }>): CorrespondenceFacts {
  const {
    correspondenceId,
    draftId,
    submissionKey,
    senderId,
    sessionId,
    recipientIds,
    subject,
    kind,
    requiredLevel,
    consignment,
    parts,
    specimenDigest,
    validationProof,
    requestedAt,
  } = state;
  return { correspondenceId, draftId, submissionKey, senderId, sessionId, recipientIds, subject, kind, requiredLevel, consignment, parts, specimenDigest, validationProof, requestedAt };
}

function withRecipient(state: CorrespondenceState, recipientId: string, change: (recipient: RecipientState) => RecipientState): CorrespondenceState {
  if (state.status !== 'in-progress' && state.status !== 'failed') return state;
  const current = state.recipients[recipientId] ?? { status: 'awaiting-delivery' };
  return { ...state, recipients: { ...state.recipients, [recipientId]: change(current) } };
}

function deliveryOf(recipient: RecipientState): Delivery | null {
  if (recipient.status === 'awaiting-delivery') return null;
  const { tokenId, deliveredAt, acceptBy, handedOverAt } = recipient;
  return { tokenId, deliveredAt, acceptBy, handedOverAt };
}

export function evolve(state: CorrespondenceState, event: CorrespondenceEvent): CorrespondenceState {
  if (event.type === 'SubmissionRequested') {
    const { validationProof, ...rest } = event.data;
    return { status: 'submitted', ...rest, validationProof };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'SubmissionAccepted': {
      const recipients: Record<string, RecipientState> = {};
      for (const recipientId of state.recipientIds) recipients[recipientId] = { status: 'awaiting-delivery' };
      return { ...factsOf(state), status: 'in-progress', checkId: event.data.checkId, acceptedAt: event.data.acceptedAt, recipients, archive: null };
    }
    case 'SubmissionRejected':
      return { ...factsOf(state), status: 'rejected', checkId: event.data.checkId, reasons: event.data.reasons, rejectedAt: event.data.rejectedAt };
    case 'DeliveredToRecipient': {
      const { tokenId, deliveredAt, acceptBy } = event.data;
      return withRecipient(state, event.data.recipientId, () => ({ status: 'delivered', tokenId, deliveredAt, acceptBy, handedOverAt: null }));
    }
    case 'AcceptedByRecipient':
      return withRecipient(state, event.data.recipientId, (recipient) => {
        const delivery = deliveryOf(recipient);
        return delivery ? { ...delivery, status: 'accepted', acceptedAt: event.data.acceptedAt, sessionId: event.data.sessionId } : recipient;
      });
    case 'RefusedByRecipient':
      return withRecipient(state, event.data.recipientId, (recipient) => {
        const delivery = deliveryOf(recipient);
        return delivery ? { ...delivery, status: 'refused', refusedAt: event.data.refusedAt, sessionId: event.data.sessionId, reason: event.data.reason } : recipient;
      });
    case 'AcceptanceWindowExpired':
      return withRecipient(state, event.data.recipientId, (recipient) => {
        const delivery = deliveryOf(recipient);
        return delivery ? { ...delivery, status: 'expired', expiredAt: event.data.expiredAt } : recipient;
      });
    case 'ContentHandedOver':
      return withRecipient(state, event.data.recipientId, (recipient) =>
        recipient.status === 'awaiting-delivery' || recipient.handedOverAt !== null ? recipient : { ...recipient, handedOverAt: event.data.handedOverAt },
      );
    case 'ArchivedInSafes': {
      if (state.status !== 'in-progress' && state.status !== 'failed') return state;
      const { tokenId, safes, packageDigest, archivedAt } = event.data;
      return { ...state, archive: { tokenId, safes, packageDigest, archivedAt } };
    }
    case 'CorrespondenceFailed': {
      const processing: Processing =
        state.status === 'in-progress' || state.status === 'failed'
          ? { checkId: state.checkId, acceptedAt: state.acceptedAt, recipients: state.recipients, archive: state.archive }
          : { checkId: '', acceptedAt: '', recipients: {}, archive: null };
      return { ...factsOf(state), ...processing, status: 'failed', reasons: event.data.reasons, failedAt: event.data.failedAt };
    }
    default:
      return assertNever(event, 'correspondence event');
  }
}

export const initialState = (): CorrespondenceState => ({ status: 'none' });

export const correspondenceDecider: Decider<CorrespondenceCommand, CorrespondenceState, CorrespondenceEvent> = { decide, evolve, initialState };

/** What the sending answer and the views call the correspondence's status. */
export function publicStatus(state: Exclude<CorrespondenceState, { status: 'none' }>): 'submitted' | 'accepted' | 'rejected' | 'failed' {
  switch (state.status) {
    case 'submitted':
      return 'submitted';
    case 'in-progress':
      return 'accepted';
    case 'rejected':
      return 'rejected';
    case 'failed':
      return 'failed';
    default:
      return assertNever(state, 'correspondence state');
  }
}
