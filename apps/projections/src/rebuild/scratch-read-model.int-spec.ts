import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '@nestjs/common';
import { PoisonMessageError } from '@sigillum/bus';
import type { DeliveredMessage } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import Database from 'better-sqlite3';
import { temporarySigner } from '../../../certifier/src/evidence/testing-fixtures';
import { auditProjection } from '../audit/audit.projection';
import { mailboxProjection } from '../mailbox/mailbox.projection';
import { SqliteProjector } from '../sqlite-projector';
import { type RebuildableProjection, replayLog } from './log-replay';
import { ProjectionRunner } from './projection-runner';
import { readModelDigest } from './read-model-digest';
import { realisticStories, writeRealisticLog } from './testing-fixtures';

/**
 * The bulk path of a rebuild (a scratch file moved into place, several projections from one read of the log) against
 * the per-event path (every event applied in place, in the main file): the same rows, the same applied event ids at
 * the same offsets, the same indexes.
 */
describe('rebuild through a scratch read model: the same read model as the per-event path', () => {
  const log = new Logger('test');
  const quiet = [
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined),
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined),
  ];
  afterAll(() => quiet.forEach((spy) => spy.mockRestore()));

  const appliedRows = (db: Database.Database, name: string) =>
    db.prepare('SELECT event_id, topic, offset FROM projection_applied WHERE name = ? ORDER BY event_id').all(name);
  const indexes = (db: Database.Database, tables: readonly string[]) =>
    db
      .prepare(`SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN (${tables.map(() => '?').join(', ')}) ORDER BY name`)
      .all(...tables);
  const scratchFiles = () => fs.readdirSync(os.tmpdir()).filter((file) => file.startsWith('.rebuild-'));

  it('mailbox and audit rebuilt together equal each one replayed event by event into the main file', async () => {
    const { signer, cleanup } = temporarySigner();
    const logDb = new Database(':memory:');
    const store = new SqliteEventStore({ db: logDb });
    const perEvent = new Database(':memory:');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulk-rebuild-'));
    const bulk = new Database(path.join(dir, 'read-models.db')); // a file: the scratch goes beside it
    try {
      await writeRealisticLog(store, realisticStories(), signer);
      const projections = [mailboxProjection, auditProjection] as RebuildableProjection[];
      for (const projection of projections) await replayLog(perEvent, new SqliteProjector(perEvent, projection), store, projection, log, 'Replay');

      const runners = projections.map((projection) => new ProjectionRunner(bulk, store, projection, () => new Date()));
      const reports = await Promise.all(ProjectionRunner.rebuildTogether(runners));

      for (const [index, projection] of projections.entries()) {
        const expected = readModelDigest(perEvent, projection);
        expect(reports[index]).toMatchObject({ projection: projection.name, digest: expected.digest, rows: expected.rows, poison: 0 });
        expect(Object.values(expected.rows).some((count) => count > 0)).toBe(true);
        expect(appliedRows(bulk, projection.name)).toEqual(appliedRows(perEvent, projection.name));
        expect(indexes(bulk, projection.tables)).toEqual(indexes(perEvent, projection.tables));
      }
      expect(fs.readdirSync(dir)).toEqual(['read-models.db']); // the scratch files are gone
    } finally {
      await store.close();
      bulk.close();
      perEvent.close();
      logDb.close();
      fs.rmSync(dir, { recursive: true, force: true });
      cleanup();
    }
  });

  /** A projection of the `note` category: one row per event; `poison` is refused, `fail` any other error. */
  const notes = (name: string): RebuildableProjection => ({
    name,
    version: 1,
    categories: ['note'],
    schema: `CREATE TABLE IF NOT EXISTS ${name} (event_id TEXT PRIMARY KEY, text TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS ${name}_by_text ON ${name} (text);`,
    tables: [name],
    apply(db: Database.Database, message: DeliveredMessage) {
      const data = message.data as { text: string; poison?: boolean; fail?: boolean };
      db.prepare(`INSERT INTO ${name} (event_id, text) VALUES (?, ?)`).run(message.id, data.text);
      if (data.poison) throw new PoisonMessageError(`note ${data.text} is refused`);
      if (data.fail && name === 'failing') throw new Error('disk on fire');
    },
  });

  async function noteLog(db: Database.Database, count: number, special: (i: number) => object): Promise<SqliteEventStore> {
    const store = new SqliteEventStore({ db });
    for (let i = 0; i < count; i++) {
      const text = `n${String(i).padStart(4, '0')}`;
      await store.append(
        `note-${i % 7}`,
        [
          {
            event: { type: 'NoteWritten', version: 1, data: { text, ...special(i) } },
            metadata: {
              eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
              correlationId: 'c',
              causationId: 'c',
              occurredAt: '2026-12-03T00:00:00.000Z',
              source: 'test',
            },
          },
        ],
        'any',
      );
    }
    return store;
  }

  it('refused events mid-page: the same rows and applied ids as the per-event path, the refused counted', async () => {
    const db = new Database(':memory:');
    const store = await noteLog(db, 1_200, (i) => (i % 97 === 5 ? { poison: true } : {}));
    const projection = notes('notes');
    const reference = new Database(':memory:');
    const count = await replayLog(reference, new SqliteProjector(reference, projection), store, projection, log, 'Replay');
    const report = await new ProjectionRunner(db, store, projection, () => new Date()).rebuild();
    expect(report).toMatchObject({ eventsRead: 1_200, applied: count.applied, poison: count.poison });
    expect(count.poison).toBe(13);
    expect(report.digest).toBe(readModelDigest(reference, projection).digest);
    expect(appliedRows(db, 'notes')).toEqual(appliedRows(reference, 'notes'));
    expect(indexes(db, ['notes'])).toEqual(indexes(reference, ['notes']));
  });

  it('one projection failing stops that one alone; its scratch is deleted; the other is rebuilt', async () => {
    const before = new Set(scratchFiles());
    const db = new Database(':memory:');
    const store = await noteLog(db, 800, (i) => (i === 600 ? { fail: true } : {}));
    const [failing, fine] = [
      new ProjectionRunner(db, store, notes('failing'), () => new Date()),
      new ProjectionRunner(db, store, notes('fine'), () => new Date()),
    ];
    const [failed, done] = await Promise.allSettled(ProjectionRunner.rebuildTogether([failing, fine]));
    expect(failed).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: 'disk on fire' }) });
    expect(done).toMatchObject({ status: 'fulfilled', value: expect.objectContaining({ projection: 'fine', eventsRead: 800, applied: 800 }) });
    expect(failing.status()).toMatchObject({ state: 'idle', lastFailure: { error: 'disk on fire' } });
    expect(db.prepare('SELECT count(*) FROM fine').pluck().get()).toBe(800);
    expect(scratchFiles().filter((file) => !before.has(file))).toEqual([]);
    // The live path after the rebuild: an event the rebuild applied is known (false), a new one applied (true).
    const message = (id: string, text: string): DeliveredMessage => ({
      topic: 'sigillum.note.events',
      key: 'note-1',
      id,
      type: 'sigillum.note.NoteWritten',
      source: 'test',
      time: '2026-12-03T00:00:00.000Z',
      correlationId: 'c',
      causationId: 'c',
      dataVersion: 1,
      data: { text },
      partition: 0,
      offset: '0',
    });
    expect(await fine.handle(message('00000000-0000-4000-8000-000000000001', 'n0001'))).toBe(false);
    expect(await fine.handle(message('00000000-0000-4000-8000-999999999999', 'new'))).toBe(true);
  });
});
