import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '@nestjs/common';
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
 * Projections rebuilt together on worker threads (the log and the read models in one SQLite file, as the embedded app
 * has them; the workers load the TypeScript sources here, the compiled ones in dist/): the same read model as the
 * per-event path (rows, applied event ids at their offsets, indexes), the progress of each, the scratch files gone;
 * a worker that fails fails its projection alone; a projection no worker can load is rebuilt on the main thread.
 * Slow under ts-jest (each worker compiles the TypeScript modules it loads: 20-50 s on a loaded machine), not in dist.
 */
describe('rebuild on worker threads: the same read model as the per-event path', () => {
  const log = new Logger('test');
  const quiet = [
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined),
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined),
  ];
  afterAll(() => quiet.forEach((spy) => spy.mockRestore()));
  const { signer, cleanup } = temporarySigner();
  let dir: string;
  let db: Database.Database;
  let store: SqliteEventStore;
  let perEvent: Database.Database;
  const projections = [mailboxProjection, auditProjection] as RebuildableProjection[];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threaded-rebuild-'));
    db = new Database(path.join(dir, 'sigillum.db'));
    db.pragma('journal_mode = WAL');
    store = new SqliteEventStore({ db });
    for (let copy = 0; copy < 3; copy++) await writeRealisticLog(store, realisticStories(), signer);
    perEvent = new Database(':memory:');
    for (const projection of projections) await replayLog(perEvent, new SqliteProjector(perEvent, projection), store, projection, log, 'Replay');
  });
  afterAll(async () => {
    await store.close();
    db.close();
    perEvent.close();
    fs.rmSync(dir, { recursive: true, force: true });
    cleanup();
  });

  const appliedRows = (of: Database.Database, name: string) =>
    of.prepare('SELECT event_id, topic, offset FROM projection_applied WHERE name = ? ORDER BY event_id').all(name);
  const indexes = (of: Database.Database, tables: readonly string[]) =>
    of
      .prepare(`SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN (${tables.map(() => '?').join(', ')}) ORDER BY name`)
      .all(...tables);
  const expectPerEvent = (projection: RebuildableProjection) => {
    expect(readModelDigest(db, projection)).toEqual(readModelDigest(perEvent, projection));
    expect(appliedRows(db, projection.name)).toEqual(appliedRows(perEvent, projection.name));
    expect(indexes(db, projection.tables)).toEqual(indexes(perEvent, projection.tables));
  };

  it('mailbox and audit, each on a worker thread, equal each one replayed event by event', async () => {
    const runners = projections.map((projection) => new ProjectionRunner(db, store, projection, () => new Date(), undefined, true));
    const logged = quiet[0].mock.calls.length;
    const reports = await Promise.all(ProjectionRunner.rebuildTogether(runners));
    // Each was rebuilt on a worker thread (and its counts came back from there).
    const lines = quiet[0].mock.calls.slice(logged).map(([message]) => String(message));
    expect(lines.filter((line) => line.startsWith('Rebuild started') && line.endsWith('on a worker thread)'))).toHaveLength(2);
    for (const [index, projection] of projections.entries()) {
      const expected = readModelDigest(perEvent, projection);
      expect(reports[index]).toMatchObject({ projection: projection.name, digest: expected.digest, rows: expected.rows, poison: 0 });
      expect(reports[index].eventsRead).toBe(appliedRows(perEvent, projection.name).length);
      expect(Object.values(expected.rows).some((count) => count > 0)).toBe(true);
      expectPerEvent(projection);
    }
    expect(runners.every((runner) => runner.status().state === 'idle')).toBe(true);
    expect(fs.readdirSync(dir).filter((file) => file.startsWith('.rebuild-'))).toEqual([]); // the scratch files are gone
  }, 180_000);

  it('a worker that fails fails its projection alone; a projection no worker can load is rebuilt here with the others', async () => {
    const broken: RebuildableProjection = { ...auditProjection, worker: { module: mailboxProjection.worker!.module, exportName: 'noSuchProjection' } };
    const unloadable: RebuildableProjection = { ...mailboxProjection, worker: undefined };
    const [audit, mailbox] = [broken, unloadable].map((projection) => new ProjectionRunner(db, store, projection, () => new Date(), undefined, true));
    const [auditReport, mailboxReport] = ProjectionRunner.rebuildTogether([audit, mailbox]);
    await expect(auditReport).rejects.toThrow(/exports no projection noSuchProjection/);
    await expect(mailboxReport).resolves.toMatchObject({ projection: 'mailbox', digest: readModelDigest(perEvent, mailboxProjection).digest });
    expectPerEvent(mailboxProjection);
    expect(audit.status()).toMatchObject({ state: 'idle', lastFailure: { error: expect.stringMatching(/noSuchProjection/) } });
    expect(fs.readdirSync(dir).filter((file) => file.startsWith('.rebuild-'))).toEqual([]);

    await expect(
      Promise.all(ProjectionRunner.rebuildTogether([new ProjectionRunner(db, store, auditProjection, () => new Date(), undefined, true), mailbox])),
    ).resolves.toHaveLength(2);
    expectPerEvent(auditProjection);
  }, 180_000);
});
