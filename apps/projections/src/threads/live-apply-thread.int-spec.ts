import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PoisonMessageError } from '@sigillum/bus/event-bus.port';
import type { DeliveredMessage } from '@sigillum/contracts';
import { BatchedProjector } from '@sigillum/eventstore';
import Database from 'better-sqlite3';
import { ThreadWriteLock } from '@sigillum/eventstore/sqlite/thread-write-lock';
import { SqliteProjector } from '../sqlite-projector';
import type { RebuildableProjection } from '../rebuild/log-replay';
import { LiveApplyThread } from './live-apply-thread';
import { countingProjection } from './testing-projection';

let offset = 0;
const message = (data: Record<string, unknown>, id = `e-${++offset}`): DeliveredMessage => ({
  topic: 'sigillum.count.events',
  key: 'count-1',
  id,
  type: 'sigillum.count.Counted',
  source: '/test',
  time: new Date(0).toISOString(),
  correlationId: id,
  causationId: id,
  dataVersion: 1,
  data,
  partition: 0,
  offset: String(offset),
});

/**
 * The projections' live apply on a worker thread (the TypeScript sources are compiled by the worker as it loads them:
 * a few seconds under ts-jest): the rows written by the worker's connection, seen by the main one once a batch is
 * answered; each message applied once; refusals as the bus needs them; a thread that dies mid-batch replaced with
 * nothing lost or doubled; a thread that cannot start replaced by the main thread.
 */
describe('LiveApplyThread', () => {
  const logged: string[] = [];
  const log = { log: (m: string) => logged.push(m), warn: (m: string) => logged.push(m), error: (m: string) => logged.push(m) };
  let dir: string;
  let db: Database.Database;
  const threads: LiveApplyThread[] = [];
  const threadFor = (projection: RebuildableProjection = countingProjection, maxRestarts?: number) => {
    const thread = new LiveApplyThread(
      { file: db.name, synchronous: 'NORMAL', autocheckpoint: 0, projections: [projection], maxRestarts, writeLock: ThreadWriteLock.shareFrom(db) },
      log,
    );
    threads.push(thread);
    return thread;
  };
  const rows = () => db.prepare('SELECT event_id AS id, n, thread FROM rm_counted ORDER BY n').all() as { id: string; n: number; thread: number }[];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-apply-'));
    db = new Database(path.join(dir, 'sigillum.db'));
    db.pragma('journal_mode = WAL');
    new SqliteProjector(db, countingProjection); // the main thread creates the read model, as the runner does
  });
  afterEach(async () => {
    await Promise.all(threads.splice(0).map((thread) => thread.close()));
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('applies a batch on another thread, once per event id, and the main connection sees it once answered', async () => {
    const thread = threadFor();
    const batch = [message({ n: 1 }), message({ n: 2 }), message({ n: 3 })];
    expect(await thread.apply('counting', batch)).toEqual([{ applied: true }, { applied: true }, { applied: true }]);
    expect(rows().map((row) => row.n)).toEqual([1, 2, 3]);
    expect(new Set(rows().map((row) => row.thread))).not.toContain(0); // 0 is the main thread's id
    // Redelivered, with one new: only the new one is applied.
    expect(await thread.apply('counting', [batch[1], message({ n: 4 })])).toEqual([{ applied: false }, { applied: true }]);
    expect(rows().map((row) => row.n)).toEqual([1, 2, 3, 4]);
  }, 60_000);

  it('refuses a poison message alone, as a PoisonMessageError (the bus dead-letters it at once), and keeps the rest', async () => {
    const outcomes = await threadFor().apply('counting', [message({ n: 1 }), message({ n: 2, poison: true }), message({ n: 3 })]);
    expect(outcomes[0]).toEqual({ applied: true });
    expect((outcomes[1] as { error: Error }).error).toBeInstanceOf(PoisonMessageError);
    expect((outcomes[1] as { error: Error }).error.message).toMatch(/is refused/);
    expect(outcomes[2]).toEqual({ applied: true });
    expect(rows().map((row) => row.n)).toEqual([1, 3]);
  }, 60_000);

  it('sends the batches a dead thread held to a new one: nothing lost, nothing applied twice', async () => {
    const thread = threadFor();
    await thread.apply('counting', [message({ n: 1 })]);
    const first = rows()[0].thread;
    const crashMarker = path.join(dir, 'crashed');
    const outcomes = await thread.apply('counting', [message({ n: 2 }), message({ n: 3, crashMarker }), message({ n: 4 })]);
    expect(fs.existsSync(crashMarker)).toBe(true);
    expect(outcomes).toEqual([{ applied: true }, { applied: true }, { applied: true }]);
    expect(rows().map((row) => row.n)).toEqual([1, 2, 3, 4]);
    expect(rows()[1].thread).not.toBe(first); // applied by the new thread: the first one's transaction never committed
    expect(logged.some((line) => /stopped \(exit code 7\); starting it again with the 1 batch/.test(line))).toBe(true);
    // The dead thread held the process's write lock mid-batch: it was freed, so the main thread's turns do not wait.
    expect(ThreadWriteLock.of(db)!.tryAcquire()).toBe(true);
    ThreadWriteLock.of(db)!.release();
  }, 60_000);

  it('gives up after too many deaths: the batch comes back as unavailable, and a BatchedProjector applies it on the main thread', async () => {
    const thread = threadFor(countingProjection, 0);
    const projector = new SqliteProjector(db, countingProjection);
    const live = new BatchedProjector(db, projector, undefined, (messages) => thread.apply('counting', messages));
    const crashMarker = path.join(dir, 'crashed');
    await expect(live.handle(message({ n: 1, crashMarker }))).resolves.toBe(true);
    expect(rows()).toEqual([expect.objectContaining({ n: 1, thread: 0 })]);
    expect(logged.some((line) => /stopped 1 times; the read models are written on the main thread/.test(line))).toBe(true);
    // Later messages too.
    await expect(live.handle(message({ n: 2 }))).resolves.toBe(true);
    expect(rows().map((row) => row.thread)).toEqual([0, 0]);
  }, 60_000);

  it('a projection no worker can load: the thread does not start, and the main thread applies the batch', async () => {
    const missing = { ...countingProjection, worker: { module: path.join(dir, 'nowhere.js'), exportName: 'countingProjection' } };
    const thread = threadFor(missing);
    const projector = new SqliteProjector(db, countingProjection);
    const live = new BatchedProjector(db, projector, undefined, (messages) => thread.apply('counting', messages));
    await expect(Promise.all([live.handle(message({ n: 1 })), live.handle(message({ n: 2 }))])).resolves.toEqual([true, true]);
    expect(rows().map((row) => row.thread)).toEqual([0, 0]);
    expect(logged.some((line) => /could not start: .*nowhere\.js/.test(line))).toBe(true);
  }, 60_000);

  it('a BatchedProjector sends what arrives while a batch is away as the next batch, in order', async () => {
    const thread = threadFor();
    const projector = new SqliteProjector(db, countingProjection);
    const sent: number[] = [];
    const live = new BatchedProjector(db, projector, undefined, (messages) => {
      sent.push(messages.length);
      return thread.apply('counting', messages);
    });
    const first = [1, 2].map((n) => live.handle(message({ n })));
    await new Promise((resolve) => setImmediate(resolve)); // the first batch is away
    const second = [3, 4, 5].map((n) => live.handle(message({ n })));
    expect(await Promise.all([...first, ...second])).toEqual([true, true, true, true, true]);
    expect(sent).toEqual([2, 3]);
    expect(rows().map((row) => row.n)).toEqual([1, 2, 3, 4, 5]);
    await live.settled();
  }, 60_000);

  it('close waits for the batches in flight; later batches are refused as unavailable', async () => {
    const thread = threadFor();
    const applied = thread.apply('counting', [message({ n: 1 })]);
    await thread.close();
    await expect(applied).resolves.toEqual([{ applied: true }]);
    await expect(thread.apply('counting', [message({ n: 2 })])).rejects.toThrow(/stopping/);
  }, 60_000);
});
