import type { PendingEvent } from '@sigillum/contracts';
import type { ExpectedVersion } from './event-store.port';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Checks every adapter applies before writing, so a bad call fails the same way on every store
 * and never reaches a shared transaction.
 */
export function assertValidAppend(streamId: string, events: readonly PendingEvent[], expected: ExpectedVersion): void {
  if (typeof streamId !== 'string' || streamId.length === 0) {
    throw new TypeError('append() needs a non-empty stream id such as "note-42" (see streamIdOf()).');
  }
  if (streamId.startsWith('$')) {
    throw new TypeError(`Stream id "${streamId}" starts with "$", which is reserved for system streams; pick another id.`);
  }
  if (events.length === 0) {
    throw new TypeError(`append() to "${streamId}" was given no events; skip the call when there is nothing to write.`);
  }
  const validExpected =
    expected === 'any' ||
    expected === 'no-stream' ||
    expected === 'stream-exists' ||
    (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0);
  if (!validExpected) {
    throw new TypeError(
      `Invalid expected version ${JSON.stringify(expected)} for "${streamId}": ` +
        'use "any", "no-stream", "stream-exists" or the 0-based revision of the last event read.',
    );
  }
  const ids = new Set<string>();
  for (const { event, metadata } of events) {
    if (typeof event?.type !== 'string' || !/^[^$]/.test(event.type) || !Number.isSafeInteger(event.version)) {
      throw new TypeError(
        `Every event appended to "${streamId}" needs a type (not starting with "$", reserved for system events) ` + 'and an integer schema version.',
      );
    }
    // KurrentDB only accepts UUID event ids; every adapter enforces it so SQLite runs catch it early.
    if (typeof metadata?.eventId !== 'string' || !UUID.test(metadata.eventId)) {
      throw new TypeError(
        `Event id ${JSON.stringify(metadata?.eventId)} in an append to "${streamId}" is not a UUID; ` +
          'generate event ids with crypto.randomUUID() (or a UUID v5 for deterministic ids).',
      );
    }
    if (ids.has(metadata.eventId)) {
      throw new TypeError(`Event id ${metadata.eventId} appears twice in one append to "${streamId}"; give each event its own id.`);
    }
    ids.add(metadata.eventId);
  }
}

/** JSON text of an event's data or metadata; fails loudly on values JSON cannot carry. */
export function toJsonText(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`${what} is not JSON-serialisable (${(error as Error).message}); convert bigint/Date to strings first.`);
  }
  if (text === undefined) throw new TypeError(`${what} is undefined; use null or an object instead.`);
  return text;
}
