import { randomBytes } from 'node:crypto';
import type { BusMessage } from '@sigillum/contracts';
import type { CommandContext } from '@sigillum/eventstore';

/**
 * What handling `message` leads to is caused by it: its correlation, itself as the cause, and its W3C `traceparent`, so
 * that the events recorded while handling it carry, on any role and in any process, the trace id of the HTTP request
 * that started the letter. Passed explicitly with the command, never kept in an AsyncLocalStorage: its promise hooks
 * cost ~4 % of a delivery's CPU (docs/design/performance.md, twelfth round).
 */
export function causedBy(message: Pick<BusMessage, 'id' | 'correlationId' | 'traceparent'>): CommandContext {
  const context = { correlationId: message.correlationId, causationId: message.id };
  return message.traceparent ? { ...context, traceparent: message.traceparent } : context;
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
