import { randomUUID } from 'node:crypto';
import { streamIdOf, type PendingEvent, type RecordedEvent } from '@sigillum/contracts';
import { WrongExpectedVersionError, type EventStore, type ExpectedVersion, type StoreSubscription, type SubscribeAllOptions } from '@sigillum/eventstore';
import { readAllCategoriesContract } from './event-store-read-categories.contract';
import { pendingEvent } from './events';

const TEST_TIMEOUT_MS = 20_000;
const WAIT_TIMEOUT_MS = 10_000;
/**
 * The behaviour every EventStore adapter must share. One store serves the whole suite and every test uses
 * fresh random streams and categories, so it can run against a shared server that already holds data.
 * The store is closed after the suite, then `cleanup` runs (e.g. to delete a temp file).
 */
export function eventStoreContract(adapterName: string, makeStore: () => Promise<EventStore>, cleanup?: () => Promise<void>): void {
  describe(`EventStore contract: ${adapterName}`, () => {
    let store: EventStore;
    const subscriptions: StoreSubscription[] = [];

    beforeAll(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((subscription) => subscription.stop()));
    });
    afterAll(async () => {
      await store?.close();
      await cleanup?.();
    });

    function subscribe(handler: (event: RecordedEvent) => Promise<void>, options?: SubscribeAllOptions): StoreSubscription {
      const subscription = store.subscribeAll(handler, options);
      subscriptions.push(subscription);
      return subscription;
    }

    /** Appends one event per data item and returns them as they should read back. */
    async function appendOneEach(streamId: string, expected: ExpectedVersion, ...data: unknown[]): Promise<PendingEvent[]> {
      const events = data.map((item) => pendingEvent('Noted', item));
      await store.append(streamId, events, expected);
      return events;
    }

    describe('append and readStream', () => {
      it('round-trips types, data, metadata and revisions 0..n', async () => {
        const streamId = newStream();
        const events = [
          pendingEvent('NoteTaken', { text: 'première ✓', count: 1, nested: { ok: true } }),
          pendingEvent('NoteTagged', { tags: ['a', 'b'] }, { version: 2, correlationId: randomUUID() }),
          pendingEvent('NoteArchived', {}),
        ];

        const result = await store.append(streamId, events, 'no-stream');
        const read = await store.readStream(streamId);

        expect(result.nextExpectedVersion).toBe(2);
        expect(read.map((recorded) => recorded.streamRevision)).toEqual([0, 1, 2]);
        expect(read.map((recorded) => recorded.streamId)).toEqual([streamId, streamId, streamId]);
        expect(read.map(({ event, metadata }) => ({ event, metadata }))).toEqual(events);
        expectStrictlyIncreasing(read);
        expect(read[2].globalPosition).toBe(result.lastGlobalPosition);
      });

      it('reads a slice with fromRevision and maxCount', async () => {
        const streamId = newStream();
        const events = await appendOneEach(streamId, 'no-stream', 0, 1, 2, 3, 4);

        const slice = await store.readStream(streamId, { fromRevision: 2, maxCount: 2 });

        expect(slice.map((recorded) => recorded.streamRevision)).toEqual([2, 3]);
        expect(slice.map(idOf)).toEqual([events[2], events[3]].map(idOf));
      });

      it('reads the same stream again and again as it grows: every slice is what the stream holds at that moment', async () => {
        const streamId = newStream();
        await appendOneEach(streamId, 'no-stream', 0, 1, 2);
        const revisions = async (options?: { fromRevision?: number; maxCount?: number }) =>
          (await store.readStream(streamId, options)).map((recorded) => recorded.streamRevision);

        expect(await revisions()).toEqual([0, 1, 2]);
        expect(await revisions({ fromRevision: 1, maxCount: 1 })).toEqual([1]);
        await appendOneEach(streamId, 2, 3, 4);
        expect(await revisions({ fromRevision: 2 })).toEqual([2, 3, 4]);
        expect(await revisions({ fromRevision: 4, maxCount: 5 })).toEqual([4]);
        expect(await revisions({ fromRevision: 7 })).toEqual([]);
        (await store.readStream(streamId)).pop(); // a caller's array is its own
        expect(await revisions()).toEqual([0, 1, 2, 3, 4]);
      });

      it('reads a stream that does not exist as empty', async () => {
        await expect(store.readStream(newStream())).resolves.toEqual([]);
      });

      it('rejects malformed appends before writing anything', async () => {
        const streamId = newStream();

        await expect(store.append(streamId, [], 'any')).rejects.toThrow(TypeError);
        await expect(store.append(streamId, [pendingEvent('Noted', {}, { eventId: 'not-a-uuid' })], 'any')).rejects.toThrow(/not a UUID/);
        const twice = pendingEvent('Noted', {});
        await expect(store.append(streamId, [twice, twice], 'any')).rejects.toThrow(/appears twice/);
        await expect(store.append(streamId, [pendingEvent('Noted', {})], -2)).rejects.toThrow(/Invalid expected version/);

        await expect(store.readStream(streamId)).resolves.toEqual([]);
      });
    });

    describe('expected version', () => {
      it('"no-stream" succeeds on a new stream, then fails once it exists', async () => {
        const streamId = newStream();

        await expect(store.append(streamId, [pendingEvent('Noted', {})], 'no-stream')).resolves.toMatchObject({
          nextExpectedVersion: 0,
        });
        await expectWrongExpectedVersion(store.append(streamId, [pendingEvent('Noted', {})], 'no-stream'), streamId, 'no-stream', 0);
      });

      it('a revision number succeeds when it is the last revision, and reports the actual one otherwise', async () => {
        const streamId = newStream();
        await appendOneEach(streamId, 'no-stream', 0, 1);

        await expect(store.append(streamId, [pendingEvent('Noted', 2)], 1)).resolves.toMatchObject({ nextExpectedVersion: 2 });
        await expectWrongExpectedVersion(store.append(streamId, [pendingEvent('Noted', {})], 1), streamId, 1, 2);
        await expectWrongExpectedVersion(store.append(streamId, [pendingEvent('Noted', {})], 5), streamId, 5, 2);
        const missing = newStream();
        await expectWrongExpectedVersion(store.append(missing, [pendingEvent('Noted', {})], 0), missing, 0, -1);
      });

      it('"stream-exists" fails on a missing stream and succeeds on an existing one', async () => {
        const streamId = newStream();

        await expectWrongExpectedVersion(store.append(streamId, [pendingEvent('Noted', {})], 'stream-exists'), streamId, 'stream-exists', -1);
        await appendOneEach(streamId, 'no-stream', 0);
        await expect(store.append(streamId, [pendingEvent('Noted', {})], 'stream-exists')).resolves.toMatchObject({
          nextExpectedVersion: 1,
        });
      });

      it('"any" appends whatever the stream state', async () => {
        const streamId = newStream();

        await expect(store.append(streamId, [pendingEvent('Noted', {})], 'any')).resolves.toMatchObject({ nextExpectedVersion: 0 });
        await expect(store.append(streamId, [pendingEvent('Noted', {})], 'any')).resolves.toMatchObject({ nextExpectedVersion: 1 });
      });

      it('of concurrent appends with the same expected version, exactly one wins', async () => {
        const streamId = newStream();
        const [first] = await appendOneEach(streamId, 'no-stream', 'first');
        const contenders = Array.from({ length: 5 }, (_, index) => pendingEvent('Noted', { contender: index }));

        const outcomes = await Promise.allSettled(contenders.map((event) => store.append(streamId, [event], 0)));

        const winners = outcomes.flatMap((outcome, index) => (outcome.status === 'fulfilled' ? [contenders[index]] : []));
        expect(winners).toHaveLength(1);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') {
            expect(outcome.reason).toBeInstanceOf(WrongExpectedVersionError);
            expect(outcome.reason).toMatchObject({ streamId, expected: 0, actual: 1 });
          }
        }
        const read = await store.readStream(streamId);
        expect(read.map(idOf)).toEqual([first, winners[0]].map(idOf));
      });

      it('a refused append writes none of its events, and does not disturb appends issued alongside it', async () => {
        const existing = newStream();
        await appendOneEach(existing, 'no-stream', 'kept');
        const [before, after] = [newStream(), newStream()];
        const refused = [pendingEvent('Noted', 1), pendingEvent('Noted', 2), pendingEvent('Noted', 3)];

        const outcomes = await Promise.allSettled([
          store.append(before, [pendingEvent('Noted', 'before')], 'no-stream'),
          store.append(existing, refused, 7),
          store.append(after, [pendingEvent('Noted', 'after')], 'no-stream'),
        ]);

        expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
        expect((await store.readStream(existing)).map((recorded) => recorded.event.data)).toEqual(['kept']);
        expect(await store.readStream(before)).toHaveLength(1);
        expect(await store.readStream(after)).toHaveLength(1);
      });
    });

    describe('readAll', () => {
      it('returns events in global order, strictly after `after`, up to maxCount', async () => {
        const [first, second] = [newStream(), newStream()];
        const marker = await store.append(first, [pendingEvent('Marker', {})], 'no-stream');
        const written = [
          ...(await appendOneEach(first, 0, 'a', 'b')),
          ...(await appendOneEach(second, 'no-stream', 'c')),
          ...(await appendOneEach(first, 2, 'd')),
        ];

        const all = await store.readAll({ after: marker.lastGlobalPosition });
        const ours = all.filter((recorded) => recorded.streamId === first || recorded.streamId === second);

        expect(ours.map(idOf)).toEqual(written.map(idOf));
        expect(ours.map((recorded) => `${recorded.streamId === first ? 'first' : 'second'}@${recorded.streamRevision}`)).toEqual([
          'first@1',
          'first@2',
          'second@0',
          'first@3',
        ]);
        expect(all.every((recorded) => recorded.globalPosition > marker.lastGlobalPosition)).toBe(true);
        expectStrictlyIncreasing(all);

        const page = await store.readAll({ after: marker.lastGlobalPosition, maxCount: 2 });
        expect(page).toHaveLength(2);
        expect(page[0].globalPosition).toBeGreaterThan(marker.lastGlobalPosition);
        expectStrictlyIncreasing(page);

        const afterFirstOfOurs = await store.readAll({ after: ours[0].globalPosition });
        const ids = afterFirstOfOurs.map(idOf);
        expect(ids).not.toContain(idOf(written[0]));
        expect(ids).toEqual(expect.arrayContaining(written.slice(1).map(idOf)));
      });

      it('gives every event a bigint global position, strictly increasing across streams and appends', async () => {
        const streams = [newStream(), newStream(), newStream()];
        const results = [];
        for (const streamId of [...streams, ...streams]) {
          results.push(await store.append(streamId, [pendingEvent('Noted', {}), pendingEvent('Noted', {})], 'any'));
        }

        expect(results.every((result) => typeof result.lastGlobalPosition === 'bigint')).toBe(true);
        for (let index = 1; index < results.length; index++) {
          expect(results[index].lastGlobalPosition).toBeGreaterThan(results[index - 1].lastGlobalPosition);
        }
        const read = await store.readAll({ after: results[0].lastGlobalPosition });
        expectStrictlyIncreasing(read);
      });
    });
    readAllCategoriesContract(() => store);
    describe('subscribeAll', () => {
      it(
        'catches up on existing events, then delivers new ones, in order, one at a time',
        async () => {
          const category = newCategory();
          const [first, second] = [newStream(category), newStream(category)];
          const existing = await appendOneEach(first, 'no-stream', 'old-1', 'old-2');
          const received: RecordedEvent[] = [];
          let running = 0;
          let maxRunning = 0;

          subscribe(
            async (event) => {
              maxRunning = Math.max(maxRunning, ++running);
              await new Promise((resolve) => setTimeout(resolve, 5));
              received.push(event);
              running--;
            },
            { categories: [category] },
          );
          await waitUntil(() => received.length === 2, 'the two existing events');
          const live = [...(await appendOneEach(first, 1, 'new-1')), ...(await appendOneEach(second, 'no-stream', 'new-2'))];
          await waitUntil(() => received.length === 4, 'the two live events');

          expect(received.map(idOf)).toEqual([...existing, ...live].map(idOf));
          expect(received[2]).toMatchObject({ streamId: first, streamRevision: 2, event: live[0].event, metadata: live[0].metadata });
          expectStrictlyIncreasing(received);
          expect(maxRunning).toBe(1);
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'starts strictly after the given checkpoint',
        async () => {
          const category = newCategory();
          const streamId = newStream(category);
          const written = await appendOneEach(streamId, 'no-stream', 0, 1, 2);
          const [checkpoint] = await store.readStream(streamId, { maxCount: 1 });
          const received: RecordedEvent[] = [];

          subscribe(async (event) => void received.push(event), { after: checkpoint.globalPosition, categories: [category] });
          await waitUntil(() => received.length === 2, 'the events after the checkpoint');
          const live = await appendOneEach(streamId, 2, 3);
          await waitUntil(() => received.length === 3, 'the live event');

          expect(received.map(idOf)).toEqual([...written.slice(1), ...live].map(idOf));
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'delivers only the categories asked for; without categories, everything',
        async () => {
          const [wanted, unwanted, alsoWanted] = [newCategory(), newCategory(), newCategory()];
          const marker = await store.append(newStream(wanted), [pendingEvent('Marker', {})], 'no-stream');
          const written: PendingEvent[] = [];
          for (const category of [wanted, unwanted, alsoWanted, unwanted, wanted]) {
            written.push(...(await appendOneEach(newStream(category), 'no-stream', category)));
          }
          const sentinelStream = newStream(wanted);
          const [sentinel] = await appendOneEach(sentinelStream, 'no-stream', 'sentinel');
          const filtered: RecordedEvent[] = [];
          const unfiltered: RecordedEvent[] = [];

          subscribe(async (event) => void filtered.push(event), { after: marker.lastGlobalPosition, categories: [wanted, alsoWanted] });
          subscribe(async (event) => void unfiltered.push(event), { after: marker.lastGlobalPosition });
          // Delivery is in global order, so once the sentinel arrives everything before it has been considered.
          await waitUntil(() => [filtered, unfiltered].every((events) => events.some((event) => idOf(event) === idOf(sentinel))), 'the sentinel');

          expect(filtered.map(idOf)).toEqual([written[0], written[2], written[4], sentinel].map(idOf));
          expect(unfiltered.map(idOf)).toEqual(expect.arrayContaining([...written, sentinel].map(idOf)));
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'stop() waits for the handler call in flight, and nothing is delivered afterwards',
        async () => {
          const category = newCategory();
          const streamId = newStream(category);
          await appendOneEach(streamId, 'no-stream', 'held', 'never');
          const received: RecordedEvent[] = [];
          let release!: () => void;
          const gate = new Promise<void>((resolve) => (release = resolve));
          let handlerStarted = false;

          const subscription = subscribe(
            async (event) => {
              handlerStarted = true;
              await gate;
              received.push(event);
            },
            { categories: [category] },
          );
          await waitUntil(() => handlerStarted, 'the first handler call');
          let stopped = false;
          const stopping = subscription.stop().then(() => (stopped = true));
          await sleep(100);
          expect(stopped).toBe(false);
          release();
          await stopping;
          await appendOneEach(streamId, 1, 'after-stop');
          await sleep(1_000); // longer than any adapter's poll interval

          expect(received.map((recorded) => recorded.event.data)).toEqual(['held']);
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'a throwing handler is reported to onError and ends the subscription',
        async () => {
          const category = newCategory();
          const streamId = newStream(category);
          await appendOneEach(streamId, 'no-stream', 'boom', 'never');
          const calls: RecordedEvent[] = [];
          const errors: Error[] = [];

          subscribe(
            async (event) => {
              calls.push(event);
              throw new Error('handler failed');
            },
            { categories: [category], onError: (error) => errors.push(error) },
          );
          await waitUntil(() => errors.length === 1, 'onError');
          await appendOneEach(streamId, 1, 'after-error');
          await sleep(1_000);

          expect(errors[0].message).toBe('handler failed');
          expect(calls).toHaveLength(1);
        },
        TEST_TIMEOUT_MS,
      );
    });

    describe('many appends at once', () => {
      it(
        'appends to many streams in parallel all land with the right revisions',
        async () => {
          const streams = Array.from({ length: 100 }, () => newStream());
          const firsts = streams.map(() => pendingEvent('Noted', 'first'));
          const seconds = streams.map(() => [pendingEvent('Noted', 'second'), pendingEvent('Noted', 'third')]);

          const round1 = await Promise.all(streams.map((streamId, index) => store.append(streamId, [firsts[index]], 'no-stream')));
          const round2 = await Promise.all(streams.map((streamId, index) => store.append(streamId, seconds[index], 0)));

          expect(round1.every((result) => result.nextExpectedVersion === 0)).toBe(true);
          expect(round2.every((result) => result.nextExpectedVersion === 2)).toBe(true);
          const positions = [...round1, ...round2].map((result) => result.lastGlobalPosition);
          expect(new Set(positions).size).toBe(positions.length);
          const read = await Promise.all(streams.map((streamId) => store.readStream(streamId)));
          read.forEach((events, index) => {
            expect(events.map((recorded) => recorded.streamRevision)).toEqual([0, 1, 2]);
            expect(events.map(idOf)).toEqual([firsts[index], ...seconds[index]].map(idOf));
          });
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'parallel "any" appends to one stream get distinct, gapless revisions',
        async () => {
          const streamId = newStream();
          const events = Array.from({ length: 50 }, (_, index) => pendingEvent('Noted', index));

          const results = await Promise.all(events.map((event) => store.append(streamId, [event], 'any')));

          expect(results.map((result) => result.nextExpectedVersion).sort((a, b) => a - b)).toEqual(events.map((_, index) => index));
          const read = await store.readStream(streamId);
          expect(read).toHaveLength(50);
          results.forEach((result, index) => expect(idOf(read[result.nextExpectedVersion])).toBe(idOf(events[index])));
        },
        TEST_TIMEOUT_MS,
      );
    });
  });
}

function newCategory(): string {
  return `ctr${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

function newStream(category = 'contract'): string {
  return streamIdOf(category, randomUUID());
}

function idOf(event: { readonly metadata: { readonly eventId: string } }): string {
  return event.metadata.eventId;
}

function expectStrictlyIncreasing(events: readonly RecordedEvent[]): void {
  for (let index = 1; index < events.length; index++) {
    expect(events[index].globalPosition).toBeGreaterThan(events[index - 1].globalPosition);
  }
}

async function expectWrongExpectedVersion(append: Promise<unknown>, streamId: string, expected: ExpectedVersion, actual: number): Promise<void> {
  const error = await append.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(WrongExpectedVersionError);
  expect(error).toMatchObject({ streamId, expected, actual });
}

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + WAIT_TIMEOUT_MS;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Timed out after ${WAIT_TIMEOUT_MS} ms waiting for ${what}.`);
    await sleep(10);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
