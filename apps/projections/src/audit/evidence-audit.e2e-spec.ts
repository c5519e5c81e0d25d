import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { baseUrlOf, bearer, eventually, issueStaffToken } from '@sigillum/testing';
import request from 'supertest';
// The directory issues and checks the staff credentials the auditor and the ops engineer call with.
import { directoryRole } from '../../../directory/src/directory.role';
import { projectionsRole } from '../projections.role';
import { evidenceRole } from '../rebuild/evidence-role.test-kit';
import { type RealisticLog, realisticStories, writeRealisticLog } from '../rebuild/testing-fixtures';

const root = path.resolve(__dirname, '../../../..');
const run = promisify(execFile);

/** `npm run verify:evidence -- …` as a user runs it; resolves with the exit code and what it printed. */
async function verifyScript(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['-r', './libs/testing/src/event-bus-restart/ts-register.js', 'scripts/verify-evidence.ts', ...args],
      {
        cwd: root,
        env: { ...process.env, SIGILLUM_TOKEN: '', SIGILLUM_SESSION: '', ...env },
      },
    );
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: failed.stdout + failed.stderr };
  }
}

describe('evidence, mailbox and audit over HTTP (embedded bus)', () => {
  let app: INestApplication;
  let dataDir: string;
  let base: string;
  let log: RealisticLog;
  /** Who reads evidence, mailboxes and the audit view. */
  let auditor: Record<string, string>;
  /** Who rebuilds projections. */
  let ops: Record<string, string>;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-evidence-e2e-'));
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', CONSUMER_MAX_ATTEMPTS: '3' });
    app = await createSigillumApp(config, [directoryRole, evidenceRole, projectionsRole]);
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    base = baseUrlOf(app.getHttpServer());
    auditor = bearer(await issueStaffToken(base, dataDir, ['auditor'], 'auditor-1'));
    ops = bearer(await issueStaffToken(base, dataDir, ['ops'], 'ops-1'));
    log = realisticStories();
    await writeRealisticLog(app.get<EventStore>(EVENT_STORE), log);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  const anonymous = () => request(app.getHttpServer());
  /** Requests as `who` (the auditor unless told). */
  const http = (who = auditor) => {
    const agent = anonymous();
    return {
      get: (url: string) => agent.get(url).set(who),
      post: (url: string) => agent.post(url).set(who),
    };
  };
  const lastEvidence = {
    delivered: 'ContentHandover',
    refusedAndExpired: 'AcceptanceRejectionExpiry',
    gateRefused: 'SubmissionRejection',
    chainFailed: 'ContentConsignmentFailure',
  } as const;

  it('records the evidence of every correspondence from its facts, serves it (proven by the evidence log, no per-record JWS by default), and verifies it', async () => {
    for (const [name, last] of Object.entries(lastEvidence)) {
      const story = log[name as keyof typeof lastEvidence];
      const body = await eventually(async () => {
        const response = (await http().get(`/evidence/${story.correspondenceId}`).expect(200)).body;
        expect(response.records[response.records.length - 1]?.eventName).toBe(last);
        return response;
      }, 30_000);
      expect(body.records.map((r: { chainIndex: number }) => r.chainIndex)).toEqual(body.records.map((_: unknown, i: number) => i));
      expect(body.records.some((r: object) => 'jws' in r)).toBe(false);
      expect(body.signingCertificate).toContain('BEGIN CERTIFICATE');
      const verdict = await eventually(async () => {
        const answer = (await http().get(`/evidence/${story.correspondenceId}/verification`).expect(200)).body;
        expect(answer.log.pending).toBe(0); // the log signs a checkpoint within EVIDENCE_CHECKPOINT_MS
        return answer;
      }, 30_000);
      expect(verdict).toMatchObject({
        valid: true,
        correspondenceId: story.correspondenceId,
        problems: [],
        log: { covered: body.records.length, problems: [] },
      });
    }
    await http().get(`/evidence/${randomUUID()}`).expect(404);
    await http().get(`/evidence/${randomUUID()}/verification`).expect(404);
    await http().get('/evidence/not-a-uuid').expect(400);
  }, 60_000);

  it('gives evidence, mailboxes and the audit view to the auditor only: 401 anonymous, 403 to other staff', async () => {
    const { delivered } = log;
    const reads = [
      `/evidence/${delivered.correspondenceId}`,
      `/evidence/${delivered.correspondenceId}/verification`,
      `/mailbox/${delivered.senderId}/outbox`,
      `/mailbox/${delivered.recipientIds[0]}/inbox`,
      `/mailbox/correspondences/${delivered.correspondenceId}`,
      `/audit/correspondences/${delivered.correspondenceId}`,
      `/audit/parties/${delivered.recipientIds[0]}`,
      '/audit/correspondences?since=2026-01-01T00:00:00Z',
    ];
    for (const url of reads) {
      const refused = await anonymous().get(url).expect(401);
      expect(refused.body).toMatchObject({ code: 'ACCESS.UNAUTHENTICATED', reasons: [expect.objectContaining({ rule: 'access.unauthenticated' })] });
      expect(refused.headers['www-authenticate']).toMatch(/^Bearer/);
      const forbidden = await http(ops).get(url).expect(403);
      expect(forbidden.body).toMatchObject({
        code: 'ACCESS.FORBIDDEN',
        reasons: [expect.objectContaining({ rule: 'access.role', message: expect.stringContaining('auditor') })],
      });
    }
    await anonymous().post('/projections/audit/rebuild').expect(401);
    // The CA certificate is public: every relying party needs it.
    expect((await anonymous().get('/ca/certificate').expect(200)).text).toContain('BEGIN CERTIFICATE');
  });

  it('serves mailboxes and the audit view once the evidence is projected', async () => {
    const { delivered, refusedAndExpired } = log;
    const outbox = await eventually(async () => {
      const body = (await http().get(`/mailbox/${delivered.senderId}/outbox`).expect(200)).body;
      expect(body.items[0]).toMatchObject({ correspondenceId: delivered.correspondenceId, status: 'closed', lastEvidence: 'ContentHandover' });
      return body;
    }, 30_000);
    expect(outbox).toMatchObject({ total: 1, limit: 20, offset: 0 });
    const inbox = (await http().get(`/mailbox/${refusedAndExpired.recipientIds[1]}/inbox?limit=5`).expect(200)).body;
    expect(inbox).toMatchObject({ total: 1, limit: 5, items: [{ correspondenceId: refusedAndExpired.correspondenceId, myStatus: 'expired' }] });
    const view = (await http().get(`/mailbox/correspondences/${refusedAndExpired.correspondenceId}`).expect(200)).body;
    expect(view.history.length).toBe(refusedAndExpired.sources.length);
    expect(view.evidence.length).toBeGreaterThan(5);

    const audit = await eventually(async () => {
      const body = (await http().get(`/audit/correspondences/${delivered.correspondenceId}`).expect(200)).body;
      expect(body.status).toBe('verified');
      expect(body.records[body.records.length - 1].eventName).toBe('ContentHandover');
      return body;
    }, 30_000);
    expect(audit.trustAnchors).toHaveLength(1);
    const party = (await http().get(`/audit/parties/${delivered.recipientIds[0]}?limit=3`).expect(200)).body;
    expect(party.items).toHaveLength(3);
    expect(party.total).toBeGreaterThan(3);

    // Every correspondence by the time of its first evidence (the submission), two per page.
    const listed = await eventually(async () => {
      const ids: string[] = [];
      const times: string[] = [];
      let after: string | null = null;
      do {
        const query: string = `/audit/correspondences?limit=2${after ? `&after=${after}` : ''}`;
        const body = (await http().get(query).expect(200)).body as { items: { correspondenceId: string; firstEvidenceTime: string }[]; next: string | null };
        expect(body.items.length).toBeLessThanOrEqual(2);
        ids.push(...body.items.map((item) => item.correspondenceId));
        times.push(...body.items.map((item) => item.firstEvidenceTime));
        after = body.next;
      } while (after);
      expect([...ids].sort()).toEqual(log.all.map((story) => story.correspondenceId).sort());
      return times;
    }, 30_000);
    expect(listed).toEqual([...listed].sort());
    const bad = (await http().get('/audit/correspondences?since=2026-03-02T09:00:00Z&until=2026-03-02T08:00:00Z&limit=0').expect(400)).body;
    expect(bad.violations).toEqual(
      expect.arrayContaining([expect.objectContaining({ field: 'until', rule: 'isAfterSince' }), expect.objectContaining({ field: 'limit', rule: 'min' })]),
    );

    await http().get('/mailbox/not-a-uuid/inbox').expect(400);
    await http().get(`/mailbox/${delivered.senderId}/outbox?limit=0`).expect(400);
    await http().get(`/mailbox/${delivered.senderId}/outbox?page=2`).expect(400);
    await http().get(`/mailbox/correspondences/${randomUUID()}`).expect(404);
    await http().get(`/audit/correspondences/${randomUUID()}`).expect(404);
  }, 60_000);

  it('rebuilds mailbox and audit from position 0 to the same digests', async () => {
    const expectedEvidence = (await http().get(`/evidence/${log.refusedAndExpired.correspondenceId}`).expect(200)).body.records.length;
    await eventually(async () => {
      const view = (await http().get(`/mailbox/correspondences/${log.refusedAndExpired.correspondenceId}`).expect(200)).body;
      expect(view.evidence.length).toBe(expectedEvidence);
    }, 30_000);
    for (const name of ['mailbox', 'audit']) {
      const before = (await http(ops).get(`/projections/${name}/digest`).expect(200)).body;
      const report = (await http(ops).post(`/projections/${name}/rebuild`).expect(200)).body;
      expect(report).toMatchObject({ projection: name, digest: before.digest, rows: before.rows, poison: 0 });
      expect((await http(ops).get(`/projections/${name}/digest`).expect(200)).body.digest).toBe(before.digest);
      // The auditor compares digests too, and reads the list, but does not rebuild.
      expect((await http(auditor).get(`/projections/${name}/digest`).expect(200)).body.digest).toBe(before.digest);
    }
    const listed = (await http(ops).get('/projections').expect(200)).body;
    expect(listed.projections.map((p: { name: string }) => p.name)).toEqual(['audit', 'mailbox']);
    expect((await http(auditor).get('/projections').expect(200)).body).toEqual(listed);
    await http(ops).post('/projections/nope/rebuild').expect(404);
    const auditorRebuild = await http(auditor).post('/projections/audit/rebuild').expect(403);
    expect(auditorRebuild.body.reasons).toEqual([expect.objectContaining({ rule: 'access.role' })]);
  }, 60_000);

  it('npm run verify:evidence: VALID for what the auditor fetched; INVALID with the rule for a tampered export', async () => {
    const id = log.delivered.correspondenceId;
    const exported = path.join(dataDir, 'evidence.json');
    // The auditor fetches the evidence (auditors only) and the CA certificate (public), and exports them as --export does.
    const evidence = (await http(auditor).get(`/evidence/${id}`).expect(200)).body;
    const caCertificatePem = (await anonymous().get('/ca/certificate').expect(200)).text;
    fs.writeFileSync(exported, `${JSON.stringify({ correspondenceId: id, records: evidence.records, caCertificatePem }, null, 2)}\n`);

    const offline = await verifyScript(['--file', exported]);
    // Records carry no signature of their own by default: the chain holds, and the log proof is the audit CLI's.
    expect(offline.out).toMatch(/VALID chain: every digest and link holds \(0 of 13/);
    expect(offline.out).toMatch(/npm run audit -- export and verify/);
    expect(offline.code).toBe(0);
    expect(offline.out).toMatch(/#0 +ok +sigillum:CorrespondenceValidatedBySender/);
    const tampered = JSON.parse(fs.readFileSync(exported, 'utf8'));
    tampered.records[3].record.EventTime = '2020-01-01T00:00:00.000Z';
    fs.writeFileSync(exported, JSON.stringify(tampered));
    const caught = await verifyScript(['--file', exported]);
    expect(caught.code).toBe(1);
    expect(caught.out).toMatch(/#3 +INVALID/);
    expect(caught.out).toMatch(/digest\.mismatch/);

    // Fetching from the running server: GET /evidence/:id needs a credential, read from SIGILLUM_TOKEN (never argv).
    const refused = await verifyScript([id, '--url', base]);
    expect(refused.code).toBe(2);
    expect(refused.out).toMatch(/answered 401.*Set SIGILLUM_TOKEN/);
    const online = await verifyScript([id, '--url', base], { SIGILLUM_TOKEN: auditor.authorization.replace(/^Bearer /, '') });
    expect(online.out).toMatch(/VALID chain/);
    expect(online.code).toBe(0);
  }, 60_000);
});
