import { assertNever, type Decider, type TrustCheckAnswered } from '@sigillum/contracts';

//////// Commands

/** Records the answer the evaluation gave; a check is answered once, so a second answer changes nothing. */
export type RecordTrustCheckAnswer = { readonly type: 'RecordTrustCheckAnswer'; readonly answer: TrustCheckAnswered['data'] };
export type TrustCheckCommand = RecordTrustCheckAnswer;

//////// State

export type TrustCheckState =
  | { readonly status: 'unanswered' }
  | { readonly status: 'answered'; readonly answer: TrustCheckAnswered['data'] };

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
