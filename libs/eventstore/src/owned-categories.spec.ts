import { randomUUID } from 'node:crypto';
import { type RecordedEvent, streamIdOf } from '@sigillum/contracts';
import { pendingEvent } from '@sigillum/testing';
import type { EventStore } from './event-store.port';
import { ForeignStreamWriteError, OwnedCategoriesEventStore, restrictToOwnedCategories } from './owned-categories';
import { SqliteEventStore } from './sqlite/sqlite-event-store';

describe('OwnedCategoriesEventStore', () => {
  let inner: SqliteEventStore;
  let store: OwnedCategoriesEventStore;

  beforeEach(() => {
    inner = new SqliteEventStore({ filename: ':memory:' });
    store = new OwnedCategoriesEventStore(inner, ['evidence', 'chain']);
  });
  afterEach(async () => {
    await store.close();
  });

  it('appends to a stream of an owned category', async () => {
    const streamId = streamIdOf('evidence', randomUUID());
    const result = await store.append(streamId, [pendingEvent('Noted', { n: 1 })], 'no-stream');
    expect(result.nextExpectedVersion).toBe(0);
    expect((await inner.readStream(streamId)).map((e) => e.event.data)).toEqual([{ n: 1 }]);
  });

  it('refuses an append to a foreign category with ForeignStreamWriteError, writing nothing', async () => {
    const streamId = streamIdOf('party', randomUUID());
    const refusal = await store.append(streamId, [pendingEvent('PartyRegistered', {})], 'any').catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ForeignStreamWriteError);
    const error = refusal as ForeignStreamWriteError;
    expect(error.name).toBe('ForeignStreamWriteError');
    expect(error.streamId).toBe(streamId);
    expect(error.category).toBe('party');
    expect(error.ownedCategories).toEqual(['chain', 'evidence']);
    expect(error.message).toContain(streamId);
    expect(error.message).toContain('"party"');
    expect(error.message).toContain('"chain", "evidence"');
    expect(error.message).toContain('ownedCategories');
    expect(await inner.readStream(streamId)).toEqual([]);
    expect(await inner.readAll()).toEqual([]);
  });

  it('judges the category, not a prefix: "evidencex-1" and "chain" without an id are told apart', async () => {
    expect(store.mayAppendTo('evidencex-1')).toBe(false);
    expect(store.mayAppendTo('evidence-1')).toBe(true);
    expect(store.mayAppendTo('evidence-a-b-c')).toBe(true);
    expect(store.mayAppendTo('chain')).toBe(true); // a stream id without a dash is its own category
    expect(store.mayAppendTo('')).toBe(false);
  });

  it('names "no category" when the process owns none (a read-only role such as projections)', async () => {
    const readOnly = new OwnedCategoriesEventStore(inner, []);
    const refusal = await readOnly.append('evidence-1', [pendingEvent('Noted', {})], 'any').catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ForeignStreamWriteError);
    expect((refusal as Error).message).toContain('no category');
  });

  it('passes reads, subscriptions and health through, foreign streams included', async () => {
    const foreign = streamIdOf('party', randomUUID());
    await inner.append(foreign, [pendingEvent('PartyRegistered', { name: 'A' })], 'no-stream');
    const own = streamIdOf('chain', randomUUID());
    await store.append(own, [pendingEvent('Linked', {})], 'no-stream');

    expect((await store.readStream(foreign)).map((e) => e.event.data)).toEqual([{ name: 'A' }]);
    expect((await store.readAll()).map((e) => e.streamId)).toEqual([foreign, own]);
    expect((await store.readAll({ maxCount: 1 })).map((e) => e.streamId)).toEqual([foreign]);
    expect(await store.health()).toEqual(await inner.health());

    const seen: RecordedEvent[] = [];
    const subscription = store.subscribeAll(
      async (event) => {
        seen.push(event);
      },
      { categories: ['party'] },
    );
    const deadline = Date.now() + 5_000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await subscription.stop();
    expect(seen.map((e) => e.streamId)).toEqual([foreign]);
  });

  it('closes the adapter it wraps', async () => {
    const calls: string[] = [];
    const fake = { close: async () => void calls.push('close') } as unknown as EventStore;
    await new OwnedCategoriesEventStore(fake, []).close();
    expect(calls).toEqual(['close']);
  });
});

describe('restrictToOwnedCategories', () => {
  const fake = {} as EventStore;

  it('leaves the store as it is when no categories are declared (all allowed)', () => {
    expect(restrictToOwnedCategories(fake, undefined)).toBe(fake);
  });

  it('wraps the store when categories are declared, even none', () => {
    expect(restrictToOwnedCategories(fake, ['party'])).toBeInstanceOf(OwnedCategoriesEventStore);
    expect(restrictToOwnedCategories(fake, [])).toBeInstanceOf(OwnedCategoriesEventStore);
  });
});
