import { assertNever, type Decider, type SubjectRole, type TrustCheckAnswered, type TrustLevel } from '@sigillum/contracts';

//////// What is asked, and what comes back

/** A trust check to run: who must hold valid certified attributes, at which level, now. */
export interface TrustCheckRequest {
  readonly purpose: 'session' | 'delivery';
  /** The session (or correspondence) the check is for. */
  readonly subjectOf: string;
  readonly subjects: readonly { readonly partyId: string; readonly subjectRole: SubjectRole }[];
  readonly levelRequired: TrustLevel;
  /** When given, every operator of the kind's chain is a subject too. */
  readonly correspondenceKind?: string;
  /** A fixed id makes the check idempotent: asked again, it returns the answer recorded the first time. */
  readonly checkId?: string;
}

/**
 * A check's answer with the operators it put in the chain: one per step of the kind, in order (null when no
 * processing operator offers the step), each checked as a subject of this answer — the plan is made once, by the
 * check. An answer recorded by an earlier attempt does not keep its plan: the operators are then chosen as the
 * directory stands now, and whoever uses them must hold each to a valid verdict of the answer.
 */
export interface CheckedOperators {
  readonly answer: TrustCheckAnswered['data'];
  readonly operators: readonly (string | null)[];
}

//////// Commands

/** Records the answer the evaluation gave; a check is answered once, so a second answer changes nothing. */
export type RecordTrustCheckAnswer = { readonly type: 'RecordTrustCheckAnswer'; readonly answer: TrustCheckAnswered['data'] };
export type TrustCheckCommand = RecordTrustCheckAnswer;

//////// State

export type TrustCheckState = { readonly status: 'unanswered' } | { readonly status: 'answered'; readonly answer: TrustCheckAnswered['data'] };

//////// Decisions

export function decide(command: TrustCheckCommand, state: TrustCheckState): TrustCheckAnswered[] {
  switch (command.type) {
    case 'RecordTrustCheckAnswer':
      if (state.status === 'answered') return [];
      return [{ type: 'TrustCheckAnswered', version: 1, data: command.answer }];
    default:
      return assertNever(command.type, 'trust check command');
  }
}

export function evolve(_state: TrustCheckState, event: TrustCheckAnswered): TrustCheckState {
  switch (event.type) {
    case 'TrustCheckAnswered':
      return { status: 'answered', answer: event.data };
    default:
      return assertNever(event.type, 'trust check event');
  }
}

export const initialState = (): TrustCheckState => ({ status: 'unanswered' });

export const trustCheckDecider: Decider<TrustCheckCommand, TrustCheckState, TrustCheckAnswered> = { decide, evolve, initialState };
