import { assertNever, type DraftContent, type DraftEvent, type Reason } from '@sigillum/contracts';

// What a draft stream folds into (see draft.decider.ts).

//////// State

export interface DraftFacts {
  readonly draftId: string;
  readonly senderId: string;
  readonly content: DraftContent;
  readonly openedAt: string;
  readonly updatedAt: string;
}

export interface DraftValidation {
  readonly sessionId: string;
  readonly specimenDigest: string;
  readonly validatedAt: string;
  readonly proof: string;
  readonly keyId: string;
}

export interface DraftSubmission {
  readonly correspondenceId: string;
  readonly submissionKey: string;
  readonly submittedAt: string;
}

export interface DraftReturn {
  readonly correspondenceId: string;
  readonly reasons: readonly Reason[];
  readonly returnedAt: string;
}

export type DraftState =
  | { readonly status: 'none' }
  | ({
      readonly status: 'editing';
      /** Digest of the last specimen shown of the current content; null after an edit. */
      readonly shownSpecimenDigest: string | null;
      /** Why the last submission came back, when it did. */
      readonly returned: DraftReturn | null;
    } & DraftFacts)
  | ({
      readonly status: 'validated';
      readonly shownSpecimenDigest: string;
      readonly validation: DraftValidation;
      readonly returned: DraftReturn | null;
    } & DraftFacts)
  | ({ readonly status: 'submitted'; readonly validation: DraftValidation; readonly submission: DraftSubmission } & DraftFacts)
  | ({ readonly status: 'discarded'; readonly discardedAt: string } & DraftFacts);

export type DraftStatus = DraftState['status'];

//////// Evolution

function factsOf(state: Exclude<DraftState, { status: 'none' }>): DraftFacts {
  const { draftId, senderId, content, openedAt, updatedAt } = state;
  return { draftId, senderId, content, openedAt, updatedAt };
}

export function evolve(state: DraftState, event: DraftEvent): DraftState {
  if (event.type === 'DraftOpened') {
    const { draftId, senderId, content, openedAt } = event.data;
    return { status: 'editing', draftId, senderId, content, openedAt, updatedAt: openedAt, shownSpecimenDigest: null, returned: null };
  }
  if (state.status === 'none') return state;
  const facts = factsOf(state);
  switch (event.type) {
    case 'DraftEdited':
      // A new content voids the specimen shown and the validation.
      return { ...facts, status: 'editing', content: event.data.content, updatedAt: event.data.editedAt, shownSpecimenDigest: null, returned: null };
    case 'SpecimenShown':
      if (state.status === 'validated' && state.validation.specimenDigest === event.data.specimenDigest) return state;
      if (state.status !== 'editing' && state.status !== 'validated') return state;
      // Another specimen shown (the kind's configuration changed): what was validated no longer stands.
      return { ...facts, status: 'editing', shownSpecimenDigest: event.data.specimenDigest, returned: state.returned };
    case 'DraftValidated': {
      const { sessionId, specimenDigest, validatedAt, proof, keyId } = event.data;
      const returned = state.status === 'editing' || state.status === 'validated' ? state.returned : null;
      return {
        ...facts,
        status: 'validated',
        shownSpecimenDigest: specimenDigest,
        validation: { sessionId, specimenDigest, validatedAt, proof, keyId },
        returned,
      };
    }
    case 'DraftSubmitted': {
      if (state.status !== 'validated') return state;
      const { correspondenceId, submissionKey, submittedAt } = event.data;
      return { ...facts, status: 'submitted', validation: state.validation, submission: { correspondenceId, submissionKey, submittedAt } };
    }
    case 'DraftReturnedForEditing': {
      const { correspondenceId, reasons, returnedAt } = event.data;
      // Editable again; the validation is void (the sender validates again what it sends next).
      return { ...facts, status: 'editing', updatedAt: returnedAt, shownSpecimenDigest: null, returned: { correspondenceId, reasons, returnedAt } };
    }
    case 'DraftDiscarded':
      return { ...facts, status: 'discarded', discardedAt: event.data.discardedAt };
    default:
      return assertNever(event, 'draft event');
  }
}

export const initialState = (): DraftState => ({ status: 'none' });
