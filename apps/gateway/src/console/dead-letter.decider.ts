/**
 * What an operator did with one dead letter of the embedded bus (stream `deadletter-<offset>`, owned by the gateway):
 * replayed it (the same message delivered again on its original topic, after a fix), or discarded it with a reason.
 * A discarded dead letter is closed: neither replayed nor discarded again.
 */

export const DEAD_LETTER_CATEGORY = 'deadletter';

export interface DeadLetterRef {
  readonly offset: number;
  readonly topic: string;
  readonly originalTopic: string;
  readonly group: string;
  readonly messageId: string;
}

export type DeadLetterEvent =
  | {
      readonly type: 'DeadLetterReplayed';
      readonly version: 1;
      readonly data: DeadLetterRef & { readonly replay: number; readonly by: string; readonly replayedAt: string };
    }
  | {
      readonly type: 'DeadLetterDiscarded';
      readonly version: 1;
      readonly data: DeadLetterRef & { readonly reason: string; readonly by: string; readonly discardedAt: string };
    };

export type DeadLetterCommand =
  | { readonly type: 'Replay'; readonly letter: DeadLetterRef; readonly by: string; readonly at: string }
  | { readonly type: 'Discard'; readonly letter: DeadLetterRef; readonly reason: string; readonly by: string; readonly at: string };

export interface DeadLetterState {
  readonly status: 'open' | 'replayed' | 'discarded';
  readonly replays: number;
  readonly lastReplayAt: string | null;
  readonly lastBy: string | null;
  readonly discardReason: string | null;
}

export const initialState: DeadLetterState = { status: 'open', replays: 0, lastReplayAt: null, lastBy: null, discardReason: null };

export class DeadLetterRefused extends Error {
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

export function decide(command: DeadLetterCommand, state: DeadLetterState): DeadLetterEvent[] {
  if (state.status === 'discarded')
    throw new DeadLetterRefused(
      'dead-letter.discarded',
      `Dead letter ${command.letter.offset} was discarded (${state.discardReason ?? ''}): nothing more to do`,
    );
  switch (command.type) {
    case 'Replay':
      return [{ type: 'DeadLetterReplayed', version: 1, data: { ...command.letter, replay: state.replays + 1, by: command.by, replayedAt: command.at } }];
    case 'Discard':
      return [{ type: 'DeadLetterDiscarded', version: 1, data: { ...command.letter, reason: command.reason, by: command.by, discardedAt: command.at } }];
    default: {
      const unexpected: never = command;
      return unexpected;
    }
  }
}

export function evolve(state: DeadLetterState, event: DeadLetterEvent): DeadLetterState {
  switch (event.type) {
    case 'DeadLetterReplayed':
      return { ...state, status: 'replayed', replays: event.data.replay, lastReplayAt: event.data.replayedAt, lastBy: event.data.by };
    case 'DeadLetterDiscarded':
      return { ...state, status: 'discarded', lastBy: event.data.by, discardReason: event.data.reason };
    default: {
      const unexpected: never = event;
      return unexpected;
    }
  }
}
