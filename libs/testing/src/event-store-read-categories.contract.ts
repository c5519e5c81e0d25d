import { randomUUID } from 'node:crypto';
import { type RecordedEvent, streamIdOf } from '@sigillum/contracts';
import type { EventStore } from '@sigillum/eventstore';
import { pendingEvent } from './events';

/**
 * `readAll` with `categories` (part of eventStoreContract, run against every adapter): only the events of those
 * categories, in global order, strictly after `after`, `maxCount` counting the events returned — so that a reader
 * paging through a rare category (a rebuild: a page shorter than asked for ends the log) misses nothing.
 */
export function readAllCategoriesContract(store: () => EventStore): void {
  describe('readAll in categories', () => {
    it('returns only the categories asked for, in global order, after `after`; maxCount counts those; none for []', async () => {
      const [wanted, unwanted, alsoWanted] = [category(), category(), category()];
      const marker = await store().append(streamIdOf(wanted, randomUUID()), [pendingEvent('Marker', {})], 'no-stream');
      const written: { category: string; id: string }[] = [];
      // The wanted events are far apart: a page of two of them spans many events of the others.
      for (const each of [wanted, unwanted, unwanted, unwanted, alsoWanted, unwanted, unwanted, wanted, unwanted]) {
        const event = pendingEvent('Noted', { each });
        await store().append(streamIdOf(each, randomUUID()), [event], 'no-stream');
        written.push({ category: each, id: event.metadata.eventId });
      }
      const expected = written.filter((event) => event.category !== unwanted).map((event) => event.id);

      const read = await store().readAll({ after: marker.lastGlobalPosition, categories: [wanted, alsoWanted] });
      expect(read.map(idOf)).toEqual(expected);
      expect(read.map((event) => event.event.data)).toEqual([{ each: wanted }, { each: alsoWanted }, { each: wanted }]);
      expectStrictlyIncreasing(read);

      const first = await store().readAll({ after: marker.lastGlobalPosition, categories: [alsoWanted, wanted], maxCount: 2 });
      expect(first.map(idOf)).toEqual(expected.slice(0, 2));
      const rest = await store().readAll({ after: first[1].globalPosition, categories: [wanted, alsoWanted], maxCount: 2 });
      expect(rest.map(idOf)).toEqual(expected.slice(2));

      expect(await store().readAll({ after: 0n, categories: [category()] })).toEqual([]);
      expect(await store().readAll({ after: marker.lastGlobalPosition, categories: [] })).toEqual([]);
      const all = await store().readAll({ after: marker.lastGlobalPosition });
      expect(all.filter((event) => [wanted, alsoWanted].some((name) => event.streamId.startsWith(`${name}-`))).map(idOf)).toEqual(expected);
    });
  });
}

function category(): string {
  return `ctr${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

function idOf(event: RecordedEvent): string {
  return event.metadata.eventId;
}

function expectStrictlyIncreasing(events: readonly RecordedEvent[]): void {
  for (let index = 1; index < events.length; index++) expect(events[index].globalPosition).toBeGreaterThan(events[index - 1].globalPosition);
}
