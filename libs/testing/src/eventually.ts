import { setTimeout as delay } from 'node:timers/promises';

/**
 * Retries `check` until it returns without throwing, and returns its value; after `timeoutMs` the last
 * failure is rethrown with the time waited. Use it to wait for asynchronous effects instead of sleeping.
 */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) {
        if (error instanceof Error) {
          error.message = `Still failing after ${timeoutMs} ms: ${error.message}`;
          throw error;
        }
        throw new Error(`Still failing after ${timeoutMs} ms: ${String(error)}`);
      }
    }
    await delay(intervalMs);
  }
}
