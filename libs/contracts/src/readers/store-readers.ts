import type { DomainEvent, RecordedEvent } from '../event';
import type { EventCategory, EventsByCategory } from '../event-catalogue';
import { readEvent } from './event-readers';

/**
 * The events of a `category` stream read back from the store, typed and checked by the same readers as the bus
 * consumers (instead of `event as PartyEvent`): events of a type this code does not know (a newer producer's) are
 * left out, as consumers skip them; one that does not fit throws ShapeError naming the field.
 */
export function eventsOf<C extends EventCategory>(category: C, recorded: readonly { readonly event: DomainEvent }[]): EventsByCategory[C][] {
  const events: EventsByCategory[C][] = [];
  for (const { event } of recorded) {
    const read = readEvent(category, event.type, event.version, event.data);
    if (read) events.push(read);
  }
  return events;
}

/** Like eventsOf, keeping each event's store position and metadata. */
export function recordedEventsOf<C extends EventCategory>(category: C, recorded: readonly RecordedEvent[]): RecordedEvent<EventsByCategory[C]>[] {
  const events: RecordedEvent<EventsByCategory[C]>[] = [];
  for (const entry of recorded) {
    const event = readEvent(category, entry.event.type, entry.event.version, entry.event.data);
    if (event) events.push({ ...entry, event });
  }
  return events;
}
