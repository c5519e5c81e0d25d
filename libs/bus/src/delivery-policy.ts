import type { DeliveredMessage } from '@sigillum/contracts';
import { DeadLetterHeaders, PoisonMessageError } from './event-bus.port';
import { eventHandlingSeconds } from './observability/bus-metrics';

/**
 * The retry and dead-letter policy shared by every adapter: each adapter only decides how to commit
 * and where to write a dead letter; what counts as "give up" is decided here, once.
 */
export interface RetryPolicy {
  /** Handler attempts before the message is dead-lettered; at least 1. */
  readonly maxAttempts: number;
  /** Wait before the 2nd attempt; doubles each attempt up to `maxBackoffMs`. */
  readonly retryBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_RETRY_BACKOFF_MS = 100;
export const DEFAULT_MAX_BACKOFF_MS = 2_000;

export function retryPolicy(maxAttempts: number | undefined, retryBackoffMs = DEFAULT_RETRY_BACKOFF_MS, maxBackoffMs = DEFAULT_MAX_BACKOFF_MS): RetryPolicy {
  const attempts = maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isSafeInteger(attempts) || attempts < 1) {
    throw new TypeError(`maxAttempts must be an integer >= 1 (got ${JSON.stringify(maxAttempts)}); use 1 to dead-letter on the first failure.`);
  }
  if (!(retryBackoffMs >= 0) || !(maxBackoffMs >= 0)) throw new TypeError('retry backoff times must be >= 0 ms.');
  return { maxAttempts: attempts, retryBackoffMs, maxBackoffMs };
}

export type DeliveryOutcome =
  | { readonly kind: 'handled'; readonly attempts: number }
  /** Give up on this message: write it to the dead-letter topic with `reason`, then commit past it. */
  | { readonly kind: 'dead-letter'; readonly attempts: number; readonly reason: string }
  /** The consumer is stopping between attempts: commit nothing, so the message is delivered again. */
  | { readonly kind: 'abandoned'; readonly attempts: number };

export interface DeliveryHooks {
  /** Runs before each retry, e.g. a Kafka heartbeat so a slow retry loop does not get the member evicted. */
  readonly beforeRetry?: () => Promise<void>;
  readonly onAttemptFailed?: (error: unknown, attempt: number) => void;
}

/** Calls the handler until it succeeds, the attempts are spent, it throws PoisonMessageError, or `stopping` aborts. */
export async function deliverWithRetries(
  message: DeliveredMessage,
  handler: (message: DeliveredMessage) => Promise<void>,
  policy: RetryPolicy,
  stopping: AbortSignal,
  hooks: DeliveryHooks = {},
): Promise<DeliveryOutcome> {
  const started = process.hrtime.bigint();
  const outcome = await attemptDelivery(message, handler, policy, stopping, hooks);
  handlingSecondsOf(message.topic, outcome.kind).observe(Number(process.hrtime.bigint() - started) / 1e9);
  return outcome;
}

type HandlingHistogram = ReturnType<typeof eventHandlingSeconds.labels>;
const handlingChildren = new Map<string, HandlingHistogram>();

/** The histogram's series of a topic and outcome, looked up once (prom-client hashes the labels on every observe otherwise). */
function handlingSecondsOf(topic: string, outcome: DeliveryOutcome['kind']): HandlingHistogram {
  const key = `${outcome} ${topic}`;
  let child = handlingChildren.get(key);
  if (!child) handlingChildren.set(key, (child = eventHandlingSeconds.labels({ topic, outcome })));
  return child;
}

async function attemptDelivery(
  message: DeliveredMessage,
  handler: (message: DeliveredMessage) => Promise<void>,
  policy: RetryPolicy,
  stopping: AbortSignal,
  hooks: DeliveryHooks,
): Promise<DeliveryOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      await handler(message);
      return { kind: 'handled', attempts: attempt };
    } catch (error) {
      hooks.onAttemptFailed?.(error, attempt);
      if (isPoison(error)) return { kind: 'dead-letter', attempts: attempt, reason: poisonReason(error) };
      if (attempt >= policy.maxAttempts) {
        return { kind: 'dead-letter', attempts: attempt, reason: `handler failed ${attempt} time(s); last error: ${describe(error)}` };
      }
      if (stopping.aborted) return { kind: 'abandoned', attempts: attempt };
      await sleep(Math.min(policy.retryBackoffMs * 2 ** (attempt - 1), policy.maxBackoffMs), stopping);
      if (stopping.aborted) return { kind: 'abandoned', attempts: attempt };
      await hooks.beforeRetry?.();
    }
  }
}

/** Also recognises a PoisonMessageError from another copy of this module (name check). */
export function isPoison(error: unknown): error is Error {
  return error instanceof PoisonMessageError || (error instanceof Error && error.name === 'PoisonMessageError');
}

export function poisonReason(error: Error): string {
  return truncate(`poison message: ${error.message}`);
}

function describe(error: unknown): string {
  if (error instanceof Error) return truncate(error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message);
  return truncate(String(error));
}

const MAX_REASON_LENGTH = 1_000;
function truncate(text: string): string {
  return text.length > MAX_REASON_LENGTH ? `${text.slice(0, MAX_REASON_LENGTH - 1)}…` : text;
}

/** Where a dead letter came from and why: the values of the DeadLetterHeaders. */
export interface DeadLetterInfo {
  readonly reason: string;
  readonly originalTopic: string;
  readonly originalPartition: number;
  readonly originalOffset: string;
  readonly group: string;
  /** Handler attempts made; 0 when the message could not even be decoded. */
  readonly attempts: number;
}

export function deadLetterHeaders(info: DeadLetterInfo): Record<string, string> {
  return {
    [DeadLetterHeaders.reason]: info.reason,
    [DeadLetterHeaders.originalTopic]: info.originalTopic,
    [DeadLetterHeaders.originalPartition]: String(info.originalPartition),
    [DeadLetterHeaders.originalOffset]: info.originalOffset,
    [DeadLetterHeaders.group]: info.group,
    [DeadLetterHeaders.attempts]: String(info.attempts),
  };
}

/** The non-CloudEvents headers of a delivered message (empty when it has none). */
export function headersOf(message: DeliveredMessage): Readonly<Record<string, string>> {
  return message.headers ?? {};
}

/** The dead-letter facts of a message read from a `<topic>.dlq` topic, or undefined for an ordinary message. */
export function deadLetterInfoOf(message: DeliveredMessage): DeadLetterInfo | undefined {
  const headers = headersOf(message);
  const reason = headers[DeadLetterHeaders.reason];
  if (reason === undefined) return undefined;
  return {
    reason,
    originalTopic: headers[DeadLetterHeaders.originalTopic] ?? '',
    originalPartition: Number(headers[DeadLetterHeaders.originalPartition] ?? NaN),
    originalOffset: headers[DeadLetterHeaders.originalOffset] ?? '',
    group: headers[DeadLetterHeaders.group] ?? '',
    attempts: Number(headers[DeadLetterHeaders.attempts] ?? NaN),
  };
}

/**
 * Wakers of the waits on each signal. A consumer may have many messages waiting between retries at once (up to its
 * in-flight limit); one abort listener per signal wakes them all, instead of one listener per wait (which Node
 * reports as a leak, MaxListenersExceededWarning, past ten).
 */
const wakers = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls `wake` when `signal` aborts; returns the function that forgets it. */
export function onAbort(signal: AbortSignal, wake: () => void): () => void {
  let set = wakers.get(signal);
  if (!set) {
    const waiting = new Set<() => void>();
    signal.addEventListener('abort', () => [...waiting].forEach((waker) => waker()), { once: true });
    wakers.set(signal, (set = waiting));
  }
  set.add(wake);
  return () => set.delete(wake);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      forget?.();
      resolve();
    };
    const timer = setTimeout(done, ms);
    const forget = signal ? onAbort(signal, done) : undefined;
  });
}
