import { Injectable } from '@nestjs/common';
import type { SessionState } from './session.decider';

/** A watch on one session: `next` resolves on its next change (with the new state when known) or after `ms`. */
export interface SessionWatch {
  next(ms: number): Promise<SessionState | undefined>;
  cancel(): void;
}

/**
 * In-process wake-up calls: the domicile says "session X changed" (with the state it now has, when it knows it)
 * after it appended to its stream, so that a `POST /sessions` waiting for the challenge answers at once, without
 * reading the store again and without waiting for a poll.
 */
@Injectable()
export class SessionNotifier {
  private readonly waiters = new Map<string, Set<(state: SessionState | undefined) => void>>();

  changed(sessionId: string, state?: SessionState): void {
    const waiting = this.waiters.get(sessionId);
    if (!waiting) return;
    this.waiters.delete(sessionId);
    for (const wake of waiting) wake(state);
  }

  /**
   * Starts watching now (a change that happens before `next` is called is kept), so that a caller can watch,
   * then read the state, then wait, without missing a change made in between.
   */
  watch(sessionId: string): SessionWatch {
    let fired = false;
    let changedTo: SessionState | undefined;
    let resolveNext: ((state: SessionState | undefined) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const waiting = this.waiters.get(sessionId) ?? new Set<(state: SessionState | undefined) => void>();
    this.waiters.set(sessionId, waiting);
    const stop = () => {
      waiting.delete(wake);
      if (waiting.size === 0 && this.waiters.get(sessionId) === waiting) this.waiters.delete(sessionId);
      clearTimeout(timer);
    };
    const wake = (state: SessionState | undefined) => {
      if (fired) return;
      fired = true;
      changedTo = state;
      stop();
      resolveNext?.(state);
    };
    waiting.add(wake);
    return {
      next: (ms) => {
        if (fired) return Promise.resolve(changedTo);
        return new Promise((resolve) => {
          resolveNext = resolve;
          timer = setTimeout(
            () => {
              fired = true;
              stop();
              resolve(undefined);
            },
            Math.max(0, ms),
          );
        });
      },
      cancel: () => {
        fired = true;
        stop();
      },
    };
  }

  /** Resolves on the next change of the session or after `ms`, whichever comes first. */
  async nextChange(sessionId: string, ms: number): Promise<void> {
    await this.watch(sessionId).next(ms);
  }
}
