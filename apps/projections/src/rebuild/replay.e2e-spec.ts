import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig, type SigillumConfig } from '@sigillum/config';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { baseUrlOf, bearer, eventually, issueStaffToken } from '@sigillum/testing';
import Database from 'better-sqlite3';
import request from 'supertest';
import { directoryRole } from '../../../directory/src/directory.role';
import { projectionsRole } from '../projections.role';
import { evidenceRole } from './evidence-role.test-kit';
import { type RealisticLog, realisticStories, writeRealisticLog } from './testing-fixtures';

interface Replay {
  projection: string;
  live: { digest: string; rows: Record<string, number>; position: string | null };
  replayed: { digest: string; rows: Record<string, number>; position: string | null };
  equal: boolean;
}

/**
 * POST /projections/:name/replay over HTTP: the mailbox and audit read models rebuilt from position 0 into a scratch
 * database and compared with the live ones at the same position; a live table edited behind the projection's back
 * (as a bug would) is found; the live read model is never touched by a replay.
 */
describe('POST /projections/:name/replay (embedded bus)', () => {
  let app: INestApplication;
  let config: SigillumConfig;
  let dataDir: string;
  let log: RealisticLog;
  let auditor: Record<string, string>;
  let ops: Record<string, string>;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-replay-e2e-'));
    config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', CONSUMER_MAX_ATTEMPTS: '3' });
    app = await createSigillumApp(config, [directoryRole, evidenceRole, projectionsRole]);
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    const base = baseUrlOf(app.getHttpServer());
    auditor = bearer(await issueStaffToken(base, dataDir, ['auditor'], 'auditor-1'));
    ops = bearer(await issueStaffToken(base, dataDir, ['ops'], 'ops-1'));
    log = realisticStories();
    await writeRealisticLog(app.get<EventStore>(EVENT_STORE), log);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  const replay = async (name: string, who = auditor): Promise<Replay> =>
    (await request(app.getHttpServer()).post(`/projections/${name}/replay`).set(who).expect(200)).body as Replay;
  const digest = async (name: string) =>
    (await request(app.getHttpServer()).get(`/projections/${name}/digest`).set(auditor).expect(200)).body as { digest: string; rows: Record<string, number> };
  const scratchFiles = () => (fs.existsSync(path.join(dataDir, 'replay-scratch')) ? fs.readdirSync(path.join(dataDir, 'replay-scratch')) : []);

  it('replays mailbox and audit into a scratch database: the same digests as the live read models, at the same position', async () => {
    // Wait for the live consumers to apply the whole story (the last evidence of the delivered letter in the audit view).
    await eventually(async () => {
      const audit = await digest('audit');
      expect(audit.rows.rm_audit_evidence).toBeGreaterThan(10);
      const mailbox = await digest('mailbox');
      expect(mailbox.rows.rm_mailbox_correspondences).toBe(log.all.length);
    }, 30_000);
    for (const name of ['mailbox', 'audit']) {
      // The evidence consumer may still be recording the story's last evidence: a replay is compared with the live
      // model at the position it read, and the live model read after it must still be that one (the replay did not
      // touch it); when a live batch landed in between, the whole comparison is made again.
      const result = await eventually(async () => {
        const answer = await replay(name, name === 'audit' ? ops : auditor);
        expect(answer.equal).toBe(true);
        expect((await digest(name)).digest).toBe(answer.live.digest);
        return answer;
      }, 30_000);
      expect(result).toMatchObject({ projection: name, equal: true });
      expect(result.replayed).toEqual(result.live);
      expect(result.live.position).toMatch(/^\d+$/);
      expect(Object.values(result.live.rows).some((n) => n > 0)).toBe(true);
    }
    expect(scratchFiles()).toEqual([]); // the scratch database is deleted
  }, 90_000);

  it('finds a live table edited behind the projection (as a bug would): equal false, both digests; the live model untouched', async () => {
    const db = new Database(config.sqliteFile);
    try {
      const target = log.delivered.correspondenceId;
      db.prepare('UPDATE rm_mailbox_correspondences SET subject = ? WHERE correspondence_id = ?').run('Tampered', target);
      const tampered = await digest('mailbox');
      const result = await replay('mailbox');
      expect(result.equal).toBe(false);
      expect(result.live.digest).toBe(tampered.digest);
      expect(result.replayed.digest).not.toBe(result.live.digest);
      expect(result.replayed.digest).toMatch(/^[0-9a-f]{64}$/);
      expect(result.replayed.position).toBe(result.live.position);
      // The replay did not repair nor change the live read model.
      expect(await digest('mailbox')).toEqual(tampered);
      expect((db.prepare('SELECT subject FROM rm_mailbox_correspondences WHERE correspondence_id = ?').get(target) as { subject: string }).subject).toBe(
        'Tampered',
      );
      // The audit read model was not tampered with: still equal.
      expect((await replay('audit')).equal).toBe(true);
    } finally {
      db.close();
    }
    expect(scratchFiles()).toEqual([]);
  }, 60_000);

  it('404 for an unknown projection, 409 while a replay of it runs; anonymous 401', async () => {
    await request(app.getHttpServer()).post('/projections/nope/replay').set(auditor).expect(404);
    await request(app.getHttpServer()).post('/projections/mailbox/replay').expect(401);
    // Hold the replay's reading of the log until the second request has been answered.
    const store = app.get<EventStore>(EVENT_STORE);
    const readAll = store.readAll.bind(store);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const spy = jest.spyOn(store, 'readAll').mockImplementation(async (...args) => {
      await held;
      return readAll(...args);
    });
    try {
      const first = request(app.getHttpServer())
        .post('/projections/audit/replay')
        .set(auditor)
        .then((response) => response);
      await eventually(() => expect(spy).toHaveBeenCalled(), 10_000);
      const second = await request(app.getHttpServer()).post('/projections/audit/replay').set(ops);
      expect(second.status).toBe(409);
      release();
      expect((await first).body).toMatchObject({ projection: 'audit', equal: true });
    } finally {
      release();
      spy.mockRestore();
    }
  }, 60_000);
});
