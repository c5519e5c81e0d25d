import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { BusMessage } from '@sigillum/contracts';

/**
 * What the code running now is handling: an HTTP request or a consumed event. Log lines take their ids from it, and
 * events recorded while it is current take its `traceparent` (W3C Trace Context), so a letter's events, on any role and
 * in any process, carry the trace id of the request that sent it.
 */
export interface HandlingContext {
  /** W3C `traceparent` (version 00): `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`. */
  readonly traceparent?: string;
  /** Of the event being handled (absent while handling an HTTP request). */
  readonly correlationId?: string;
  /** The id of the event being handled: the causation of whatever it leads to. */
  readonly causationId?: string;
  readonly eventType?: string;
}

const storage = new AsyncLocalStorage<HandlingContext>();

/** The context of the code running now, if any. */
export function currentHandling(): HandlingContext | undefined {
  return storage.getStore();
}

/** Runs `fn` with `context` as the current handling context (nested calls see it through every await). */
export function runHandling<T>(context: HandlingContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The context of handling one consumed message: its ids and its trace. */
export function messageHandling(message: Pick<BusMessage, 'id' | 'type' | 'correlationId' | 'traceparent'>): HandlingContext {
  const context = { correlationId: message.correlationId, causationId: message.id, eventType: message.type };
  return message.traceparent ? { traceparent: message.traceparent, ...context } : context;
}

/** The W3C header name, also used for the trace context in the embedded bus's headers column. */
export const TRACEPARENT_HEADER = 'traceparent';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The header when it is a valid version-00 traceparent (not all-zero ids), else undefined: an invalid one is ignored, as the spec says. */
export function validTraceparent(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!match || /^0+$/.test(match[1]) || /^0+$/.test(match[2])) return undefined;
  return match[0];
}

/** A new traceparent: random trace id and parent id, sampled flag set (there is no sampler: every request is traced). */
export function newTraceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

/** The trace id of a traceparent (what log searches use), or undefined. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent ? TRACEPARENT.exec(traceparent)?.[1] : undefined;
}
