import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { baseUrlOf, bearer, eventually, issueStaffToken } from '@sigillum/testing';
import request from 'supertest';
// The directory issues and checks the staff credentials the auditor calls with.
import { directoryRole } from '../../../directory/src/directory.role';
import { projectionsRole } from '../projections.role';
import { evidenceRole } from '../rebuild/evidence-role.test-kit';
import { realisticStories, writeRealisticLog } from '../rebuild/testing-fixtures';

/**
 * The embedded app as `npm start` runs it (PROJECTIONS_APPLY=thread, the default): the mailboxes and the audit view are
 * written by the live apply thread, served by the main thread's routes, and GET /health says where they are written.
 * PROJECTIONS_APPLY=inline keeps them on the event loop (no such component). Slow under ts-jest: the worker compiles
 * the TypeScript modules it loads.
 */
describe.each([
  ['thread', { where: 'thread', detail: expect.stringMatching(/on a worker thread \(running; 0 restart/) }],
  ['inline', undefined],
] as const)('PROJECTIONS_APPLY=%s: the read models over HTTP', (mode, health) => {
  let app: INestApplication;
  let dataDir: string;
  let auditor: Record<string, string>;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-live-apply-e2e-'));
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', PROJECTIONS_APPLY: mode });
    app = await createSigillumApp(config, [directoryRole, evidenceRole, projectionsRole]);
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    const base = baseUrlOf(app.getHttpServer());
    auditor = bearer(await issueStaffToken(base, dataDir, ['auditor'], 'auditor-1'));
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('serves the mailboxes and the audit view of the events recorded, and says in /health where they are written', async () => {
    const log = realisticStories();
    await writeRealisticLog(app.get<EventStore>(EVENT_STORE), log);
    const http = () => request(app.getHttpServer());
    for (const story of log.all) {
      await eventually(async () => {
        const view = (await http().get(`/mailbox/correspondences/${story.correspondenceId}`).set(auditor).expect(200)).body;
        expect(view.history.length).toBe(story.sources.length);
        const audit = (await http().get(`/audit/correspondences/${story.correspondenceId}`).set(auditor).expect(200)).body;
        expect(audit.records.length).toBeGreaterThan(0);
      }, 60_000);
    }
    const components = (await http().get('/health').expect(200)).body.components;
    if (health) expect(components['projections-live-apply']).toEqual({ up: true, restarts: 0, ...health });
    else expect(components['projections-live-apply']).toBeUndefined();
  }, 120_000);
});
