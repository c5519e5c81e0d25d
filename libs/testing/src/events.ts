import { randomUUID } from 'node:crypto';
import type { DomainEvent, EventMetadata, PendingEvent } from '@sigillum/contracts';

/** A fixed instant, so tests never depend on the wall clock. */
export const TEST_OCCURRED_AT = '2025-01-01T00:00:00.000Z';

/** A pending event with a fresh UUID event id and fixed, valid metadata; override any field. */
export function pendingEvent<Type extends string, Data>(
  type: Type,
  data: Data,
  overrides: Partial<EventMetadata> & { readonly version?: number } = {},
): PendingEvent<DomainEvent<Type, Data>> {
  const { version = 1, ...metadata } = overrides;
  const eventId = metadata.eventId ?? randomUUID();
  return {
    event: { type, version, data },
    metadata: {
      eventId,
      correlationId: eventId,
      causationId: eventId,
      occurredAt: TEST_OCCURRED_AT,
      source: 'sigillum/test',
      ...metadata,
    },
  };
}
