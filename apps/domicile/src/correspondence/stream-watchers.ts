/**
 * In-process wake-up calls keyed by stream: whoever appends to a stream says so, and a request waiting for that
 * stream to change (sending waiting for the delivery gate) answers at once instead of polling the store.
 * `watch` starts listening immediately, so a caller can watch, read, then wait, without missing a change between.
 */
export class StreamWatchers {
  private readonly waiters = new Map<string, Set<() => void>>();

  changed(key: string): void {
    const waiting = this.waiters.get(key);
    if (!waiting) return;
    this.waiters.delete(key);
    for (const wake of waiting) wake();
  }

  watch(key: string): { next(ms: number): Promise<boolean>; cancel(): void } {
    let fired = false;
    let resolveNext: ((changed: boolean) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const waiting = this.waiters.get(key) ?? new Set<() => void>();
    this.waiters.set(key, waiting);
    const stop = () => {
      waiting.delete(wake);
      if (waiting.size === 0 && this.waiters.get(key) === waiting) this.waiters.delete(key);
      clearTimeout(timer);
    };
    const wake = () => {
      if (fired) return;
      fired = true;
      stop();
      resolveNext?.(true);
    };
    waiting.add(wake);
    return {
      next: (ms) => {
        if (fired) return Promise.resolve(true);
        return new Promise((resolve) => {
          resolveNext = resolve;
          timer = setTimeout(
            () => {
              fired = true;
              stop();
              resolve(false);
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
}
