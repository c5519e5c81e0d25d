import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { RecordedEvent } from '@sigillum/contracts';
import { eventStoreContract, pendingEvent } from '@sigillum/testing';
import { WrongExpectedVersionError } from '../event-store.port';
import { DuplicateEventIdError, SqliteEventStore } from './sqlite-event-store';
import { withStatementCache } from './sqlite-projector';

function tempDir(): { dir: string; remove: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'sigillum-eventstore-'));
  return { dir, remove: async () => rmSync(dir, { recursive: true, force: true }) };
}

const contractDir = tempDir();
eventStoreContract('SQLite file', async () => new SqliteEventStore({ filename: join(contractDir.dir, 'events.db') }), contractDir.remove);
eventStoreContract('SQLite :memory:', async () => new SqliteEventStore({ filename: ':memory:' }));

describe('SqliteEventStore', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let file: string;
  const open: SqliteEventStore[] = [];

  function openStore(options: Partial<{ pollIntervalMs: number }> = {}): SqliteEventStore {
    const store = new SqliteEventStore({ filename: file, ...options });
    open.push(store);
    return store;
  }

  beforeEach(() => {
    ({ dir, remove } = tempDir());
    file = join(dir, 'events.db');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((store) => store.close()));
    await remove();
  });

  it('reads back what an earlier instance wrote to the same file, and carries on from there', async () => {
    const first = openStore();
    const written = await first.append('note-1', [pendingEvent('NoteTaken', { text: 'kept' })], 'no-stream');
    await first.close();

    const reopened = openStore();
    const read = await reopened.readStream('note-1');
    const next = await reopened.append('note-1', [pendingEvent('NoteTagged', {})], 0);

    expect(read).toMatchObject([{ streamRevision: 0, event: { type: 'NoteTaken', data: { text: 'kept' } } }]);
    expect(next.nextExpectedVersion).toBe(1);
    expect(next.lastGlobalPosition).toBeGreaterThan(written.lastGlobalPosition);
  });

  it('close() writes appends still waiting for their batch', async () => {
    const store = openStore();
    const pending = store.append('note-1', [pendingEvent('NoteTaken', {})], 'no-stream');
    await store.close();

    await expect(pending).resolves.toMatchObject({ nextExpectedVersion: 0 });
    await expect(store.append('note-1', [pendingEvent('NoteTaken', {})], 'any')).rejects.toThrow(/closed/);
    expect(await openStore().readStream('note-1')).toHaveLength(1);
  });

  it("a second instance on the same file sees the first one's appends through its poll", async () => {
    const writer = openStore();
    const reader = openStore({ pollIntervalMs: 50 });
    const received: RecordedEvent[] = [];
    const subscription = reader.subscribeAll(async (event) => void received.push(event), { categories: ['note'] });

    await writer.append('note-1', [pendingEvent('NoteTaken', {})], 'no-stream');
    await writer.append('other-1', [pendingEvent('Ignored', {})], 'no-stream');
    await writer.append('note-2', [pendingEvent('NoteTaken', {})], 'no-stream');
    await waitUntil(() => received.length === 2);
    await subscription.stop();

    expect(received.map((event) => event.streamId)).toEqual(['note-1', 'note-2']);
  });

  it("hands its subscriptions its own commits from memory (no row read), another connection's from the file: every event once, in global order, as the file holds it", async () => {
    const store = openStore({ pollIntervalMs: 50 });
    const other = openStore();
    const plain = new SqliteEventStore({ filename: file, streamCacheChars: 0, recentCommits: 0 });
    open.push(plain);
    const statements = (store as unknown as { statements: Record<'pageUpTo' | 'pageUpToInCategories', { all: (...args: unknown[]) => unknown[] }> }).statements;
    const spies = [jest.spyOn(statements.pageUpTo, 'all'), jest.spyOn(statements.pageUpToInCategories, 'all')];
    const rowsRead = () => spies.flatMap((spy) => spy.mock.results).reduce((sum, result) => sum + (Array.isArray(result.value) ? result.value.length : 0), 0);
    const all: RecordedEvent[] = [];
    const notes: RecordedEvent[] = [];
    store.subscribeAll(async (event) => void all.push(event));
    store.subscribeAll(async (event) => void notes.push(event), { categories: ['note'] });

    await store.append('note-1', [pendingEvent('NoteTaken', { n: 0 }), pendingEvent('NoteTaken', { n: 1 })], 'no-stream');
    await store.append('other-1', [pendingEvent('Ignored', {})], 'no-stream');
    await store.append('note-1', [pendingEvent('NoteTaken', { n: 2 })], 1);
    await waitUntil(() => all.length === 4 && notes.length === 3);
    expect(rowsRead()).toBe(0);

    await other.append('note-2', [pendingEvent('NoteTaken', { n: 3 })], 'no-stream'); // a gap in this store's tail
    await store.append('note-1', [pendingEvent('NoteTaken', { n: 4 })], 2);
    await waitUntil(() => all.length === 6 && notes.length === 5);
    expect(rowsRead()).toBeGreaterThan(0);

    const inFile = await plain.readAll();
    expect(all).toEqual(inFile);
    expect(notes).toEqual(inFile.filter((event) => event.streamId.startsWith('note-')));
    spies.forEach((spy) => spy.mockRestore());
  });

  it("follows its own commits without asking the file, and still finds another connection's later commit by its poll", async () => {
    const store = openStore({ pollIntervalMs: 50 });
    const other = openStore();
    const statements = (store as unknown as { statements: Record<'lastPosition' | 'pageUpTo', { get?: unknown; all?: unknown }> }).statements;
    const head = jest.spyOn(statements.lastPosition as { get: () => unknown }, 'get');
    const page = jest.spyOn(statements.pageUpTo as { all: () => unknown[] }, 'all');
    const received: RecordedEvent[] = [];
    const subscription = store.subscribeAll(async (event) => void received.push(event));
    await store.append('note-1', [pendingEvent('NoteTaken', { n: 0 })], 'no-stream');
    await waitUntil(() => received.length === 1);
    const queriesBefore = head.mock.calls.length + page.mock.calls.length;

    for (let n = 1; n <= 3; n++) await store.append('note-1', [pendingEvent('NoteTaken', { n })], n - 1);
    await waitUntil(() => received.length === 4);
    // Woken by each commit, handed it from memory, caught up: no head or page query (the poll may add one per 50 ms).
    expect(head.mock.calls.length + page.mock.calls.length - queriesBefore).toBeLessThanOrEqual(1);

    await other.append('note-2', [pendingEvent('NoteTaken', { n: 9 })], 'no-stream'); // nothing of this store's after it
    await waitUntil(() => received.length === 5);
    await subscription.stop();
    expect(received.map((event) => event.event.data)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }, { n: 9 }]);
    head.mockRestore();
    page.mockRestore();
  });

  it('a stream it read before still shows what another instance appended since (the recent-streams cache reads the file past what it holds)', async () => {
    const reader = openStore();
    const writer = openStore();
    await writer.append('note-1', [pendingEvent('NoteTaken', { n: 0 }), pendingEvent('NoteTaken', { n: 1 })], 'no-stream');
    expect(await reader.readStream('note-1')).toHaveLength(2);

    await writer.append('note-1', [pendingEvent('NoteTagged', { n: 2 })], 1);
    const again = await reader.readStream('note-1');

    expect(again.map((recorded) => recorded.event.data)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
    expect(Object.isFrozen(again[0]) && Object.isFrozen(again[0].event)).toBe(true); // shared with later readers: not writable
  });

  it("serves a stream without a query while only this connection appends to it (its own appends join the cache), and reads past the cache after another connection's (data_version)", async () => {
    const store = openStore();
    const other = openStore();
    const sameHandle = new SqliteEventStore({ db: store.database });
    const statement = (store as unknown as { statements: { readStream: { all: (...args: unknown[]) => unknown[] } } }).statements.readStream;
    const queries = jest.spyOn(statement, 'all');
    await store.append('note-1', [pendingEvent('NoteTaken', { n: 0 })], 'no-stream');
    const reads = async () => (await store.readStream('note-1')).map((recorded) => (recorded.event.data as { n: number }).n);

    expect(await reads()).toEqual([0]);
    expect(await reads()).toEqual([0]);
    await sameHandle.append('note-1', [pendingEvent('NoteTaken', { n: 1 })], 0); // another store on the same handle
    expect(await reads()).toEqual([0, 1]);
    expect(queries).toHaveBeenCalledTimes(0);
    await other.append('note-1', [pendingEvent('NoteTaken', { n: 2 })], 1); // another connection
    expect(await reads()).toEqual([0, 1, 2]);
    expect(await reads()).toEqual([0, 1, 2]);
    expect(queries).toHaveBeenCalledTimes(1);
  });

  it("answers a read from past a stream's known end without a query (a folded state asking for what follows), until this store or another connection appends", async () => {
    const store = openStore();
    const other = openStore();
    await other.append('party-1', [pendingEvent('NoteTaken', { n: 0 }), pendingEvent('NoteTaken', { n: 1 })], 'no-stream');
    const statement = (store as unknown as { statements: { readStream: { all: (...args: unknown[]) => unknown[] } } }).statements.readStream;
    const queries = jest.spyOn(statement, 'all');
    const after = async (revision: number) =>
      (await store.readStream('party-1', { fromRevision: revision })).map((recorded) => (recorded.event.data as { n: number }).n);
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

    expect(await after(2)).toEqual([]);
    expect(await after(2)).toEqual([]);
    await nextTurn();
    expect(await after(2)).toEqual([]);
    expect(queries).toHaveBeenCalledTimes(1); // the first read only: the stream ends at 2, and nobody appended

    await store.append('party-1', [pendingEvent('NoteTaken', { n: 2 })], 1); // this store: the end moves with it
    expect(await after(3)).toEqual([]);
    expect(queries).toHaveBeenCalledTimes(1);
    expect(await after(2)).toEqual([2]);
    expect(queries).toHaveBeenCalledTimes(2);

    await other.append('party-1', [pendingEvent('NoteTaken', { n: 3 })], 2); // another connection: seen at the next turn's check
    await nextTurn();
    expect(await after(3)).toEqual([3]);
    expect(await after(1)).toEqual([1, 2, 3]); // before the known end: always the file
    expect(await store.readStream('party-1', { fromRevision: 1, maxCount: 1 })).toHaveLength(1);
    expect(queries).toHaveBeenCalledTimes(5);
  });

  it("knows a cached stream's head without a query, and asks the file once another connection appended (under the write lock)", async () => {
    const store = openStore();
    const other = openStore();
    const head = jest.spyOn((store as unknown as { statements: { head: { get: (...args: unknown[]) => unknown } } }).statements.head, 'get');
    await store.append('note-1', [pendingEvent('NoteTaken', { n: 0 }), pendingEvent('NoteTaken', { n: 1 })], 'no-stream');
    await store.readStream('note-1');
    head.mockClear();

    await expect(store.append('note-1', [pendingEvent('NoteTaken', { n: 2 })], 1)).resolves.toMatchObject({ nextExpectedVersion: 2 });
    expect(head).toHaveBeenCalledTimes(0);

    // Another connection appends revision 3: the cache would say 2; a wrong expected version is refused by the file's head,
    // and 'any' lands after revision 3, not on it.
    await other.append('note-1', [pendingEvent('NoteTaken', { n: 3 })], 2);
    await expect(store.append('note-1', [pendingEvent('NoteTaken', { n: 9 })], 2)).rejects.toBeInstanceOf(WrongExpectedVersionError);
    await expect(store.append('note-1', [pendingEvent('NoteTaken', { n: 4 })], 'any')).resolves.toMatchObject({ nextExpectedVersion: 4 });
    expect(head).toHaveBeenCalled();
    expect((await store.readStream('note-1')).map((recorded) => (recorded.event.data as { n: number }).n)).toEqual([0, 1, 2, 3, 4]);
  });

  it("keeps serving from memory after another connection's commit that appended no event (the read models' own connection)", async () => {
    const store = openStore();
    await store.append('note-1', [pendingEvent('NoteTaken', { n: 0 })], 'no-stream');
    const statements = (store as unknown as { statements: Record<'readStream' | 'head', { all: () => unknown; get: () => unknown }> }).statements;
    const reads = jest.spyOn(statements.readStream, 'all');
    const head = jest.spyOn(statements.head, 'get');
    const readModels = new Database(file);
    readModels.exec('CREATE TABLE IF NOT EXISTS rm_notes (n INTEGER)');
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

    for (let n = 1; n <= 3; n++) {
      readModels.prepare('INSERT INTO rm_notes VALUES (?)').run(n);
      await nextTurn();
      expect((await store.readStream('note-1')).length).toBe(n);
      expect(await store.readStream('note-1', { fromRevision: n })).toEqual([]);
      expect(await store.readStream(`note-new-${n}`)).toEqual([]);
      await store.append('note-1', [pendingEvent('NoteTaken', { n })], n - 1);
    }
    expect(reads).toHaveBeenCalledTimes(0);
    expect(head).toHaveBeenCalledTimes(0);

    // An event appended by that connection is seen at the next turn, as before.
    await openStore().append('note-1', [pendingEvent('NoteTaken', { n: 4 })], 3);
    readModels.close();
    await nextTurn();
    expect((await store.readStream('note-1')).length).toBe(5);
    expect(reads).toHaveBeenCalledTimes(1);
  });

  it("after another connection's appends reads again only the streams it appended to (another role's thread or process writing all the time)", async () => {
    const store = openStore();
    const other = openStore();
    for (const id of ['note-1', 'note-2', 'note-3']) await store.append(id, [pendingEvent('NoteTaken', { n: 0 })], 'no-stream');
    for (const id of ['note-1', 'note-2', 'note-3']) await store.readStream(id);
    await store.readStream('party-1', { fromRevision: 0 }); // a known end: nothing there yet
    const reads = jest.spyOn((store as unknown as { statements: { readStream: { all: (...args: unknown[]) => unknown[] } } }).statements.readStream, 'all');
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
    const lengths = async () => Promise.all(['note-1', 'note-2', 'note-3'].map(async (id) => (await store.readStream(id)).length));

    await other.append('note-2', [pendingEvent('NoteTaken', { n: 1 })], 0);
    await other.append('party-1', [pendingEvent('NoteTaken', { n: 0 })], 'no-stream');
    await nextTurn();
    expect(await lengths()).toEqual([1, 2, 1]);
    expect(reads).toHaveBeenCalledTimes(1); // note-2 alone
    expect(await store.readStream('party-1', { fromRevision: 0 })).toHaveLength(1); // its known end is behind too
    expect(await store.readStream('party-9')).toEqual([]); // a stream nobody created: still answered by the filter
    reads.mockClear();

    // Again, from the position this store accounted for: only what came since.
    await other.append('note-3', [pendingEvent('NoteTaken', { n: 1 })], 0);
    await nextTurn();
    expect(await lengths()).toEqual([1, 2, 2]);
    expect(reads).toHaveBeenCalledTimes(1);
  });

  it('asks data_version once per turn of the event loop for reads from the cache, and again after a commit of this process', async () => {
    const store = openStore();
    const other = new SqliteEventStore({ filename: file, maxBatchSize: 1 }); // another connection, writing at once
    open.push(other);
    const dataVersion = jest.spyOn((store as unknown as { statements: { dataVersion: { get: () => unknown } } }).statements.dataVersion, 'get');
    await store.append('note-1', [pendingEvent('NoteTaken', { n: 0 })], 'no-stream');
    await store.readStream('note-1');
    await new Promise((resolve) => setImmediate(resolve));
    dataVersion.mockClear();

    // All in one turn (no timer in between): three reads ask once; the other connection's commit makes the next ask again.
    await Promise.all([store.readStream('note-1'), store.readStream('note-1'), store.readStream('note-1')]);
    expect(dataVersion).toHaveBeenCalledTimes(1);
    await other.append('note-1', [pendingEvent('NoteTaken', { n: 1 })], 0);
    expect((await store.readStream('note-1')).length).toBe(2);
    expect(dataVersion).toHaveBeenCalledTimes(2);
    await new Promise((resolve) => setImmediate(resolve));
    await store.readStream('note-1');
    expect(dataVersion).toHaveBeenCalledTimes(3);
  });

  it('opens a file of the first schema (streams with a revision column) and carries on its streams', async () => {
    const old = new Database(file);
    old.exec(`CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
      INSERT INTO schema_versions VALUES ('eventstore', 1);
      CREATE TABLE events (global_position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL, stream_revision INTEGER NOT NULL,
        event_id TEXT NOT NULL UNIQUE, event_type TEXT NOT NULL, event_version INTEGER NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,
        UNIQUE (stream_id, stream_revision));
      CREATE TABLE streams (stream_id TEXT PRIMARY KEY, revision INTEGER NOT NULL, category TEXT NOT NULL) WITHOUT ROWID;
      CREATE INDEX streams_by_category ON streams (category, stream_id);
      INSERT INTO events (stream_id, stream_revision, event_id, event_type, event_version, data, metadata)
        VALUES ('note-1', 0, 'e0', 'NoteTaken', 1, '{}', '{"eventId":"e0"}');
      INSERT INTO streams VALUES ('note-1', 0, 'note');`);
    old.close();

    const store = openStore();
    await expect(store.append('note-1', [pendingEvent('NoteTagged', {})], 0)).resolves.toMatchObject({ nextExpectedVersion: 1 });
    await expect(store.append('note-1', [pendingEvent('NoteTagged', {})], 0)).rejects.toBeInstanceOf(WrongExpectedVersionError);
    const columns = new Database(file, { readonly: true });
    expect(columns.prepare("SELECT name FROM pragma_table_info('streams')").pluck().all()).toEqual(['stream_id', 'category']);
    columns.close();
  });

  it('gives from its own appends exactly what a read of the file gives, and never a stream with a hole', async () => {
    const store = openStore();
    const other = openStore();
    const plain = new SqliteEventStore({ filename: file, streamCacheChars: 0 });
    open.push(plain);
    await store.append('note-1', [pendingEvent('NoteTaken', { n: 0, nested: { list: [1, 'two'] } }), pendingEvent('NoteTagged', { n: 1 })], 'no-stream');
    expect(await store.readStream('note-1')).toEqual(await plain.readStream('note-1'));

    // Another connection appends revision 2 unseen; this store's append of revision 3 must not join the cache (its entry
    // ends at 1): the next read goes to the file and finds all four.
    await other.append('note-1', [pendingEvent('NoteTaken', { n: 2 })], 1);
    await store.append('note-1', [pendingEvent('NoteTaken', { n: 3 })], 2);
    const read = await store.readStream('note-1');
    expect(read.map((recorded) => recorded.streamRevision)).toEqual([0, 1, 2, 3]);
    expect(read).toEqual(await plain.readStream('note-1'));

    // A refused append leaves the cache as it was.
    await expect(store.append('note-1', [pendingEvent('NoteTaken', { n: 9 })], 1)).rejects.toThrow();
    expect(await store.readStream('note-1')).toEqual(await plain.readStream('note-1'));
  });

  it('reads the same with the recent-streams cache off, and keeps the cache within its bound', async () => {
    const plain = new SqliteEventStore({ filename: file, streamCacheChars: 0 });
    const small = new SqliteEventStore({ filename: file, streamCacheChars: 2_000 });
    open.push(plain, small);
    for (let i = 0; i < 20; i++) await plain.append(`note-${i}`, [pendingEvent('NoteTaken', { text: 'x'.repeat(200) })], 'no-stream');

    for (let i = 0; i < 20; i++) expect(await small.readStream(`note-${i}`)).toEqual(await plain.readStream(`note-${i}`));
    const held = (small as unknown as { recent: { size: { weight: number; streams: number } } }).recent.size;

    expect(held.weight).toBeLessThanOrEqual(2_000);
    expect(held.streams).toBeGreaterThan(0);
    expect(held.streams).toBeLessThan(20);
  });

  it('pages through catch-up, skipping long runs of other categories without losing events', async () => {
    const store = new SqliteEventStore({ filename: file, pageSize: 3 });
    open.push(store);
    for (let index = 0; index < 20; index++) {
      const category = index === 7 || index === 15 ? 'note' : 'other';
      await store.append(`${category}-${index}`, [pendingEvent('Happened', { index })], 'no-stream');
    }
    const notes: RecordedEvent[] = [];
    const all: RecordedEvent[] = [];

    store.subscribeAll(async (event) => void notes.push(event), { categories: ['note'] });
    store.subscribeAll(async (event) => void all.push(event));
    await waitUntil(() => notes.length === 2 && all.length === 20);
    await store.append('note-99', [pendingEvent('Happened', { index: 99 })], 'no-stream');
    await waitUntil(() => notes.length === 3 && all.length === 21);

    expect(notes.map((event) => event.streamId)).toEqual(['note-7', 'note-15', 'note-99']);
    expect(all.map((event) => (event.event.data as { index: number }).index)).toEqual([...Array(20).keys(), 99]);
  });

  it('refuses an append that reuses an event id, writes none of it, and commits its batch neighbours', async () => {
    const store = openStore();
    const taken = pendingEvent('NoteTaken', {});
    await store.append('note-1', [taken], 'no-stream');
    const reused = pendingEvent('NoteTaken', {}, { eventId: taken.metadata.eventId });

    const outcomes = await Promise.allSettled([
      store.append('note-2', [pendingEvent('NoteTaken', {}), reused], 'no-stream'),
      store.append('note-3', [pendingEvent('NoteTaken', {})], 'no-stream'),
    ]);

    expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: expect.any(DuplicateEventIdError) });
    expect((outcomes[0] as PromiseRejectedResult).reason.message).toMatch(/already in the store.*wrote nothing/);
    expect(outcomes[1].status).toBe('fulfilled');
    expect(await store.readStream('note-2')).toEqual([]);
    expect(await store.readStream('note-3')).toHaveLength(1);
    await expect(store.append('note-2', [pendingEvent('NoteTaken', {})], 'no-stream')).resolves.toMatchObject({
      nextExpectedVersion: 0,
    });
  });

  it('refuses an append whose expected version does not hold in the middle of a batch, and writes the others, in order', async () => {
    const store = openStore();

    const outcomes = await Promise.allSettled([
      store.append('note-1', [pendingEvent('NoteTaken', { n: 0 })], 'no-stream'),
      store.append('note-1', [pendingEvent('NoteTaken', { n: 'stale' })], 5),
      store.append('note-1', [pendingEvent('NoteTaken', { n: 1 }), pendingEvent('NoteTaken', { n: 2 })], 0),
      store.append('note-2', [pendingEvent('NoteTaken', { n: 0 })], 'no-stream'),
    ]);

    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
    expect((await store.readStream('note-1')).map((event) => (event.event.data as { n: number }).n)).toEqual([0, 1, 2]);
    expect(await store.readStream('note-2')).toHaveLength(1);
  });

  it('rejects data JSON cannot carry without failing the batch', async () => {
    const store = openStore();

    const outcomes = await Promise.allSettled([
      store.append('note-1', [pendingEvent('NoteTaken', { amount: 1n })], 'no-stream'),
      store.append('note-2', [pendingEvent('NoteTaken', {})], 'no-stream'),
    ]);

    expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: expect.any(TypeError) });
    expect(outcomes[1].status).toBe('fulfilled');
  });

  it('queues the appends of one tick, and writes the queue at once when it reaches maxBatchSize', async () => {
    const store = new SqliteEventStore({ filename: file, maxBatchSize: 7 });
    open.push(store);
    const append = (index: number) => store.append(`note-${index}`, [pendingEvent('NoteTaken', {})], 'no-stream');
    const countRows = () => store.database.prepare('SELECT count(*) FROM events').pluck().get();

    const firstSix = [0, 1, 2, 3, 4, 5].map(append);
    const queuedOnly = countRows();
    const seventh = append(6);
    const writtenAtSeven = countRows();
    const rest = Array.from({ length: 43 }, (_, index) => append(7 + index));
    const results = await Promise.all([...firstSix, seventh, ...rest]);

    expect([queuedOnly, writtenAtSeven]).toEqual([0, 7]);
    expect(new Set(results.map((result) => result.lastGlobalPosition)).size).toBe(50);
    expect(await store.readAll()).toHaveLength(50);
  });

  it('shares a database handle it was given, without closing it', async () => {
    const db = new Database(file);
    const store = new SqliteEventStore({ db });
    await store.append('note-1', [pendingEvent('NoteTaken', {})], 'no-stream');
    await store.close();

    expect(store.database).toBe(db);
    expect(db.open).toBe(true);
    expect(db.prepare('SELECT category FROM streams').pluck().all()).toEqual(['note']);
    db.close();
  });

  it('refuses a file whose schema is newer than this build', async () => {
    await openStore().close();
    const db = new Database(file);
    db.prepare("UPDATE schema_versions SET version = 99 WHERE component = 'eventstore'").run();
    db.close();

    expect(() => new SqliteEventStore({ filename: file })).toThrow(/schema version 99.*Upgrade Sigillum/);
  });

  it('reports health from a statement prepared once (a probe every few seconds prepares nothing), and down once closed', async () => {
    const store = new SqliteEventStore({ filename: file });
    const prepare = jest.spyOn(store.database, 'prepare');

    for (let probe = 0; probe < 3; probe++) await expect(store.health()).resolves.toEqual({ up: true, detail: `sqlite ${file}` });
    expect(prepare).not.toHaveBeenCalled();
    await store.close();
    await expect(store.health()).resolves.toEqual({ up: false, detail: 'event store closed' });
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('withStatementCache (what a projection is given)', () => {
  it('hands out the statement compiled before for the same SQL, reset to plain rows; other methods work as on the connection', () => {
    const db = new Database(':memory:');
    try {
      const cached = withStatementCache(db, 2);
      cached.exec('CREATE TABLE t (a INTEGER, b TEXT)');
      cached.prepare('INSERT INTO t (a, b) VALUES (?, ?)').run(1, 'one');
      const first = cached.prepare('SELECT a, b FROM t');
      expect(first.pluck().get()).toBe(1);
      const again = cached.prepare('SELECT a, b FROM t');
      expect(again).toBe(first);
      expect(again.get()).toEqual({ a: 1, b: 'one' }); // not plucked any more
      cached.transaction(() => cached.prepare('INSERT INTO t (a, b) VALUES (?, ?)').run(2, 'two'))();
      expect(cached.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2 });
      cached.prepare('SELECT b FROM t'); // a third statement: the oldest kept ones are dropped (bounded to 2)
      expect(cached.prepare('SELECT a, b FROM t')).not.toBe(first);
      expect(cached.open).toBe(true);
    } finally {
      db.close();
    }
  });
});
