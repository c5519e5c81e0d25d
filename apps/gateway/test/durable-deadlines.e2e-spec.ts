import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { loadConfig, type SigillumConfig } from '@sigillum/config';
import { CHAIN_CATEGORY, type ChainEvent, type CertificationToken, streamIdOf } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp, DURABLE_TIMERS, type DurableTimers } from '@sigillum/runtime';
import { adminCredentialOf, eventually, issueStaffToken, MailCatcher, MovableClock } from '@sigillum/testing';
import { call } from '../src/demo/narrator';
import { asBearer } from '../src/demo/staff';
import { type Api, awaitChainOperator, DEMO_EVIDENCE, enrolPerson, openSession } from '../src/demo/story';
import { rolesFor } from '../src/roles';

/**
 * A token's deadline outlives the process that issued it: the certifier issues a token to an operator that never
 * answers, the process stops, a new process opens the same data directory, and when (event) time passes the
 * deadline, the durable timer records StepDeadlineMissed — not before.
 */
describe('certification-token deadlines survive a restart (embedded)', () => {
  const mail = new MailCatcher();
  const clock = new MovableClock();
  let dataDir: string;
  let config: SigillumConfig;
  let app: INestApplication | undefined;

  const boot = async () => {
    const started = await createSigillumApp(config, rolesFor(config.roles), { clock });
    await started.startAllMicroservices();
    await started.listen(0, '127.0.0.1');
    return started;
  };
  const chainEvents = async (store: EventStore, correspondenceId: string) =>
    (await store.readStream(streamIdOf(CHAIN_CATEGORY, correspondenceId))).map(({ event }) => event as ChainEvent);

  beforeAll(async () => {
    await mail.start();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-deadlines-'));
    const kindsFile = path.join(dataDir, 'kinds.json');
    fs.writeFileSync(kindsFile, JSON.stringify([{ name: 'posted', requiredLevel: 'substantial', consignment: 'basic', chain: ['print-and-post'] }]));
    config = loadConfig({
      ...mail.env(),
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'warn',
      SEND_AWAIT_MS: '10000',
      SESSION_REQUEST_WAIT_MS: '10000',
      TIMER_POLL_MS: '60000', // the test fires timers itself
      CORRESPONDENCE_KINDS_FILE: kindsFile,
      KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret',
    });
  }, 30_000);

  afterAll(async () => {
    await app?.close();
    await mail.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('a deadline scheduled by one process is kept by the next one and fires at the deadline, never before', async () => {
    app = await boot();
    const base = await app.getUrl();
    // Anonymous until a party's session opens; the first-start admin and a registrar it issues a credential to enrol.
    const api: Api = (method, url, body, headers) => call(base, method, url, body, headers);
    const admin = asBearer(api, adminCredentialOf(dataDir));
    const registrar = asBearer(api, await issueStaffToken(base, dataDir, ['registrar'], 'registrar-1'));
    const now = clock.now();

    // An operator registered and certified, but hosted by no processor: it will never acknowledge.
    const operatorId = (await admin('POST', '/parties', { kind: 'operator', operatorRole: 'processing', displayName: 'Silent Post' })).partyId;
    await admin('PUT', `/parties/${operatorId}/specification`, { version: 1, steps: [{ step: 'print-and-post', parameters: {}, maxDurationSeconds: 300 }] });
    const { publicKey } = generateKeyPairSync('ed25519');
    await admin('POST', `/parties/${operatorId}/keys`, {
      algorithm: 'Ed25519',
      use: 'signature',
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
    });
    for (const name of ['legalName', 'operatorAccreditation']) {
      await registrar('POST', `/parties/${operatorId}/certifications`, {
        name,
        level: 'substantial',
        validUntil: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
        evidence: DEMO_EVIDENCE,
      });
    }
    await awaitChainOperator(admin, 'print-and-post', operatorId);
    const alice = await enrolPerson(registrar, mail, { displayName: 'Alice Martin', email: 'alice@example.org', level: 'substantial', now });
    const bob = await enrolPerson(registrar, mail, {
      displayName: 'Bob Durand',
      email: 'bob@example.org',
      level: 'substantial',
      now,
      address: '1 rue de la Paix, 75002 Paris',
    });
    const session = await openSession(api, mail, { userId: alice, counterpartIds: [bob], kind: 'posted' });

    const uploaded = (await fetch(`${base}/contents`, {
      method: 'PUT',
      headers: { ...session.auth, 'content-type': 'text/plain' },
      body: Buffer.from('a letter'),
    }).then((r) => r.json())) as { digest: string };
    const draft = await api(
      'POST',
      '/drafts',
      { recipientIds: [bob], subject: 'restart', kind: 'posted', parts: [{ digest: uploaded.digest, name: 'letter.txt', contentType: 'text/plain' }] },
      session.auth,
    );
    const specimen = await api('POST', `/drafts/${draft.draftId}/specimen`, undefined, session.auth);
    await api('POST', `/drafts/${draft.draftId}/validation`, { specimenDigest: specimen.specimenDigest }, session.auth);
    const sent = await api('POST', `/drafts/${draft.draftId}/sending`, { submissionKey: 'restart-1' }, session.auth);

    const store1 = app.get<EventStore>(EVENT_STORE);
    const token = await eventually(async () => {
      const issued = (await chainEvents(store1, sent.correspondenceId)).find((event) => event.type === 'StepTokenIssued');
      if (!issued || issued.type !== 'StepTokenIssued') throw new Error('no token yet');
      return issued.data.token as CertificationToken;
    }, 10_000);
    // The certifier's consumer of its own chain events schedules the deadlines: wait until it has.
    const timers1 = app.get<DurableTimers>(DURABLE_TIMERS);
    await eventually(() => expect(timers1.stats().pending).toBeGreaterThanOrEqual(2), 10_000);

    await app.close();
    app = await boot();
    const store = app.get<EventStore>(EVENT_STORE);
    const timers = app.get<DurableTimers>(DURABLE_TIMERS);

    clock.advance(Date.parse(token.acknowledgeBy) - clock.now().getTime() - 1_000);
    await timers.fireDue();
    expect((await chainEvents(store, sent.correspondenceId)).map((event) => event.type)).not.toContain('StepDeadlineMissed');

    clock.advance(2_000);
    await timers.fireDue();
    const missed = await eventually(async () => {
      const event = (await chainEvents(store, sent.correspondenceId)).find((candidate) => candidate.type === 'StepDeadlineMissed');
      if (!event || event.type !== 'StepDeadlineMissed') throw new Error('no StepDeadlineMissed yet');
      return event.data;
    }, 10_000);
    expect(missed).toMatchObject({ tokenId: token.tokenId, missing: 'acknowledgement', deadline: token.acknowledgeBy, operatorId });
    expect(Date.parse(missed.recordedAt)).toBeGreaterThanOrEqual(Date.parse(token.acknowledgeBy));
  }, 120_000);
});
