import { Injectable } from '@nestjs/common';

/**
 * In-process wake-up calls: the consumer says "session X changed" after it appended to its stream, so that a
 * `POST /sessions` waiting for the challenge answers at once instead of at the next poll.
 */
@Injectable()
export class SessionNotifier {
  private readonly waiters = new Map<string, Set<() => void>>();

  changed(sessionId: string): void {
    const waiting = this.waiters.get(sessionId);
    if (!waiting) return;
    this.waiters.delete(sessionId);
    for (const wake of waiting) wake();
  }

  /** Resolves on the next change of the session or after `ms`, whichever comes first. */
  nextChange(sessionId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiting = this.waiters.get(sessionId) ?? new Set<() => void>();
      this.waiters.set(sessionId, waiting);
      const wake = () => {
        clearTimeout(timer);
        waiting.delete(wake);
        if (waiting.size === 0 && this.waiters.get(sessionId) === waiting) this.waiters.delete(sessionId);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, ms));
      waiting.add(wake);
    });
  }
}
