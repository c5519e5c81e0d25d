import { randomUUID } from 'node:crypto';
import { type Decider, type DomainEvent, DomainError } from '@sigillum/contracts';
import { commandHandler, type CommandContext } from './command-handler';
import type { EventStore, ReadStreamOptions } from './event-store.port';
import { FoldedStreamCache, loadFolded } from './folded-stream-cache';
import { SqliteEventStore } from './sqlite/sqlite-event-store';

/** A counter that refuses to go past its limit: a decision that depends on every event before it. */
type Added = DomainEvent<'Added', { readonly amount: number }>;
type Add = { readonly amount: number };
interface Counter {
  readonly total: number;
  readonly history: readonly number[];
}
const LIMIT = 10;
const counter: Decider<Add, Counter, Added> = {
  initialState: () => ({ total: 0, history: [] }),
  evolve: (state, event) => ({ total: state.total + event.data.amount, history: [...state.history, event.data.amount] }),
  decide: (command, state) => {
    if (command.amount === 0) return [];
    if (state.total + command.amount > LIMIT) throw new DomainError('counter.over-limit', `Over ${LIMIT}`);
    return [{ type: 'Added', version: 1, data: { amount: command.amount } }];
  },
};

const context: CommandContext = { correlationId: 'c', causationId: 'c' };
const clock = { now: () => new Date('2025-01-01T00:00:00.000Z') };
const ids = { next: () => randomUUID() };

/** The store, with the `fromRevision` of every read recorded and an optional hook run before each append. */
function instrumented(inner: EventStore) {
  const reads: Array<number | undefined> = [];
  let beforeAppend: (() => Promise<void>) | undefined;
  const store: EventStore = Object.create(inner, {
    readStream: {
      value: (streamId: string, options?: ReadStreamOptions) => {
        reads.push(options?.fromRevision);
        return inner.readStream(streamId, options);
      },
    },
    append: {
      value: async (...args: Parameters<EventStore['append']>) => {
        const hook = beforeAppend;
        beforeAppend = undefined;
        if (hook) await hook();
        return inner.append(...args);
      },
    },
  });
  return { store, reads, onceBeforeAppend: (hook: () => Promise<void>) => (beforeAppend = hook) };
}

describe('commandHandler with the folded-state cache', () => {
  let inner: SqliteEventStore;

  beforeEach(() => {
    inner = new SqliteEventStore({ filename: ':memory:' });
  });
  afterEach(async () => {
    await inner.close();
  });

  const deps = (store: EventStore, cached: boolean) => ({ store, clock, ids, source: '/sigillum/test', ...(cached ? { cache: { maxStreams: 100 } } : {}) });

  it('a cached fold equals a fresh fold of the whole stream', async () => {
    const { store, reads } = instrumented(inner);
    const cached = commandHandler(counter, deps(store, true));
    for (const amount of [1, 2, 3]) await cached('counter-a', { amount }, context);

    reads.length = 0;
    const fromCache = await cached.load('counter-a');
    // Only the events after the cached revision are read: the fold comes from the cache.
    expect(reads).toEqual([3]);
    expect(fromCache).toEqual(await loadFolded(inner, counter, 'counter-a'));
    expect(fromCache).toEqual(await commandHandler(counter, deps(inner, false)).load('counter-a'));
    expect(fromCache).toEqual({ state: { total: 6, history: [1, 2, 3] }, revision: 2 });
  });

  it('answers a command that changes nothing with the cached state and revision', async () => {
    const cached = commandHandler(counter, deps(inner, true));
    await cached('counter-a', { amount: 4 }, context);
    await expect(cached('counter-a', { amount: 0 }, context)).resolves.toEqual({ events: [], state: { total: 4, history: [4] }, nextExpectedVersion: 0 });
    await expect(cached('counter-b', { amount: 0 }, context)).resolves.toEqual({ events: [], state: { total: 0, history: [] }, nextExpectedVersion: -1 });
  });

  it('sees an append by another writer made after the fold was cached', async () => {
    const cached = commandHandler(counter, deps(inner, true));
    const other = commandHandler(counter, deps(inner, false));
    await cached('counter-a', { amount: 5 }, context);
    await other('counter-a', { amount: 4 }, context);

    expect((await cached.load('counter-a')).state.total).toBe(9);
    // The decision rests on the other writer's event too: 9 + 2 is over the limit.
    await expect(cached('counter-a', { amount: 2 }, context)).rejects.toThrow('Over 10');
    await expect(cached('counter-a', { amount: 1 }, context)).resolves.toMatchObject({ state: { total: 10, history: [5, 4, 1] }, nextExpectedVersion: 2 });
  });

  it('decides again on the newer state when another writer appends between its read and its append', async () => {
    const { store, onceBeforeAppend } = instrumented(inner);
    const cached = commandHandler(counter, deps(store, true));
    await cached('counter-a', { amount: 3 }, context);

    onceBeforeAppend(async () => {
      await commandHandler(counter, deps(inner, false))('counter-a', { amount: 6 }, context);
    });
    // First attempt decided on 3 (3 + 4 <= 10) and lost the race; the retry sees 9 and refuses.
    await expect(cached('counter-a', { amount: 4 }, context)).rejects.toThrow('Over 10');
    expect(await cached.load('counter-a')).toEqual(await loadFolded(inner, counter, 'counter-a'));
    expect((await cached.load('counter-a')).state).toEqual({ total: 9, history: [3, 6] });
  });

  it('keeps at most maxStreams folds, dropping the least recently used', async () => {
    const cache = new FoldedStreamCache(inner, counter, 2);
    for (const id of ['counter-a', 'counter-b', 'counter-c']) {
      await commandHandler(counter, deps(inner, false))(id, { amount: 1 }, context);
      await cache.load(id);
    }
    expect(cache.size).toBe(2);
    // A dropped stream is folded again from its first event.
    await expect(cache.load('counter-a')).resolves.toEqual({ state: { total: 1, history: [1] }, revision: 0 });
  });

  it('never goes back to an older fold', async () => {
    const cache = new FoldedStreamCache(inner, counter);
    const handle = commandHandler(counter, deps(inner, false));
    await handle('counter-a', { amount: 1 }, context);
    await handle('counter-a', { amount: 2 }, context);
    const newest = await cache.load('counter-a');
    cache.remember('counter-a', { state: { total: 1, history: [1] }, revision: 0 });
    await expect(cache.load('counter-a')).resolves.toEqual(newest);
  });
});
