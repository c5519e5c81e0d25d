import { assertNever, type ContentPartRef, type CorrespondenceEvent, type Reason, type TrustLevel } from '@sigillum/contracts';

// What a correspondence stream folds into (see correspondence.decider.ts), and its public status.

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

export interface Delivery {
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

export interface Processing {
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
  return {
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
  };
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
        return delivery
          ? { ...delivery, status: 'refused', refusedAt: event.data.refusedAt, sessionId: event.data.sessionId, reason: event.data.reason }
          : recipient;
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
