import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { EVENT_BUS, type EventBus } from '@sigillum/bus';
import { loadConfig } from '@sigillum/config';
import { CHAIN_CATEGORY, type ChainEvent, type CertificationToken, streamIdOf } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp, DURABLE_TIMERS, type DurableTimers, LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { adminCredentialOf, baseUrlOf, eventually, issueStaffToken, MailCatcher, MovableClock } from '@sigillum/testing';
import { call } from '../src/demo/narrator';
import { asBearer } from '../src/demo/staff';
import { type Api, awaitChainOperator, DEMO_EVIDENCE, enrolPerson, openSession } from '../src/demo/story';
import { rolesFor } from '../src/roles';

/** The subject of the console's letter: an ops user must never see it, and it must show as text, never run. */
export const SECRET_SUBJECT = 'Confidential <script>document.title="pwned"</script> <img src=x onerror=alert(1)>';

/**
 * One process with every role (embedded), a movable clock, and a processing operator that never answers: it is
 * registered, keyed and certified, but no processor hosts it. A letter sent through it waits for an acknowledgement
 * that never comes; moving the clock past the deadline and firing the durable timers records StepDeadlineMissed,
 * and the chain, still in flight, is stuck.
 */
export class ConsoleWorld {
  readonly mail = new MailCatcher();
  readonly clock = new MovableClock();
  dataDir = '';
  app!: INestApplication;
  base = '';
  tokens!: { admin: string; ops: string; auditor: string; registrar: string };
  operatorId = '';
  operatorKeyId = '';
  alice = '';
  bob = '';

  async start(): Promise<void> {
    await this.mail.start();
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-console-'));
    const kindsFile = path.join(this.dataDir, 'kinds.json');
    fs.writeFileSync(kindsFile, JSON.stringify([{ name: 'posted', requiredLevel: 'substantial', consignment: 'basic', chain: ['print-and-post'] }]));
    const config = loadConfig({
      ...this.mail.env(),
      DATA_DIR: this.dataDir,
      PORT: '0',
      LOG_LEVEL: 'error',
      SEND_AWAIT_MS: '10000',
      SESSION_REQUEST_WAIT_MS: '10000',
      TIMER_POLL_MS: '60000', // the test fires timers itself
      CHAIN_MAX_ATTEMPTS: '5',
      CORRESPONDENCE_KINDS_FILE: kindsFile,
      KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret',
    });
    this.app = await createSigillumApp(config, rolesFor(config.roles), { clock: this.clock });
    await this.app.startAllMicroservices();
    await this.app.listen(0, '127.0.0.1');
    this.base = baseUrlOf(this.app.getHttpServer());
    this.tokens = {
      admin: adminCredentialOf(this.dataDir),
      ops: await issueStaffToken(this.base, this.dataDir, ['ops'], 'ops-on-call'),
      auditor: await issueStaffToken(this.base, this.dataDir, ['auditor'], 'auditor-1'),
      registrar: await issueStaffToken(this.base, this.dataDir, ['registrar'], 'registrar-1'),
    };
    const api: Api = (method, url, body, headers) => call(this.base, method, url, body, headers);
    const admin = asBearer(api, this.tokens.admin);
    const registrar = asBearer(api, this.tokens.registrar);
    const now = this.clock.now();
    this.operatorId = (await admin('POST', '/parties', { kind: 'operator', operatorRole: 'processing', displayName: 'Silent Post' })).partyId;
    await admin('PUT', `/parties/${this.operatorId}/specification`, {
      version: 1,
      steps: [{ step: 'print-and-post', parameters: {}, maxDurationSeconds: 300 }],
    });
    const { publicKey } = generateKeyPairSync('ed25519');
    this.operatorKeyId = (
      await admin('POST', `/parties/${this.operatorId}/keys`, {
        algorithm: 'Ed25519',
        use: 'signature',
        publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
      })
    ).keyId;
    for (const name of ['legalName', 'operatorAccreditation']) {
      await registrar('POST', `/parties/${this.operatorId}/certifications`, {
        name,
        level: 'substantial',
        validUntil: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
        evidence: DEMO_EVIDENCE,
      });
    }
    await awaitChainOperator(admin, 'print-and-post', this.operatorId);
    this.alice = await enrolPerson(registrar, this.mail, { displayName: 'Alice Martin', email: 'alice@example.org', level: 'substantial', now });
    this.bob = await enrolPerson(registrar, this.mail, {
      displayName: 'Bob Durand',
      email: 'bob@example.org',
      level: 'substantial',
      now,
      address: '1 rue de la Paix, 75002 Paris',
    });
  }

  /** Sends a letter through the silent operator; returns its correspondence id and the first token. */
  async sendLetter(key: string): Promise<{ correspondenceId: string; token: CertificationToken }> {
    const api: Api = (method, url, body, headers) => call(this.base, method, url, body, headers);
    const session = await openSession(api, this.mail, { userId: this.alice, counterpartIds: [this.bob], kind: 'posted' });
    const uploaded = (await fetch(`${this.base}/contents`, {
      method: 'PUT',
      headers: { ...session.auth, 'content-type': 'text/plain' },
      body: Buffer.from('a letter'),
    }).then((r) => r.json())) as { digest: string };
    const draft = await api(
      'POST',
      '/drafts',
      {
        recipientIds: [this.bob],
        subject: SECRET_SUBJECT,
        kind: 'posted',
        parts: [{ digest: uploaded.digest, name: 'letter.txt', contentType: 'text/plain' }],
      },
      session.auth,
    );
    const specimen = await api('POST', `/drafts/${draft.draftId}/specimen`, undefined, session.auth);
    await api('POST', `/drafts/${draft.draftId}/validation`, { specimenDigest: specimen.specimenDigest }, session.auth);
    const sent = await api('POST', `/drafts/${draft.draftId}/sending`, { submissionKey: key }, session.auth);
    const store = this.app.get<EventStore>(EVENT_STORE);
    const token = await eventually(async () => {
      const events = (await store.readStream(streamIdOf(CHAIN_CATEGORY, sent.correspondenceId))).map(({ event }) => event as ChainEvent);
      const issued = events.find((event) => event.type === 'StepTokenIssued');
      if (!issued || issued.type !== 'StepTokenIssued') throw new Error('no token yet');
      return issued.data.token as CertificationToken;
    }, 15_000);
    const timers = this.app.get<DurableTimers>(DURABLE_TIMERS);
    await eventually(() => expect(timers.stats().pending).toBeGreaterThanOrEqual(1), 10_000);
    // The console reads the read models, which follow the log (on the live apply thread by default): as an operator
    // would, wait until the chain is in them.
    await eventually(async () => {
      const timeline = await fetch(`${this.base}/ops/chains/${sent.correspondenceId}/timeline`, { headers: { authorization: `Bearer ${this.tokens.ops}` } });
      expect(timeline.status).toBe(200);
    }, 30_000);
    return { correspondenceId: sent.correspondenceId, token };
  }

  /** The operator stops answering: time passes its acknowledgement deadline and the durable timers fire. */
  async passDeadline(token: CertificationToken): Promise<void> {
    this.clock.advance(Math.max(0, Date.parse(token.acknowledgeBy) - this.clock.now().getTime()) + 1_000);
    await this.app.get<DurableTimers>(DURABLE_TIMERS).fireDue();
  }

  /** The latest token of a correspondence's chain (a new attempt is issued after each missed deadline). */
  async latestToken(correspondenceId: string): Promise<CertificationToken> {
    const events = (await this.app.get<EventStore>(EVENT_STORE).readStream(streamIdOf(CHAIN_CATEGORY, correspondenceId))).map(
      ({ event }) => event as ChainEvent,
    );
    const issued = events.filter((event) => event.type === 'StepTokenIssued');
    const last = issued[issued.length - 1];
    if (!last || last.type !== 'StepTokenIssued') throw new Error('no token');
    return last.data.token as CertificationToken;
  }

  /**
   * A fault an operator can fix: the mailbox history table is moved aside, so the projections cannot record the next
   * chain facts and their consumer dead-letters them (after its retries); moving it back is the fix.
   */
  breakMailbox(): void {
    this.app.get<Database.Database>(LOCAL_DB).exec('ALTER TABLE rm_mailbox_history RENAME TO rm_mailbox_history_aside');
  }

  fixMailbox(): void {
    this.app.get<Database.Database>(LOCAL_DB).exec('ALTER TABLE rm_mailbox_history_aside RENAME TO rm_mailbox_history');
  }

  /** A message the projections cannot read (its body lacks every field): their consumer dead-letters it. */
  async publishPoison(): Promise<string> {
    const id = randomUUID();
    const correspondenceId = randomUUID();
    await this.app.get<EventBus>(EVENT_BUS).publish([
      {
        topic: 'sigillum.correspondence.events',
        key: `correspondence-${correspondenceId}`,
        id,
        type: 'sigillum.correspondence.SubmissionRequested',
        source: '/sigillum/console-test',
        time: this.clock.now().toISOString(),
        correlationId: id,
        causationId: id,
        dataVersion: 1,
        data: { note: 'not a submission' },
      },
    ]);
    return id;
  }

  async stop(): Promise<void> {
    await this.app?.close();
    await this.mail.stop();
    if (this.dataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}
