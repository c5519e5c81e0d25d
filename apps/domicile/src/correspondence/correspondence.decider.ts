import { assertNever, type CorrespondenceEvent, type Decider, DomainError } from '@sigillum/contracts';
import type {
  Accept,
  CorrespondenceCommand,
  ExpireWindow,
  HandOverContent,
  RecordArchive,
  RecordChainFailure,
  RecordDelivery,
  RecordGatePassed,
  RecordGateRefused,
  Refuse,
  RequestSubmission,
} from './correspondence.commands';
import { type CorrespondenceState, evolve, initialState, type RecipientState, type RecipientStatus } from './correspondence.state';

export * from './correspondence.commands';
export * from './correspondence.state';

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
  return [
    { type: 'SubmissionAccepted', version: 1, data: { correspondenceId: state.correspondenceId, checkId: command.checkId, acceptedAt: command.acceptedAt } },
  ];
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
  return [
    { type: 'CorrespondenceFailed', version: 1, data: { correspondenceId: state.correspondenceId, reasons: command.reasons, failedAt: command.failedAt } },
  ];
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
    return [
      { type: 'AcceptedByRecipient', version: 1, data: { correspondenceId, recipientId: command.recipientId, sessionId: command.sessionId, acceptedAt: at } },
    ];
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
      data: {
        correspondenceId: state.correspondenceId,
        recipientId: command.recipientId,
        sessionId: command.sessionId,
        handedOverAt: command.now.toISOString(),
      },
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

export const correspondenceDecider: Decider<CorrespondenceCommand, CorrespondenceState, CorrespondenceEvent> = { decide, evolve, initialState };
