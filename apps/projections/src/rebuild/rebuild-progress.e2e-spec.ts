import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { JOB_CATEGORY, streamIdOf } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { baseUrlOf, bearer, eventually, issueStaffToken, pendingEvent } from '@sigillum/testing';
import request from 'supertest';
import { directoryRole } from '../../../directory/src/directory.role';
import { projectionsRole } from '../projections.role';
import { evidenceRole } from './evidence-role.test-kit';
import type { RebuildStatus } from './projection-runner';
import { realisticStories, writeRealisticLog } from './testing-fixtures';

/**
 * `GET /projections/:name/rebuild` and `POST /projections/:name/rebuild?wait=false` over HTTP: who may follow a
 * rebuild and who may start one; the 202 answered at once with where to follow it; its progress while its page read
 * is held (the log: four correspondences, then 1,200 events no projection reads, which the rebuild skips: one page of
 * the mailbox's events; progress within several pages: rebuild-progress.int-spec.ts); 409 meanwhile; the report once
 * it is done, up to the head of the log.
 */
describe('rebuild progress over HTTP (embedded bus)', () => {
  let app: INestApplication;
  let dataDir: string;
  let store: EventStore;
  let head: bigint;
  const tokens: Record<'ops' | 'auditor' | 'admin' | 'registrar', Record<string, string>> = { ops: {}, auditor: {}, admin: {}, registrar: {} };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-rebuild-progress-e2e-'));
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', CONSUMER_MAX_ATTEMPTS: '3' });
    app = await createSigillumApp(config, [directoryRole, evidenceRole, projectionsRole]);
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    const base = baseUrlOf(app.getHttpServer());
    for (const role of ['ops', 'auditor', 'admin', 'registrar'] as const) tokens[role] = bearer(await issueStaffToken(base, dataDir, [role], `${role}-1`));
    store = app.get<EventStore>(EVENT_STORE);
    const log = realisticStories();
    await writeRealisticLog(store, log);
    // Facts of a type no consumer knows (skipped, never dead-lettered), in a category no projection reads.
    for (let batch = 0; batch < 12; batch++) {
      await store.append(
        streamIdOf(JOB_CATEGORY, randomUUID()),
        Array.from({ length: 100 }, (_, i) => pendingEvent('FillerNoted', { i })),
        'any',
      );
    }
    head = (await store.readAll()).at(-1)!.globalPosition;
    await eventually(async () => {
      const { body } = await request(app.getHttpServer()).get('/projections/mailbox/digest').set(tokens.ops).expect(200);
      expect((body as { rows: Record<string, number> }).rows.rm_mailbox_correspondences).toBe(log.all.length);
    }, 30_000);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  const http = () => request(app.getHttpServer());
  const status = async (name = 'mailbox') => (await http().get(`/projections/${name}/rebuild`).set(tokens.auditor).expect(200)).body as RebuildStatus;

  it('following a rebuild: ops, admin and auditor; 401 anonymous, 403 another staff role; 404 an unknown projection', async () => {
    await http().get('/projections/mailbox/rebuild').expect(401);
    const refused = await http().get('/projections/mailbox/rebuild').set(tokens.registrar).expect(403);
    expect((refused.body as { reasons: { rule: string }[] }).reasons[0].rule).toBe('access.role');
    for (const role of ['ops', 'admin', 'auditor'] as const) {
      const { body } = await http().get('/projections/mailbox/rebuild').set(tokens[role]).expect(200);
      expect(body).toEqual({ projection: 'mailbox', state: 'idle', progress: null, last: null, lastFailure: null });
    }
    await http().get('/projections/nope/rebuild').set(tokens.ops).expect(404);
  });

  it('starting one: ops only (401 anonymous, 403 auditor and admin); `wait` must be true or false', async () => {
    await http().post('/projections/mailbox/rebuild?wait=false').expect(401);
    for (const role of ['auditor', 'admin', 'registrar'] as const) {
      const refused = await http().post('/projections/mailbox/rebuild?wait=false').set(tokens[role]).expect(403);
      expect((refused.body as { reasons: { rule: string }[] }).reasons[0].rule).toBe('access.role');
    }
    const bad = await http().post('/projections/mailbox/rebuild?wait=later').set(tokens.ops).expect(400);
    expect(JSON.stringify(bad.body)).toContain('wait');
    expect((await status()).state).toBe('idle'); // nothing was started
  });

  it('?wait=false answers 202 at once with where to follow it; its progress towards the head; 409 meanwhile; the report after', async () => {
    // Hold the rebuild's page reads (its checks read one event at a time and go through), until the progress was read.
    const readAll = store.readAll.bind(store);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const spy = jest.spyOn(store, 'readAll').mockImplementation(async (options) => {
      if (options?.maxCount === 500) await held;
      return readAll(options);
    });
    try {
      const started = await http().post('/projections/mailbox/rebuild?wait=false').set(tokens.ops).expect(202);
      expect(started.headers.location).toBe('/projections/mailbox/rebuild');
      expect(started.body).toMatchObject({ projection: 'mailbox', state: 'rebuilding', progressUrl: '/projections/mailbox/rebuild', last: null });
      // The head at the rebuild's start: this test's, or later when the app appended meanwhile (its own facts).
      const startHead = started.body.progress.headPosition as string;
      expect(BigInt(startHead)).toBeGreaterThanOrEqual(head);

      const during = await status();
      expect(during.state).toBe('rebuilding');
      expect(during.progress).toMatchObject({ projection: 'mailbox', headPosition: startHead, position: null, percent: 0, eventsScanned: 0, applied: 0 });
      expect(during.progress!.eventsPerSecond).toBeGreaterThanOrEqual(0);
      expect(during.progress!.etaSeconds).toBeNull();

      const list = (await http().get('/projections').set(tokens.admin).expect(200)).body as {
        projections: { name: string; rebuilding: boolean; progress: unknown }[];
      };
      expect(list.projections.find((p) => p.name === 'mailbox')).toMatchObject({ rebuilding: true, progress: { headPosition: startHead } });
      expect(list.projections.find((p) => p.name === 'audit')).toMatchObject({ rebuilding: false, progress: null });

      await http().post('/projections/mailbox/rebuild?wait=false').set(tokens.ops).expect(409);
      await http().post('/projections/mailbox/rebuild').set(tokens.ops).expect(409);
    } finally {
      release();
      spy.mockRestore();
    }
    const done = await eventually(async () => {
      const now = await status();
      expect(now.state).toBe('idle');
      return now;
    }, 15_000);
    // The rebuild reads up to the head at its start: this test's head, or later when the app appended meanwhile (its own facts).
    expect(done).toMatchObject({ progress: null, lastFailure: null, last: { projection: 'mailbox', poison: 0 } });
    expect(BigInt(done.last!.lastPosition!)).toBeGreaterThanOrEqual(head);
    const list = (await http().get('/projections').set(tokens.ops).expect(200)).body as { projections: { name: string; progress: unknown }[] };
    expect(list.projections.every((p) => p.progress === null)).toBe(true);
  }, 60_000);

  it('without ?wait=false the rebuild answers 200 with its report, as before; it becomes the last one', async () => {
    const { body } = await http().post('/projections/audit/rebuild').set(tokens.ops).expect(200);
    expect(body).toMatchObject({ projection: 'audit' });
    expect(BigInt(body.lastPosition)).toBeGreaterThanOrEqual(head);
    expect((await status('audit')).last).toEqual(body);
  }, 30_000);
});
