import type { RecordedEvent } from '@sigillum/contracts';
import type { StoreSubscription } from './event-store.port';

/**
 * Drives a subscription shared by every adapter: one handler call at a time, stop() aborts the source
 * and resolves once the in-flight call is done, and the first error (handler or source) stops delivery.
 * Do not await stop() from inside the handler: it waits for that very call.
 */
export function runSubscription(
  source: (signal: AbortSignal) => AsyncIterable<RecordedEvent>,
  handler: (event: RecordedEvent) => Promise<void>,
  onError: (error: Error) => void = reportUnhandled,
  onStopped: () => void = () => undefined,
): StoreSubscription {
  const controller = new AbortController();
  const running = (async () => {
    try {
      for await (const event of source(controller.signal)) {
        if (controller.signal.aborted) break;
        await handler(event);
      }
    } catch (error) {
      if (!controller.signal.aborted) onError(error instanceof Error ? error : new Error(String(error)));
    } finally {
      controller.abort();
      onStopped();
    }
  })();
  return {
    stop: async () => {
      controller.abort();
      await running;
    },
  };
}

function reportUnhandled(error: Error): void {
  console.error(`Event store subscription stopped: ${error.message}. Pass onError to subscribeAll() to handle this.`);
}
