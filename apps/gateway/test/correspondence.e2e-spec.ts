import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { CHAIN_CATEGORY, type ChainEvent, type CertificationToken, JOB_CATEGORY, type JobEvent, type PendingEvent, streamIdOf } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp, DURABLE_TIMERS, type DurableTimers } from '@sigillum/runtime';
import {
  adminCredentialOf,
  bearer,
  eventually,
  issueStaffToken,
  kafkaAppEnv,
  kafkaBrokers,
  MailCatcher,
  MovableClock,
  reportSkippedKafka,
} from '@sigillum/testing';
import { acknowledge, type OperatorCredentials, outputFor, reportOf, returnWith } from '../../certifier/src/chain/chain-test-kit';
import { thumbprintsNamedByRecords, verifyEvidenceChain, verifyProcessingSignatures } from '@sigillum/evidence';
import { call } from '../src/demo/narrator';
import { asBearer } from '../src/demo/staff';
import { type Api, awaitChainOperator, DEMO_EVIDENCE, enrolHostedOperator, enrolPerson, type OpenedSession, openSession } from '../src/demo/story';
import { rolesFor } from '../src/roles';

/**
 * A registered letter through every role over HTTP — domicile, certifier (delivery gate, tokens, evidence), the real
 * processor (seal, RFC 3161 time-stamp, deliver, archive) and back — and each refusal path named by the issue: gate
 * refused, token late, token tampered, recipient refuses, acceptance window expires. Embedded, and with KAFKA_BROKERS
 * against the real broker. Everyone calls as themselves: the first-start admin and a registrar enrol, parties act
 * through their sessions, ops reads the chains and an auditor the evidence.
 */
const runtimes: { name: string; env: Record<string, string> }[] = [{ name: 'embedded', env: {} }];
const brokers = kafkaBrokers();
if (brokers) runtimes.push({ name: 'kafka', env: kafkaAppEnv(brokers) });
else reportSkippedKafka('correspondence e2e on Kafka');

const DAY_MS = 24 * 3600 * 1000;
/** A kind whose only step is performed by an operator this Sigillum does not host: the test plays that operator. */
const POSTED_KIND = { name: 'posted', requiredLevel: 'substantial', consignment: 'basic', chain: ['print-and-post'] };

describe.each(runtimes)('registered correspondence through every role on the $name bus', ({ name, env }) => {
  let app: INestApplication;
  let dataDir: string;
  let store: EventStore;
  let timers: DurableTimers;
  let base: string;
  const mail = new MailCatcher();
  const clock = new MovableClock();
  const wait = name === 'kafka' ? 30_000 : 10_000;

  /** Anonymous: what a party's client is before its session opens. */
  let api: Api;
  /** The first-start admin: operators, specifications, keys, certificates. */
  let admin: Api;
  /** registrar-1: enrols and certifies parties. */
  let registrar: Api;
  /** ops-1: reads the chains and the operator index. */
  let ops: Api;
  /** auditor-1's headers: reads the evidence. */
  let auditorAuth: Record<string, string>;
  const staffTokens: string[] = [];
  let alice: string;
  let bob: string;
  let carol: string;
  let aliceSession: OpenedSession;
  let bobSession: OpenedSession;
  let slowPost: OperatorCredentials;
  let caPem: string;

  const raw = async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${base}${url}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : {} };
  };
  const chainOf = (correspondenceId: string) => ops('GET', `/chains/${correspondenceId}`);
  /** The evidence names as the auditor reads them; none while the certifier does not know the correspondence yet (404). */
  const evidenceNames = async (correspondenceId: string): Promise<string[]> => {
    const answer = await raw('GET', `/evidence/${correspondenceId}`, undefined, auditorAuth);
    if (answer.status === 404) return [];
    if (answer.status !== 200) throw new Error(`GET /evidence/${correspondenceId} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    const records = (answer.body.records ?? answer.body) as { eventName: string }[];
    return records.map((record) => record.eventName);
  };
  const correspondenceOf = (correspondenceId: string, session: OpenedSession) => api('GET', `/correspondences/${correspondenceId}`, undefined, session.auth);

  async function upload(session: OpenedSession, text: string): Promise<{ digest: string; size: number }> {
    const response = await fetch(`${base}/contents`, { method: 'PUT', headers: { ...session.auth, 'content-type': 'text/plain' }, body: Buffer.from(text) });
    expect(response.status).toBe(201);
    return (await response.json()) as { digest: string; size: number };
  }

  /** Drafts, is shown the specimen, validates it and sends it with a fresh submission key. */
  async function send(session: OpenedSession, recipientIds: string[], kind: string, subject: string) {
    const part = await upload(session, `${subject}\n${'x'.repeat(64)}\n`);
    const draft = await api(
      'POST',
      '/drafts',
      { recipientIds, subject, kind, parts: [{ digest: part.digest, name: 'letter.txt', contentType: 'text/plain' }] },
      session.auth,
    );
    const specimen = await api('POST', `/drafts/${draft.draftId}/specimen`, undefined, session.auth);
    await api('POST', `/drafts/${draft.draftId}/validation`, { specimenDigest: specimen.specimenDigest }, session.auth);
    const sent = await raw('POST', `/drafts/${draft.draftId}/sending`, { submissionKey: `key-${subject}-${clock.now().getTime()}` }, session.auth);
    expect([200, 202]).toContain(sent.status);
    return { draftId: draft.draftId as string, correspondenceId: sent.body.correspondenceId as string, part, sent: sent.body };
  }

  /** The open token of the chain's step `stepIndex`, as the certifier recorded it. */
  async function openToken(correspondenceId: string, attempt: number): Promise<CertificationToken> {
    return eventually(async () => {
      const recorded = await store.readStream(streamIdOf(CHAIN_CATEGORY, correspondenceId));
      const tokens = recorded.map(({ event }) => event as ChainEvent).filter((event) => event.type === 'StepTokenIssued');
      const token = tokens.map((event) => event.data.token).find((candidate) => candidate.attempt === attempt);
      if (!token) throw new Error(`no token of attempt ${attempt} yet (${tokens.length} issued)`);
      return token;
    }, wait);
  }

  beforeAll(async () => {
    await mail.start();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `sigillum-correspondence-${name}-`));
    const kindsFile = path.join(dataDir, 'kinds.json');
    fs.writeFileSync(
      kindsFile,
      JSON.stringify([
        { name: 'registered', requiredLevel: 'substantial', consignment: 'basic', chain: ['seal', 'timestamp', 'deliver', 'archive'] },
        { name: 'registered-ack', requiredLevel: 'substantial', consignment: 'consent', chain: ['seal', 'timestamp', 'deliver', 'archive'] },
        POSTED_KIND,
      ]),
    );
    const config = loadConfig({
      ...env,
      ...mail.env(),
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'warn',
      SESSION_REQUEST_WAIT_MS: '10000',
      SEND_AWAIT_MS: '10000',
      CORRESPONDENCE_KINDS_FILE: kindsFile,
      KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret',
    });
    app = await createSigillumApp(config, rolesFor(config.roles), { clock });
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
    store = app.get(EVENT_STORE);
    timers = app.get(DURABLE_TIMERS);
    api = (method, url, body, headers) => call(base, method, url, body, headers);
    // The staff as an operator's IT sets them up: the first-start admin credential, and one issued per role.
    const adminToken = adminCredentialOf(dataDir);
    const [registrarToken, opsToken, auditorToken] = [
      await issueStaffToken(base, dataDir, ['registrar'], 'registrar-1'),
      await issueStaffToken(base, dataDir, ['ops'], 'ops-1'),
      await issueStaffToken(base, dataDir, ['auditor'], 'auditor-1'),
    ];
    staffTokens.push(adminToken, registrarToken, opsToken, auditorToken);
    admin = asBearer(api, adminToken);
    registrar = asBearer(api, registrarToken);
    ops = asBearer(api, opsToken);
    auditorAuth = bearer(auditorToken);
    const now = clock.now();

    await enrolHostedOperator(
      { admin, registrar },
      { displayName: 'Acme Processing', steps: ['seal', 'timestamp', 'deliver', 'archive'], level: 'substantial', now },
    );
    alice = await enrolPerson(registrar, mail, { displayName: 'Alice Martin', email: 'alice@example.org', level: 'substantial', now });
    bob = await enrolPerson(registrar, mail, {
      displayName: 'Bob Durand',
      email: 'bob@example.org',
      level: 'substantial',
      now,
      address: '1 rue de la Paix, 75002 Paris',
    });
    carol = await enrolPerson(registrar, mail, { displayName: 'Carol Low', email: 'carol@example.org', level: 'low', now });

    // Slow Post: a processing operator registered and certified here, but hosted nowhere — the test holds its key.
    const slowPostId = (await admin('POST', '/parties', { kind: 'operator', operatorRole: 'processing', displayName: 'Slow Post' })).partyId;
    await admin('PUT', `/parties/${slowPostId}/specification`, { version: 1, steps: [{ step: 'print-and-post', parameters: {}, maxDurationSeconds: 120 }] });
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const key = await admin('POST', `/parties/${slowPostId}/keys`, {
      algorithm: 'Ed25519',
      use: 'signature',
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
    });
    for (const attribute of ['legalName', 'operatorAccreditation']) {
      await registrar('POST', `/parties/${slowPostId}/certifications`, {
        name: attribute,
        level: 'substantial',
        validUntil: new Date(now.getTime() + 365 * DAY_MS).toISOString(),
        evidence: DEMO_EVIDENCE,
      });
    }
    const certificate = await admin('POST', '/certificates', { partyId: slowPostId, keyId: key.keyId, profile: 'signing' });
    caPem = await fetch(`${base}/ca/certificate`).then((response) => response.text());
    if (!caPem.includes('BEGIN CERTIFICATE')) caPem = JSON.parse(caPem).certificatePem;
    slowPost = { operatorId: slowPostId, keyId: key.keyId, privateKey, certificatePem: certificate.certificatePem, caCertificatePem: caPem };
    await awaitChainOperator(ops, 'print-and-post', slowPostId);

    aliceSession = await openSession(api, mail, { userId: alice, counterpartIds: [bob], kind: 'registered' });
    bobSession = await openSession(api, mail, { userId: bob, counterpartIds: [alice], kind: 'registered' });
  }, 240_000);

  afterAll(async () => {
    await app?.close();
    await mail.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('a registered letter end to end: every token issued, acknowledged, returned and certified; delivered, accepted, handed over; the evidence verifies offline', async () => {
    const { correspondenceId, part } = await send(aliceSession, [bob], 'registered', 'termination');
    const chain = await eventually(async () => {
      const view = await chainOf(correspondenceId);
      expect(view.status).toBe('completed');
      return view;
    }, wait);
    expect(chain.steps.map((step: { step: string; status: string }) => `${step.step}:${step.status}`)).toEqual([
      'seal:certified',
      'timestamp:certified',
      'deliver:certified',
      'archive:certified',
    ]);
    for (const step of chain.steps) {
      const [token] = step.tokens;
      expect(token).toMatchObject({ status: 'certified', attempt: 1 });
      expect(token.acknowledgedAt <= token.returnedAt && token.returnedAt <= token.certifiedAt).toBe(true);
    }
    // The digest chain: each step's input is the previous step's certified output.
    for (let i = 1; i < chain.steps.length; i++) expect(chain.steps[i].inputDigest).toBe(chain.steps[i - 1].outputDigest);

    const inbox = await eventually(async () => {
      const box = await api('GET', '/inbox', undefined, bobSession.auth);
      expect(JSON.stringify(box)).toContain(correspondenceId);
      return box;
    }, wait);
    expect(inbox).toBeDefined();
    await api('POST', `/correspondences/${correspondenceId}/acceptance`, {}, bobSession.auth);
    const content = await fetch(`${base}/correspondences/${correspondenceId}/parts/${part.digest}`, { headers: bobSession.auth });
    expect(content.status).toBe(200);
    expect((await content.arrayBuffer()).byteLength).toBe(part.size);

    const names = await eventually(async () => {
      const recorded = await evidenceNames(correspondenceId);
      expect(recorded).toContain('ContentHandover');
      return recorded;
    }, wait);
    expect(names).toEqual(expect.arrayContaining(['SubmissionAcceptance', 'ContentConsignment', 'ConsignmentAcceptance', 'ContentHandover']));
    const evidence = await api('GET', `/evidence/${correspondenceId}`, undefined, auditorAuth);
    const verdict = verifyEvidenceChain(evidence.records ?? evidence, caPem);
    expect(verdict).toMatchObject({ valid: true });
    // The operators' signatures the records quote name their certificate by x5t#S256: served once each, by thumbprint.
    const named = thumbprintsNamedByRecords(evidence.records);
    expect(named.length).toBeGreaterThan(0);
    expect(Object.keys(evidence.certificates).sort()).toEqual([...named].sort());
    expect(JSON.stringify(evidence.records)).not.toContain('"x5c"');
    expect(verifyProcessingSignatures(evidence.records, caPem, evidence.certificates)).toEqual([]);
    expect(verifyProcessingSignatures(evidence.records, caPem, {}).map((problem) => problem.rule)).toContain('processing.certificate-unknown');
    expect(await api('GET', `/evidence/${correspondenceId}/verification`, undefined, auditorAuth)).toMatchObject({ valid: true });
    // The sender and the recipient hold the same evidence of their own letter.
    for (const session of [aliceSession, bobSession]) {
      expect((await api('GET', `/evidence/${correspondenceId}`, undefined, session.auth)).records).toEqual(evidence.records);
    }
  }, 60_000);

  (name === 'embedded' ? it : it.skip)(
    'openssl accepts the chain of the seal (openssl verify) and the RFC 3161 time-stamp (openssl ts -verify) the processor produced',
    async () => {
      const { correspondenceId } = await send(aliceSession, [bob], 'registered', 'openssl');
      const chain = await eventually(async () => {
        const view = await chainOf(correspondenceId);
        expect(view.status).toBe('completed');
        return view;
      }, wait);
      const outputOf = async (stepName: string) => {
        const step = chain.steps.find((candidate: { step: string }) => candidate.step === stepName);
        const recorded = await store.readStream(streamIdOf(JOB_CATEGORY, step.tokens[0].tokenId));
        const returned = recorded.map(({ event }) => event as JobEvent).find((event) => event.type === 'TokenReturned');
        if (!returned || returned.type !== 'TokenReturned') throw new Error(`no return for ${stepName}`);
        return { output: returned.data.report.output, inputDigest: returned.data.report.inputDigest };
      };
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-openssl-'));
      try {
        fs.writeFileSync(path.join(dir, 'ca.pem'), caPem);
        const seal = await outputOf('seal');
        if (seal.output.step !== 'seal') throw new Error('not a seal');
        // The seal names its certificate by x5t#S256 (no x5c): the certificate is the one the CA recorded (CertificateIssued).
        const header = JSON.parse(Buffer.from(seal.output.sealJws.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
        expect(header.x5c).toBeUndefined();
        const { certificateFingerprint } = seal.output;
        const issued = (await store.readAll())
          .map(({ event }) => event)
          .find((event) => event.type === 'CertificateIssued' && (event.data as { fingerprint: string }).fingerprint === certificateFingerprint);
        const signerPem = (issued?.data as { certificatePem: string }).certificatePem;
        expect(createHash('sha256').update(new X509Certificate(signerPem).raw).digest('base64url')).toBe(header['x5t#S256']);
        fs.writeFileSync(path.join(dir, 'seal-signer.pem'), signerPem);
        expect(execFileSync('openssl', ['verify', '-CAfile', path.join(dir, 'ca.pem'), path.join(dir, 'seal-signer.pem')], { encoding: 'utf8' })).toContain(
          ': OK',
        );

        // The certifier's token signatures name its signing certificate by x5t#S256 (the operators are hosted): the
        // certificate is the one CertifierSigningCertificateIssued recorded on the CA's stream, and openssl chains it to the CA.
        const tokens = (await store.readStream(streamIdOf(CHAIN_CATEGORY, correspondenceId)))
          .map(({ event }) => event as ChainEvent)
          .filter((event) => event.type === 'StepTokenIssued');
        expect(tokens.length).toBeGreaterThanOrEqual(4);
        const recordedSigners = (await store.readAll())
          .map(({ event }) => event)
          .filter((event) => event.type === 'CertifierSigningCertificateIssued')
          .map((event) => (event.data as { certificatePem: string }).certificatePem);
        expect(recordedSigners).toHaveLength(1);
        const signerThumbprint = createHash('sha256').update(new X509Certificate(recordedSigners[0]).raw).digest('base64url');
        for (const issuedToken of tokens) {
          if (issuedToken.type !== 'StepTokenIssued') continue;
          const tokenHeader = JSON.parse(Buffer.from(issuedToken.data.signature.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
          expect(tokenHeader).toMatchObject({ alg: 'EdDSA', 'x5t#S256': signerThumbprint });
          expect(tokenHeader.x5c).toBeUndefined();
        }
        fs.writeFileSync(path.join(dir, 'certifier-signer.pem'), recordedSigners[0]);
        expect(
          execFileSync('openssl', ['verify', '-CAfile', path.join(dir, 'ca.pem'), path.join(dir, 'certifier-signer.pem')], { encoding: 'utf8' }),
        ).toContain(': OK');

        const stamp = await outputOf('timestamp');
        if (stamp.output.step !== 'timestamp') throw new Error('not a time-stamp');
        fs.writeFileSync(path.join(dir, 'token.tst'), Buffer.from(stamp.output.timeStampToken, 'base64'));
        fs.writeFileSync(path.join(dir, 'input.bin'), Buffer.from(stamp.inputDigest, 'hex'));
        const verified = execFileSync(
          'openssl',
          ['ts', '-verify', '-token_in', '-in', path.join(dir, 'token.tst'), '-data', path.join(dir, 'input.bin'), '-CAfile', path.join(dir, 'ca.pem')],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
        );
        expect(verified).toContain('Verification: OK');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );

  it('gate refused: a recipient below the level the kind requires gets a SubmissionRejection naming her, and the draft is editable again', async () => {
    const { correspondenceId, draftId } = await send(aliceSession, [carol], 'registered', 'refused');
    const view = await eventually(async () => {
      const state = await correspondenceOf(correspondenceId, aliceSession);
      expect(JSON.stringify(state)).toContain('rejected');
      return state;
    }, wait);
    expect(JSON.stringify(view)).toContain(carol);
    expect((await chainOf(correspondenceId)).status).toBe('refused');
    await eventually(async () => expect(await evidenceNames(correspondenceId)).toContain('SubmissionRejection'), wait);
    const draft = await api('GET', `/drafts/${draftId}`, undefined, aliceSession.auth);
    expect(JSON.stringify(draft)).not.toContain('"status":"submitted"');
    // Editable again: a new version of the draft is accepted.
    const parts = ((draft.content?.parts ?? draft.parts) as { digest: string; name: string; contentType: string }[]).map(({ digest, name, contentType }) => ({
      digest,
      name,
      contentType,
    }));
    const edited = await raw(
      'PUT',
      `/drafts/${draftId}`,
      { recipientIds: [bob], subject: 'refused, then fixed', kind: 'registered', parts },
      aliceSession.auth,
    );
    expect(edited.status).toBe(200);
  }, 60_000);

  it('token late: an operator that never acknowledges gets StepDeadlineMissed at the deadline, retries, then the chain fails with reasons and the sender sees it', async () => {
    const { correspondenceId } = await send(aliceSession, [bob], 'posted', 'late');
    let attempt = 1;
    for (;;) {
      const token = await openToken(correspondenceId, attempt);
      // Never early: one second before the deadline, nothing is recorded.
      clock.advance(Date.parse(token.acknowledgeBy) - clock.now().getTime() - 1_000);
      await timers.fireDue();
      expect((await chainOf(correspondenceId)).steps[0].tokens.find((t: { tokenId: string }) => t.tokenId === token.tokenId).status).not.toBe(
        'deadline-missed',
      );
      clock.advance(2_000);
      await timers.fireDue();
      const view = await eventually(async () => {
        const current = await chainOf(correspondenceId);
        const settled = current.steps[0].tokens.find((t: { tokenId: string }) => t.tokenId === token.tokenId);
        expect(settled.missing).toBe('acknowledgement');
        return current;
      }, wait);
      if (view.status === 'failed') {
        expect(view.reasons.length).toBeGreaterThan(0);
        break;
      }
      attempt += 1;
      expect(attempt).toBeLessThanOrEqual(5);
    }
    await eventually(async () => expect(JSON.stringify(await correspondenceOf(correspondenceId, aliceSession))).toContain('failed'), wait);
    await eventually(
      async () =>
        expect(await evidenceNames(correspondenceId)).toEqual(expect.arrayContaining(['sigillum:CertificationTokenMissing', 'ContentConsignmentFailure'])),
      wait,
    );
  }, 90_000);

  it('token tampered: a return whose output does not match its digest is StepNonCompliant with the rule, and the step is retried', async () => {
    const { correspondenceId } = await send(aliceSession, [bob], 'posted', 'tampered');
    const token = await openToken(correspondenceId, 1);
    const now = clock.now().toISOString();
    const output = outputFor(token, slowPost, [bob], clock.now());
    const report = { ...reportOf(token, output, { startedAt: now, finishedAt: now }), outputDigest: '0'.repeat(64) };
    const pending = (type: string, data: unknown): PendingEvent => ({
      event: { type, version: 1, data },
      metadata: { eventId: crypto.randomUUID(), correlationId: correspondenceId, causationId: token.tokenId, occurredAt: now, source: '/partner/slow-post' },
    });
    await store.append(
      streamIdOf(JOB_CATEGORY, token.tokenId),
      [pending('TokenAcknowledged', acknowledge(token, slowPost, now)), pending('TokenReturned', returnWith(token, report, slowPost, now))],
      'no-stream',
    );
    const view = await eventually(async () => {
      const current = await chainOf(correspondenceId);
      expect(current.steps[0].tokens[0].status).toBe('non-compliant');
      return current;
    }, wait);
    expect(view.steps[0].tokens[0].reasons.map((reason: { rule: string }) => reason.rule)).toContain('digest.output-mismatch');
    expect(view.steps[0].tokens[1]).toMatchObject({ attempt: 2, status: 'open' });
    await eventually(async () => expect(await evidenceNames(correspondenceId)).toContain('sigillum:CertificationTokenMismatch'), wait);
  }, 60_000);

  it('recipient refuses: the refusal is recorded with its reason, the content is never handed over, the evidence says so', async () => {
    const { correspondenceId, part } = await send(aliceSession, [bob], 'registered-ack', 'refusal');
    await eventually(async () => expect(JSON.stringify(await api('GET', '/inbox', undefined, bobSession.auth))).toContain(correspondenceId), wait);
    const before = await fetch(`${base}/correspondences/${correspondenceId}/parts/${part.digest}`, { headers: bobSession.auth });
    expect(before.status).toBe(403); // consent mode: nothing before acceptance
    await api('POST', `/correspondences/${correspondenceId}/refusal`, { reason: 'not addressed to me' }, bobSession.auth);
    const again = await raw('POST', `/correspondences/${correspondenceId}/acceptance`, {}, bobSession.auth);
    expect(again.status).toBe(409);
    await eventually(async () => expect(await evidenceNames(correspondenceId)).toContain('ConsignmentRejection'), wait);
    expect(await evidenceNames(correspondenceId)).not.toContain('ContentHandover');
  }, 60_000);

  it('no event of the whole run carries a private key, a session or staff credential, or a one-time code', async () => {
    const codes = mail.mails.map((caught) => /\b(\d{6,12})\b/.exec(caught.text)?.[1]).filter((code): code is string => Boolean(code));
    expect(codes.length).toBeGreaterThan(0);
    const everything = (await store.readAll()).map((recorded) => JSON.stringify(recorded.event.data)).join('\n');
    expect(everything).not.toMatch(/PRIVATE KEY/);
    expect(staffTokens).toHaveLength(4);
    for (const secret of [aliceSession.credential, bobSession.credential, ...staffTokens]) expect(everything).not.toContain(secret);
    // A code is a handful of digits: look for it where it would be written, as a JSON value of its own.
    for (const code of codes) expect(everything).not.toContain(`"${code}"`);
  }, 30_000);

  it('acceptance window expires: 15 days of silence give expiry evidence by event time, never early', async () => {
    const { correspondenceId } = await send(aliceSession, [bob], 'registered', 'silence');
    await eventually(async () => expect(JSON.stringify(await api('GET', '/inbox', undefined, bobSession.auth))).toContain(correspondenceId), wait);
    clock.advance(15 * DAY_MS - 60_000);
    await timers.fireDue();
    expect(await evidenceNames(correspondenceId)).not.toContain('AcceptanceRejectionExpiry');
    clock.advance(120_000);
    await timers.fireDue();
    await eventually(async () => expect(await evidenceNames(correspondenceId)).toContain('AcceptanceRejectionExpiry'), wait);
  }, 60_000);
});
