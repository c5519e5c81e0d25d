import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import {
  adminCredentialOf,
  baseUrlOf,
  bearer,
  eventually,
  issueStaffToken,
  kafkaAppEnv,
  kafkaBrokers,
  MailCatcher,
  MovableClock,
  reportSkippedKafka,
} from '@sigillum/testing';
import { Kafka, logLevel } from 'kafkajs';
import request from 'supertest';
import { rolesFor } from '../src/roles';

/**
 * Claim 1 end to end, over HTTP, through every role: parties registered in the directory, attributes
 * certified by the certifier, a session requested at the domicile, the trust check and the one secret
 * answered as events, the code delivered by real SMTP, typed back, and the session opened — plus every
 * refusal. The operator's staff enrol as themselves (the first-start admin registers operators, a registrar enrols
 * and certifies parties, ops reads the operator index); the session routes are called anonymously, as a party's
 * client does before it holds a session. Runs on the embedded bus and, with KAFKA_BROKERS, on the real broker.
 */
const runtimes: { name: string; env: Record<string, string> }[] = [{ name: 'embedded', env: {} }];
const brokers = kafkaBrokers();
if (brokers) runtimes.push({ name: 'kafka', env: kafkaAppEnv(brokers) });
else reportSkippedKafka('sessions e2e on Kafka');

const YEAR_MS = 365 * 24 * 3600 * 1000;

describe.each(runtimes)('strongly authenticated sessions on the $name bus', ({ name, env }) => {
  let app: INestApplication;
  let dataDir: string;
  let store: EventStore;
  const mail = new MailCatcher();
  const clock = new MovableClock();
  const logged: string[] = [];
  const restoreWrites: (() => void)[] = [];
  const startedAt = Date.now();
  /** Staff headers: the first-start admin, registrar-1, ops-1. */
  let admin: Record<string, string>;
  let registrar: Record<string, string>;
  let ops: Record<string, string>;
  /** Every credential of the run (staff tokens, session credentials), for the leak scan. */
  const credentials: string[] = [];

  const http = () => request(app.getHttpServer());
  const iso = (offsetMs: number) => new Date(clock.now().getTime() + offsetMs).toISOString();

  beforeAll(async () => {
    // Every line the product writes is kept for the leak scan at the end.
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        logged.push(String(chunk));
        return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof stream.write;
      restoreWrites.push(() => (stream.write = original as typeof stream.write));
    }
    await mail.start();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `sigillum-sessions-${name}-`));
    const config = loadConfig({
      ...env,
      ...mail.env(),
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'log',
      SESSION_REQUEST_WAIT_MS: '10000',
      // Alice asks for a dozen sessions from one address within the (movable) hour: the abuse limits, which have
      // their own tests, are raised here so that each refusal below is the one it names.
      SESSION_CODES_PER_USER_PER_HOUR: '100',
      SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: '1000',
      KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret',
    });
    app = await createSigillumApp(config, rolesFor(config.roles), { clock });
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    store = app.get(EVENT_STORE);
    const base = baseUrlOf(app.getHttpServer());
    const tokens = [
      adminCredentialOf(dataDir),
      await issueStaffToken(base, dataDir, ['registrar'], 'registrar-1'),
      await issueStaffToken(base, dataDir, ['ops'], 'ops-1'),
    ];
    credentials.push(...tokens);
    [admin, registrar, ops] = tokens.map(bearer);
  }, 90_000);

  afterAll(async () => {
    await app?.close();
    await mail.stop();
    for (const restore of restoreWrites) restore();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  //////// Building blocks: what an operator's enrolment desk (a registrar) and its admin do.

  const evidence = { method: 'in-person-id-check', reference: 'file-42', verifiedBy: 'officer-7' };

  async function register(body: Record<string, unknown>, by = registrar): Promise<string> {
    const response = await http().post('/parties').set(by).send(body).expect(201);
    return response.body.partyId as string;
  }

  async function certify(partyId: string, name: string, level: string, validUntil = iso(YEAR_MS)): Promise<string> {
    const response = await http().post(`/parties/${partyId}/certifications`).set(registrar).send({ name, level, validUntil, evidence }).expect(201);
    return response.body.attributeId as string;
  }

  async function verifiedEmail(partyId: string, address: string): Promise<void> {
    const before = mail.mails.length;
    const enrolled = await http().post(`/parties/${partyId}/channels`).set(registrar).send({ kind: 'email', address }).expect(201);
    const channelId = enrolled.body.channelId as string;
    const code = await mail.codeFor(channelId, { after: before });
    await http().post(`/parties/${partyId}/channels/${channelId}/verification`).set(registrar).send({ code }).expect(200);
  }

  /** A person at `substantial`: legal name and date of birth certified, e-mail channel verified. */
  async function person(displayName: string, options: { channel?: 'verified' | 'unverified' | 'none'; certify?: boolean } = {}) {
    const partyId = await register({ kind: 'person', displayName });
    if (options.certify !== false) {
      await certify(partyId, 'legalName', 'substantial');
      await certify(partyId, 'dateOfBirth', 'substantial');
    }
    const address = `${displayName.toLowerCase().replace(/\W+/g, '.')}@example.org`;
    if ((options.channel ?? 'verified') === 'verified') await verifiedEmail(partyId, address);
    if (options.channel === 'unverified') await http().post(`/parties/${partyId}/channels`).set(registrar).send({ kind: 'email', address }).expect(201);
    return partyId;
  }

  async function processingOperator(displayName: string, steps: string[], certified: boolean) {
    const partyId = await register({ kind: 'operator', operatorRole: 'processing', displayName }, admin);
    await http()
      .put(`/parties/${partyId}/specification`)
      .set(admin)
      .send({ version: 1, steps: steps.map((step) => ({ step, parameters: {}, maxDurationSeconds: 600 })) })
      .expect(200);
    const { publicKey } = generateKeyPairSync('ed25519');
    await http()
      .post(`/parties/${partyId}/keys`)
      .set(admin)
      .send({ algorithm: 'Ed25519', use: 'signature', publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) })
      .expect(201);
    await certify(partyId, 'legalName', 'substantial');
    if (certified) await certify(partyId, 'operatorAccreditation', 'substantial');
    return partyId;
  }

  async function requestSession(userId: string, counterpartIds: string[], correspondenceKind = 'registered') {
    return http().post('/sessions').send({ userId, counterpartIds, correspondenceKind });
  }

  async function challengedSession(userId: string, counterpartIds: string[]) {
    const before = mail.mails.length;
    const response = await requestSession(userId, counterpartIds);
    expect(response.status).toBe(201);
    expect(response.body.status).toBe('challenged');
    const sessionId = response.body.sessionId as string;
    return { sessionId, code: await mail.codeFor(sessionId, { after: before }) };
  }

  const wrongCodeFor = (code: string) => (code === '000000' ? '111111' : '000000');
  const rules = (body: { reasons?: { rule: string }[] }) => (body.reasons ?? []).map((reason) => reason.rule);

  //////// The scene: a sender, two recipients, a processing operator for every step of `registered`,
  //////// and an uncertified operator that alone offers print-and-post (the `hybrid` chain).

  let alice: string;
  let bob: string;
  let carol: string;

  beforeAll(async () => {
    const sealer = await processingOperator('Sealing & Archiving Co', ['seal', 'timestamp', 'deliver', 'archive'], true);
    const printer = await processingOperator('Print Shop Without Accreditation', ['print-and-post'], false);
    // The certifier learns operators from the party topic; on a fresh broker its consumer joins a little later.
    await eventually(async () => {
      expect((await http().get('/chain-operators/seal').set(ops).expect(200)).body.operators).toContain(sealer);
      expect((await http().get('/chain-operators/print-and-post').set(ops).expect(200)).body.operators).toContain(printer);
    }, 30_000);
    alice = await person('Alice Sender');
    bob = await person('Bob Recipient', { channel: 'none' });
    carol = await person('Carol Recipient', { channel: 'none' });
  }, 120_000);

  it('opens a session: trust check passed, one secret in two forms, code typed back, credential issued', async () => {
    const { sessionId, code } = await challengedSession(alice, [bob]);
    const mailText = mail.mails[mail.mails.length - 1].text;
    expect(mailText).toContain(sessionId); // the out-of-band message names the session

    const opened = await http().post(`/sessions/${sessionId}/code`).send({ code }).expect(200);
    expect(opened.body.credential).toMatch(/^[A-Za-z0-9_-]{43}$/);
    credentials.push(opened.body.credential);
    expect((await http().get(`/sessions/${sessionId}`).expect(200)).body.status).toBe('open');

    const events = (await store.readStream(`session-${sessionId}`)).map((e) => e.event.type);
    expect(events).toEqual(['SessionRequested', 'SessionChallengeIssued', 'SessionOpened']);
    const check = (await store.readAll()).find((e) => e.event.type === 'TrustCheckAnswered' && (e.event.data as { subjectOf: string }).subjectOf === sessionId);
    expect(check?.event.data).toMatchObject({ passed: true, purpose: 'session', levelRequired: 'substantial' });
    const verdicts = (check!.event.data as { verdicts: { subjectRole: string }[] }).verdicts.map((v) => v.subjectRole).sort();
    expect(verdicts).toEqual(['counterpart', 'operator', 'user']);

    await http().delete(`/sessions/${sessionId}`).set('authorization', `Bearer ${opened.body.credential}`).expect(204);
    expect((await http().get(`/sessions/${sessionId}`).expect(200)).body.status).toBe('closed');
  }, 60_000);

  it('denies the session when the user falls short of the preset level', async () => {
    const uncertified = await person('Dave Uncertified', { certify: false });
    const denied = await requestSession(uncertified, [bob]);
    expect(denied.status).toBe(403);
    expect(denied.body.reasons).toEqual(expect.arrayContaining([expect.objectContaining({ partyId: uncertified, subjectRole: 'user' })]));
  }, 60_000);

  it('denies the session when a counterpart falls short', async () => {
    const stranger = await register({ kind: 'person', displayName: 'Erin Unvetted' });
    const denied = await requestSession(alice, [bob, stranger]);
    expect(denied.status).toBe(403);
    const reasons = denied.body.reasons as { partyId?: string; subjectRole?: string }[];
    expect(reasons).toEqual(expect.arrayContaining([expect.objectContaining({ partyId: stranger, subjectRole: 'counterpart' })]));
    expect(reasons.some((reason) => reason.partyId === bob)).toBe(false);
  }, 60_000);

  it('denies the session when an operator of the chain falls short', async () => {
    const denied = await requestSession(alice, [bob], 'hybrid');
    expect(denied.status).toBe(403);
    expect(denied.body.reasons).toEqual(expect.arrayContaining([expect.objectContaining({ subjectRole: 'operator' })]));
  }, 60_000);

  it('denies the session when an attribute has expired', async () => {
    const frank = await person('Frank Shortlived', { certify: false });
    await certify(frank, 'legalName', 'substantial');
    await certify(frank, 'dateOfBirth', 'substantial', iso(60_000));
    clock.advance(2 * 60_000);
    const denied = await requestSession(frank, [bob]);
    expect(denied.status).toBe(403);
    expect(rules(denied.body).join(' ')).toMatch(/expired/);
  }, 60_000);

  it('denies the session when an attribute was revoked', async () => {
    const grace = await person('Grace Revoked', { certify: false });
    await certify(grace, 'legalName', 'substantial');
    const attributeId = await certify(grace, 'dateOfBirth', 'substantial');
    await http().post(`/certifications/${grace}/${attributeId}/revocation`).set(registrar).send({ reason: 'identity document reported stolen' }).expect(201);
    const denied = await requestSession(grace, [bob]);
    expect(denied.status).toBe(403);
    expect(rules(denied.body).join(' ')).toMatch(/revoked/);
  }, 60_000);

  it('denies the session when the user has no verified second channel, and says why', async () => {
    const heidi = await person('Heidi Unverified', { channel: 'unverified' });
    const denied = await requestSession(heidi, [bob]);
    expect(denied.status).toBe(403);
    expect(rules(denied.body).join(' ')).toMatch(/channel/);
  }, 60_000);

  it('refuses a wrong code and keeps the session waiting for the right one', async () => {
    const { sessionId, code } = await challengedSession(alice, [carol]);
    const wrong = await http()
      .post(`/sessions/${sessionId}/code`)
      .send({ code: wrongCodeFor(code) })
      .expect(401);
    expect(rules(wrong.body)).toContain('code.mismatch');
    expect(wrong.body.remainingAttempts).toBe(2);
    await http().post(`/sessions/${sessionId}/code`).send({ code }).expect(200);
  }, 60_000);

  it('refuses an expired code', async () => {
    const { sessionId, code } = await challengedSession(alice, [carol]);
    clock.advance(6 * 60_000);
    const expired = await http().post(`/sessions/${sessionId}/code`).send({ code }).expect(401);
    expect(rules(expired.body)).toContain('code.expired');
  }, 60_000);

  it('locks the session after too many wrong codes, even against the right one', async () => {
    const { sessionId, code } = await challengedSession(alice, [bob]);
    await http()
      .post(`/sessions/${sessionId}/code`)
      .send({ code: wrongCodeFor(code) })
      .expect(401);
    await http()
      .post(`/sessions/${sessionId}/code`)
      .send({ code: wrongCodeFor(code) })
      .expect(401);
    const locked = await http()
      .post(`/sessions/${sessionId}/code`)
      .send({ code: wrongCodeFor(code) })
      .expect(403);
    expect(rules(locked.body)).toContain('session.locked');
    const stillLocked = await http().post(`/sessions/${sessionId}/code`).send({ code }).expect(403);
    expect(rules(stillLocked.body)).toContain('session.locked');
  }, 60_000);

  it('refuses a code replayed in another session', async () => {
    const first = await challengedSession(alice, [bob]);
    const second = await challengedSession(alice, [carol]);
    if (first.code === second.code) return; // one chance in a million: the codes coincide and nothing is replayed
    const replayed = await http().post(`/sessions/${second.sessionId}/code`).send({ code: first.code }).expect(401);
    expect(rules(replayed.body)).toContain('code.mismatch');
    await http().post(`/sessions/${second.sessionId}/code`).send({ code: second.code }).expect(200);
  }, 60_000);

  it('refuses a used code reused', async () => {
    const { sessionId, code } = await challengedSession(alice, [bob]);
    await http().post(`/sessions/${sessionId}/code`).send({ code }).expect(200);
    const reused = await http().post(`/sessions/${sessionId}/code`).send({ code }).expect(409);
    expect(rules(reused.body)).toContain('code.already-used');
  }, 60_000);

  it('never writes a clear code, a credential or a private key into an event, a log line or a bus message', async () => {
    const codes = mail.allCodes();
    expect(codes.length).toBeGreaterThan(8);
    expect(credentials.length).toBeGreaterThanOrEqual(4); // three staff tokens and the session credential of the first test
    const leaks = (text: string) => [
      ...codes.filter((code) => new RegExp(`(?<![0-9A-Fa-f])${code}(?![0-9A-Fa-f])`).test(text)),
      ...credentials.filter((credential) => text.includes(credential)),
    ];
    const privateKeyMarker = /PRIVATE KEY/;

    const events = JSON.stringify(await store.readAll(), (_, value) => (typeof value === 'bigint' ? value.toString() : value));
    expect(leaks(events)).toEqual([]);
    expect(events).not.toMatch(privateKeyMarker);

    const logs = logged.join('');
    expect(logs.length).toBeGreaterThan(0);
    expect(leaks(logs)).toEqual([]);
    expect(logs).not.toMatch(privateKeyMarker);

    if (name === 'kafka') {
      const messages = await readEveryKafkaMessageSince(brokers!, startedAt, (env as { KAFKA_TOPIC_PREFIX?: string }).KAFKA_TOPIC_PREFIX ?? '');
      expect(messages.length).toBeGreaterThan(0);
      const text = messages.join('\n');
      expect(leaks(text)).toEqual([]);
      expect(text).not.toMatch(privateKeyMarker);
    }
  }, 60_000);
});

/** Values and headers of every message on every `<prefix>sigillum.*` topic appended since `since`, read with a raw client. */
async function readEveryKafkaMessageSince(brokers: string, since: number, prefix: string): Promise<string[]> {
  const kafka = new Kafka({ clientId: 'leak-scan', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(`${prefix}sigillum.`));
  const ends = new Map<string, Map<number, string>>();
  for (const topic of topics) {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends.set(topic, new Map(offsets.map((o) => [o.partition, o.high])));
  }
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `leak-scan-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  const seen: string[] = [];
  const remaining = new Set<string>();
  for (const [topic, partitions] of ends) for (const [partition, high] of partitions) if (high !== '0') remaining.add(`${topic}/${partition}`);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`leak scan: ${remaining.size} partitions not read to the end`)), 30_000);
    if (remaining.size === 0) {
      clearTimeout(timer);
      resolve();
      return;
    }
    void consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        if (Number(message.timestamp) >= since - 1_000) {
          const headers = Object.entries(message.headers ?? {}).map(([k, v]) => `${k}=${String(v)}`);
          seen.push(`${message.value?.toString('utf8') ?? ''} ${headers.join(' ')}`);
        }
        const high = ends.get(topic)?.get(partition);
        if (high !== undefined && BigInt(message.offset) + 1n >= BigInt(high)) {
          remaining.delete(`${topic}/${partition}`);
          if (remaining.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        }
      },
    });
  });
  await consumer.disconnect();
  return seen;
}
