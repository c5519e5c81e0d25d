import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { LoopbackMailbox } from '@sigillum/channels';
import { loadConfig } from '@sigillum/config';
import { CHAIN_CATEGORY, streamIdOf } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { baseUrlOf } from '@sigillum/testing';
import { asBearer, issueStaffCredential, readAdminCredential } from '../src/demo/staff';
import { type Api, enrolHostedOperator, enrolPerson, type OpenedSession, openSession, until } from '../src/demo/story';
import { type GatewaySetup, gatewaySetup } from '../src/role-threads/gateway-setup';

/**
 * ROLE_THREADS=certifier: the certifier on a worker thread of its own, with its own connection to the SQLite file,
 * its routes forwarded by the gateway. Registered letters go through every role as in one thread; the thread killed
 * mid-flight is started again, and each letter is certified once.
 */
describe('a role on a thread of its own (ROLE_THREADS=certifier, embedded)', () => {
  let app: INestApplication;
  let setup: GatewaySetup;
  let dataDir: string;
  let mailbox: LoopbackMailbox;
  let store: EventStore;
  let base: string;
  let api: Api;
  let ops: Api;
  let sender: OpenedSession;
  let recipientId: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-role-threads-'));
    mailbox = await new LoopbackMailbox().start();
    const config = loadConfig({
      ...mailbox.env(),
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ROLE_THREADS: 'certifier',
      KEYSTORE_PASSPHRASE: 'role threads e2e',
      SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: '0',
    });
    setup = await gatewaySetup(config);
    app = await createSigillumApp(config, setup.roles, setup.appOptions);
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    base = baseUrlOf(app.getHttpServer());
    store = app.get<EventStore>(EVENT_STORE);
    api = async (method, url, body, headers) => {
      const response = await fetch(`${base}${url}`, {
        method,
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status >= 400) throw new Error(`${method} ${url} answered ${response.status}: ${text.slice(0, 400)}`);
      return text ? JSON.parse(text) : {};
    };
    const admin = asBearer(api, readAdminCredential(dataDir));
    const registrar = asBearer(api, await issueStaffCredential(admin, 'registrar-1', ['registrar']));
    ops = asBearer(api, await issueStaffCredential(admin, 'ops-1', ['ops']));
    const now = new Date();
    await enrolHostedOperator(
      { admin, registrar },
      { displayName: 'Threaded Processing', steps: ['seal', 'timestamp', 'deliver', 'archive'], level: 'substantial', now },
    );
    const senderId = await enrolPerson(registrar, mailbox, { displayName: 'Alice', email: 'alice@example.org', level: 'substantial', now });
    recipientId = await enrolPerson(registrar, mailbox, { displayName: 'Bob', email: 'bob@example.org', level: 'substantial', now });
    sender = await openSession(api, mailbox, { userId: senderId, counterpartIds: [recipientId], kind: 'registered' });
  }, 180_000);

  afterAll(async () => {
    await app?.close(); // stops the role thread too
    await mailbox?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  /** Uploads, drafts, validates and sends one registered letter; its correspondence id. */
  async function send(subject: string): Promise<string> {
    const upload = await fetch(`${base}/contents`, { method: 'PUT', headers: { ...sender.auth, 'content-type': 'text/plain' }, body: `${subject}\n` });
    const { digest } = (await upload.json()) as { digest: string };
    const parts = [{ digest, name: 'letter.txt', contentType: 'text/plain' }];
    const draft = await api('POST', '/drafts', { recipientIds: [recipientId], subject, kind: 'registered', parts }, sender.auth);
    const specimen = await api('POST', `/drafts/${draft.draftId}/specimen`, undefined, sender.auth);
    await api('POST', `/drafts/${draft.draftId}/validation`, { specimenDigest: specimen.specimenDigest }, sender.auth);
    const sent = await api('POST', `/drafts/${draft.draftId}/sending`, { submissionKey: `key-${subject}` }, sender.auth);
    return sent.correspondenceId as string;
  }

  /** The chain's events by type, once the certifier completed it (read through the forwarded route, then the log). */
  async function completed(correspondenceId: string): Promise<Record<string, number>> {
    await until(
      `the chain of ${correspondenceId} to complete`,
      () => ops('GET', `/chains/${correspondenceId}`),
      (chain) => chain.status === 'completed',
      90_000,
    );
    const counts: Record<string, number> = {};
    for (const { event } of await store.readStream(streamIdOf(CHAIN_CATEGORY, correspondenceId))) counts[event.type] = (counts[event.type] ?? 0) + 1;
    // A return judged against a stale read of another thread's stream would be refused, and its step done again.
    expect(counts).not.toHaveProperty('StepNonCompliant');
    return counts;
  }

  it('runs the certifier on its thread: its routes forwarded, deny by default through the forward, GET /health/roles names it', async () => {
    expect(setup.threads.map((thread) => thread.role)).toEqual(['certifier']);
    expect(setup.threads[0].urls).toEqual([expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/)]);
    const health = await fetch(`${base}/health/roles`);
    expect(health.status).toBe(200);
    expect(JSON.stringify(await health.json())).toContain('certifier');
    expect((await fetch(`${base}/chains/00000000-0000-7000-8000-000000000000`)).status).toBe(401); // a certifier route, anonymous
    expect((await fetch(`${base}/chain-operators/seal`)).status).toBe(401);
    expect((await ops('GET', '/chain-operators/seal')).operators).toHaveLength(1);
  });

  it('delivers registered letters through every role, the chain certified on the thread', async () => {
    const ids = [await send('threaded-1'), await send('threaded-2')];
    for (const id of ids) {
      expect(await completed(id)).toMatchObject({ ChainStarted: 1, StepTokenIssued: 4, StepCertified: 4, ChainCompleted: 1 });
      const held = await until(
        'the recipient to hold it',
        () => api('GET', `/correspondences/${id}`, undefined, sender.auth),
        (c) => Boolean(c.correspondenceId),
      );
      expect(held.correspondenceId).toBe(id);
    }
  }, 180_000);

  it('a role thread killed mid-flight is started again at a new address; every letter completes, each step certified once', async () => {
    const thread = setup.threads[0];
    const before = thread.urls[0];
    const ids = await Promise.all(['crash-1', 'crash-2', 'crash-3'].map((subject) => send(subject)));
    await thread.crash();
    await until(
      'the certifier thread to listen again',
      async () => thread.urls[0],
      (url) => url !== undefined && url !== before,
      60_000,
    );
    for (const id of ids) expect(await completed(id)).toMatchObject({ ChainStarted: 1, StepTokenIssued: 4, StepCertified: 4, ChainCompleted: 1 });
    expect((await fetch(`${base}/health/roles`)).status).toBe(200);
  }, 240_000);
});
