import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type INestApplication, Module } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import {
  type CertificationToken,
  type ChainEvent,
  CORRESPONDENCE_CATEGORY,
  type DomainEvent,
  JOB_CATEGORY,
  type OperatorStepSpec,
  SESSION_CATEGORY,
  type ProcessingStep,
  type StepNonCompliant,
  type StepTokenIssued,
  type SubmissionRequested,
} from '@sigillum/contracts';
import { generateKeyPair } from '@sigillum/crypto';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp, DURABLE_TIMERS, type DurableTimers, type RoleSpec } from '@sigillum/runtime';
import { baseUrlOf, bearer, eventually, issueStaffToken, MovableClock } from '@sigillum/testing';
import { pendingEvent } from '@sigillum/testing/events';
import request from 'supertest';
// The directory issues and checks the staff credentials (registrar, admin, ops, auditor) the routes need.
import { directoryRole } from '../../../directory/src/directory.role';
import { certifierRole } from '../certifier.role';
import { CERTIFIER_SIGNER, type CertifierSigner } from '../signing/certifier-signer';
import { deadlineTimerId } from './chain.deadlines';
import { ChainService } from './chain.service';
import { compliantReturn, type OperatorCredentials } from './chain-test-kit';
import { digestOf } from './compliance';

/**
 * The certifier's certified chain, embedded on real SQLite with the relay and the embedded bus: the events it consumes
 * (parties, sessions, submissions, jobs) are appended exactly as the directory, the domicile and a processor write
 * them; the directory runs only for the staff credentials the routes need (and relays the party streams the test
 * writes). Time moves only when the test moves it (durable timers fire on
 * `fireDue()` after the clock passed a deadline).
 */
@Module({})
class OtherWritersModule {}

/** Stands for the other writers of the streams the certifier reads (domicile, processor): it owns (may write) and relays their categories, nothing more. */
const otherWriters: RoleSpec = {
  role: 'domicile',
  module: OtherWritersModule,
  ownedCategories: [CORRESPONDENCE_CATEGORY, SESSION_CATEGORY, JOB_CATEGORY],
  consumes: false,
};

const YEAR_MS = 365 * 86_400_000;
const ACK_SECONDS = 30;

describe('certified processing chain (certifier, embedded)', () => {
  let app: INestApplication;
  let dataDir: string;
  let store: EventStore;
  let timers: DurableTimers;
  let signer: CertifierSigner;
  const clock = new MovableClock();
  /** Staff, each with its own credential: a registrar certifies attributes, an admin issues certificates, ops and an auditor read. */
  let registrar: Record<string, string>;
  let admin: Record<string, string>;
  let ops: Record<string, string>;
  let auditor: Record<string, string>;
  const anonymous = () => request(app.getHttpServer());
  const http = (who: Record<string, string>) => {
    const agent = anonymous();
    return {
      get: (url: string) => agent.get(url).set(who),
      post: (url: string) => agent.post(url).set(who),
    };
  };
  const iso = (offsetMs = 0) => new Date(clock.now().getTime() + offsetMs).toISOString();

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-chain-'));
    const config = loadConfig({
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'error',
      KEYSTORE_PASSPHRASE: 'chain int-spec passphrase, not a secret',
      CHAIN_ACK_SECONDS: String(ACK_SECONDS),
      CHAIN_MAX_ATTEMPTS: '2',
      // Timers fire when the test calls fireDue(), not on their own.
      TIMER_POLL_MS: '60000',
    });
    app = await createSigillumApp(config, [certifierRole, directoryRole, otherWriters], { clock });
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    const base = baseUrlOf(app.getHttpServer());
    registrar = bearer(await issueStaffToken(base, dataDir, ['registrar'], 'registrar-1'));
    admin = bearer(await issueStaffToken(base, dataDir, ['admin'], 'admin-1'));
    ops = bearer(await issueStaffToken(base, dataDir, ['ops'], 'ops-1'));
    auditor = bearer(await issueStaffToken(base, dataDir, ['auditor'], 'auditor-1'));
    store = app.get(EVENT_STORE);
    timers = app.get(DURABLE_TIMERS);
    signer = app.get(CERTIFIER_SIGNER);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  //////// The directory's and the domicile's events, as they write them

  const evidence = { method: 'in-person-id-check', reference: 'file-7', verifiedBy: 'officer-2' };

  async function certify(partyId: string, name: string, level: string): Promise<void> {
    await http(registrar)
      .post(`/parties/${partyId}/certifications`)
      .send({ name, level, validUntil: iso(YEAR_MS), evidence })
      .expect(201);
  }

  async function person(level: 'low' | 'substantial'): Promise<string> {
    const partyId = randomUUID();
    await store.append(
      `party-${partyId}`,
      [pendingEvent('PartyRegistered', { partyId, kind: 'person', displayName: `Person ${partyId.slice(0, 4)}`, registeredAt: iso() })],
      'no-stream',
    );
    if (level === 'low') await certify(partyId, 'email', 'low');
    else for (const name of ['legalName', 'dateOfBirth']) await certify(partyId, name, 'substantial');
    return partyId;
  }

  async function registerKey(partyId: string, profile: 'signing' | 'tsa') {
    const key = generateKeyPair('Ed25519');
    const keyId = randomUUID();
    await store.append(
      `party-${partyId}`,
      [
        pendingEvent('PublicKeyRegistered', {
          partyId,
          keyId,
          algorithm: 'Ed25519',
          use: 'signature',
          publicKeyPem: key.publicKeyPem,
          fingerprint: key.fingerprint,
          registeredAt: iso(),
        }),
      ],
      'stream-exists',
    );
    const issued = await http(admin).post('/certificates').send({ partyId, keyId, profile }).expect(201);
    return { keyId, privateKey: key.privateKey, certificatePem: issued.body.certificatePem as string };
  }

  /** A certified processing operator offering `steps`, with a signing key and a TSA key certified by the certifier CA. */
  async function processingOperator(steps: ProcessingStep[], registeredAt: string): Promise<OperatorCredentials> {
    const operatorId = randomUUID();
    const specSteps: OperatorStepSpec[] = steps.map((step) => ({ step, parameters: {}, maxDurationSeconds: 600 }));
    await store.append(
      `party-${operatorId}`,
      [
        pendingEvent('PartyRegistered', {
          partyId: operatorId,
          kind: 'operator',
          operatorRole: 'processing',
          displayName: `Operator ${steps.join('+')}`,
          registeredAt,
        }),
        pendingEvent('OperatorSpecificationRegistered', { partyId: operatorId, specification: { version: 1, steps: specSteps }, registeredAt }),
      ],
      'no-stream',
    );
    await certify(operatorId, 'legalName', 'substantial');
    await certify(operatorId, 'operatorAccreditation', 'substantial');
    const signing = await registerKey(operatorId, 'signing');
    const tsa = await registerKey(operatorId, 'tsa');
    return { operatorId, ...signing, caCertificatePem: signer.caCertificatePem, tsa: { certificatePem: tsa.certificatePem, privateKey: tsa.privateKey } };
  }

  /** A session of `userId` at the domicile; opened with a verified code unless said otherwise. */
  async function session(userId: string, opened = true): Promise<string> {
    const sessionId = randomUUID();
    const events = [
      pendingEvent('SessionRequested', {
        sessionId,
        userId,
        counterpartIds: [],
        correspondenceKind: 'registered',
        levelRequired: 'substantial',
        sessionChannel: 'https',
        requestedAt: iso(-2_000),
      }),
    ];
    if (opened) {
      events.push(
        pendingEvent('SessionOpened', {
          sessionId,
          credentialDigest: digestOf('credential'),
          openedAt: iso(-1_000),
          idleTimeoutSeconds: 900,
          absoluteExpiresAt: iso(8 * 3600_000),
        }) as never,
      );
    }
    await store.append(`session-${sessionId}`, events, 'no-stream');
    return sessionId;
  }

  const KIND_LEVEL: Record<string, string> = { simple: 'low', registered: 'substantial' };

  async function submit(senderId: string, recipientIds: string[], kind: string, sessionId: string, overrides: Partial<SubmissionRequested['data']> = {}) {
    const correspondenceId = randomUUID();
    const data: SubmissionRequested['data'] = {
      correspondenceId,
      draftId: randomUUID(),
      submissionKey: randomUUID(),
      senderId,
      sessionId,
      recipientIds,
      subject: 'Notice of termination',
      kind,
      requiredLevel: KIND_LEVEL[kind] ?? 'low',
      consignment: 'basic',
      parts: [{ digest: digestOf('letter'), size: 1234, contentType: 'application/pdf', name: 'letter.pdf' }],
      specimenDigest: digestOf({ specimen: correspondenceId }),
      validationProof: 'eyJhbGciOiJFZERTQSJ9.e30.c2ln',
      requestedAt: iso(),
      ...overrides,
    };
    await store.append(`correspondence-${correspondenceId}`, [pendingEvent('SubmissionRequested', data)], 'no-stream');
    return { correspondenceId, data };
  }

  const chainEvents = async (correspondenceId: string): Promise<ChainEvent[]> =>
    (await store.readStream(`chain-${correspondenceId}`)).map(({ event }) => event as ChainEvent);

  /** Waits until the chain's last event is a token issued (attempt `attempt` of step `stepIndex`) and returns it. */
  async function openToken(correspondenceId: string, stepIndex: number, attempt = 1): Promise<CertificationToken> {
    return eventually(async () => {
      const events = await chainEvents(correspondenceId);
      const last = events[events.length - 1];
      expect(last?.type).toBe('StepTokenIssued');
      const { token } = (last as StepTokenIssued).data;
      expect([token.stepIndex, token.attempt]).toEqual([stepIndex, attempt]);
      return token;
    }, 15_000);
  }

  async function returnToken(
    token: CertificationToken,
    credentials: OperatorCredentials,
    recipientIds: string[],
    tamper?: (returned: ReturnType<typeof compliantReturn>['returned']) => ReturnType<typeof compliantReturn>['returned'],
  ) {
    const { acknowledgement, returned } = compliantReturn(token, credentials, recipientIds);
    const at = { occurredAt: returned.returnedAt };
    await store.append(
      `job-${token.tokenId}`,
      [
        pendingEvent('TokenAcknowledged', acknowledgement, { occurredAt: acknowledgement.acknowledgedAt }),
        pendingEvent('TokenReturned', tamper ? tamper(returned) : returned, at),
      ] as never,
      'no-stream',
    );
    return returned;
  }

  /** Waits until both deadline timers of the token are scheduled (by the consumer of the chain's own events). */
  const timersScheduled = (tokenId: string) =>
    eventually(() => {
      expect(timers.stateOf(deadlineTimerId(tokenId, 'acknowledgement'))).toBe('pending');
      expect(timers.stateOf(deadlineTimerId(tokenId, 'return'))).toBe('pending');
    }, 15_000);

  const types = (events: readonly DomainEvent[]) => events.map((event) => event.type);
  const rulesOf = (event: ChainEvent | undefined) => ((event?.data as { reasons?: { rule: string }[] }).reasons ?? []).map((reason) => reason.rule);

  //////// The scene

  let alice: string;
  let bob: string;
  let dave: string;
  let aliceSession: string;
  let everyStep: OperatorCredentials; // earliest registered: first choice for every step
  let backupDeliverer: OperatorCredentials; // offers deliver only: where a failed delivery is rerouted

  beforeAll(async () => {
    everyStep = await processingOperator(['seal', 'timestamp', 'deliver', 'archive'], new Date(clock.now().getTime() - 2 * YEAR_MS).toISOString());
    backupDeliverer = await processingOperator(['deliver'], new Date(clock.now().getTime() - YEAR_MS).toISOString());
    alice = await person('substantial');
    bob = await person('substantial');
    dave = await person('low');
    aliceSession = await session(alice);
    await eventually(async () => {
      const { body } = await http(ops).get('/chain-operators/deliver').expect(200);
      expect(body.operators).toEqual([everyStep.operatorId, backupDeliverer.operatorId]);
    }, 15_000);
  }, 60_000);

  it('lists the configured kinds of correspondence', async () => {
    const { body } = await http(ops).get('/correspondence-kinds').expect(200);
    expect(body.kinds.map((kind: { name: string }) => kind.name)).toEqual(['simple', 'registered', 'registered-ack', 'hybrid']);
    expect(body.kinds[1]).toEqual({
      name: 'registered',
      requiredLevel: 'substantial',
      consignment: 'basic',
      chain: ['seal', 'timestamp', 'deliver', 'archive'],
    });
    const document = (await anonymous().get('/docs-json').expect(200)).body;
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/chains/{correspondenceId}', '/correspondence-kinds']));
    expect(Object.keys(document.paths['/chains/{correspondenceId}'].get.responses)).toEqual(expect.arrayContaining(['200', '400', '404']));
  });

  it("refuses at the delivery gate a recipient below the kind's level: ChainRefused naming the party, nothing processed", async () => {
    const { correspondenceId } = await submit(alice, [bob, dave], 'registered', aliceSession);
    const events = await eventually(async () => {
      const recorded = await chainEvents(correspondenceId);
      expect(recorded).toHaveLength(1);
      return recorded;
    }, 15_000);
    expect(events[0].type).toBe('ChainRefused');
    const refusal = events[0].data as unknown as { checkId: string; policyId: string; reasons: { partyId?: string; subjectRole?: string; rule: string }[] };
    expect(refusal.reasons.length).toBeGreaterThan(0);
    expect(refusal.reasons.every((reason) => reason.partyId === dave && reason.subjectRole === 'recipient')).toBe(true);
    expect(refusal.checkId).toEqual(expect.any(String));
    const check = await store.readStream(`trustcheck-${refusal.checkId}`);
    expect(check[0].event.data).toMatchObject({ purpose: 'delivery', subjectOf: correspondenceId, passed: false, levelRequired: 'substantial' });
    const { body } = await http(auditor).get(`/chains/${correspondenceId}`).expect(200);
    expect(body).toMatchObject({ correspondenceId, status: 'refused' });
  }, 30_000);

  it('refuses a submission made outside an open session of the sender, and an unknown kind', async () => {
    const pending = await session(alice, false);
    const notOpen = await submit(alice, [bob], 'simple', pending);
    const bobsSession = await session(bob);
    const notHis = await submit(alice, [bob], 'simple', bobsSession);
    const unknownKind = await submit(alice, [bob], 'telegram', aliceSession);
    const wrongLevel = await submit(alice, [bob], 'registered', aliceSession, { requiredLevel: 'low' });
    for (const [{ correspondenceId }, rule] of [
      [notOpen, 'session.not-open'],
      [notHis, 'session.not-open'],
      [unknownKind, 'kind.unknown'],
      [wrongLevel, 'kind.level-mismatch'],
    ] as const) {
      const events = await eventually(async () => {
        const recorded = await chainEvents(correspondenceId);
        expect(recorded).toHaveLength(1);
        return recorded;
      }, 15_000);
      expect(types(events)).toEqual(['ChainRefused']);
      expect(rulesOf(events[0])).toEqual([rule]);
    }
  }, 30_000);

  it('an operator that never acknowledges: StepDeadlineMissed at the deadline (never before), a retry rerouted, then ChainFailed', async () => {
    const { correspondenceId } = await submit(alice, [bob], 'simple', aliceSession);
    const first = await openToken(correspondenceId, 0);
    expect(first).toMatchObject({ step: 'deliver', operatorId: everyStep.operatorId, attempt: 1, specificationVersion: 1 });
    expect(Date.parse(first.acknowledgeBy) - Date.parse(first.issuedAt)).toBe(ACK_SECONDS * 1000);
    expect(Date.parse(first.returnBy) - Date.parse(first.issuedAt)).toBe(600 * 1000);
    const started = (await chainEvents(correspondenceId))[0];
    expect(started).toMatchObject({
      type: 'ChainStarted',
      data: { kind: 'simple', requiredLevel: 'low', steps: [{ step: 'deliver', operatorId: everyStep.operatorId, parameters: {} }] },
    });
    // The token is the certifier's, signed: a detached JWS with x5c to the CA over the canonical token.
    const issued = (await chainEvents(correspondenceId))[1] as StepTokenIssued;
    expect(() => signer.verifyDetached(issued.data.signature, first)).not.toThrow();
    expect(() => signer.verifyDetached(issued.data.signature, { ...first, returnBy: iso(YEAR_MS) })).toThrow();

    await timersScheduled(first.tokenId);
    await timers.fireDue();
    expect(types(await chainEvents(correspondenceId))).toEqual(['ChainStarted', 'StepTokenIssued']); // not yet: never early

    clock.advance((ACK_SECONDS + 1) * 1000);
    await timers.fireDue();
    const retry = await openToken(correspondenceId, 0, 2);
    let events = await chainEvents(correspondenceId);
    expect(types(events)).toEqual(['ChainStarted', 'StepTokenIssued', 'StepDeadlineMissed', 'StepTokenIssued']);
    expect(events[2].data).toMatchObject({
      tokenId: first.tokenId,
      missing: 'acknowledgement',
      deadline: first.acknowledgeBy,
      operatorId: everyStep.operatorId,
    });
    // Rerouted to another operator offering the step at the level, same input.
    expect(retry).toMatchObject({ operatorId: backupDeliverer.operatorId, inputDigest: first.inputDigest, attempt: 2 });
    await eventually(() => expect(timers.stateOf(deadlineTimerId(first.tokenId, 'return'))).toBe('cancelled'), 15_000);

    await timersScheduled(retry.tokenId);
    clock.advance((ACK_SECONDS + 1) * 1000);
    await timers.fireDue();
    events = await eventually(async () => {
      const recorded = await chainEvents(correspondenceId);
      expect(recorded).toHaveLength(6);
      return recorded;
    }, 15_000);
    expect(types(events).slice(4)).toEqual(['StepDeadlineMissed', 'ChainFailed']);
    expect(events[5].data).toMatchObject({ correspondenceId, stepIndex: 0, step: 'deliver' });
    expect(rulesOf(events[5])).toEqual(['deadline.acknowledgement-missed']);
    expect((events[5].data as unknown as { reasons: { partyId: string }[] }).reasons[0].partyId).toBe(backupDeliverer.operatorId);

    const { body } = await http(auditor).get(`/chains/${correspondenceId}`).expect(200);
    expect(body).toMatchObject({ status: 'failed', steps: [{ step: 'deliver', status: 'failed' }] });
    expect(body.steps[0].tokens.map((token: { status: string; missing: string }) => [token.status, token.missing])).toEqual([
      ['deadline-missed', 'acknowledgement'],
      ['deadline-missed', 'acknowledgement'],
    ]);
  }, 60_000);

  it('a tampered return: StepNonCompliant with the rules it breaks and a retry in the same append; the retry returned honestly completes the chain', async () => {
    const { correspondenceId } = await submit(alice, [bob], 'simple', aliceSession);
    const first = await openToken(correspondenceId, 0);
    await returnToken(first, everyStep, [bob], (returned) => ({ ...returned, report: { ...returned.report, outputDigest: digestOf('forged output') } }));
    const retry = await openToken(correspondenceId, 0, 2);
    const events = await chainEvents(correspondenceId);
    const nonCompliant = events[2] as StepNonCompliant;
    expect(nonCompliant.type).toBe('StepNonCompliant');
    expect(rulesOf(nonCompliant).sort()).toEqual(['digest.output-mismatch', 'signature.invalid']);
    expect(nonCompliant.data).toMatchObject({ tokenId: first.tokenId, operatorId: everyStep.operatorId });
    // One append per transition: the non-compliance and the retry share their cause and their commit.
    const recorded = await store.readStream(`chain-${correspondenceId}`);
    expect(recorded[2].metadata.causationId).toBe(recorded[3].metadata.causationId);
    expect(recorded[3].globalPosition).toBe(recorded[2].globalPosition + 1n);
    expect(retry.operatorId).toBe(backupDeliverer.operatorId);

    const returned = await returnToken(retry, backupDeliverer, [bob]);
    const done = await eventually(async () => {
      const all = await chainEvents(correspondenceId);
      expect(all[all.length - 1].type).toBe('ChainCompleted');
      return all;
    }, 15_000);
    expect(types(done).slice(4)).toEqual(['StepCertified', 'ChainCompleted']);
    expect(done[4].data).toMatchObject({ tokenId: retry.tokenId, outputDigest: returned.report.outputDigest, operatorId: backupDeliverer.operatorId });
    expect(done[5].data).toMatchObject({ finalDigest: returned.report.outputDigest });
    // The timers of settled tokens are cancelled.
    await eventually(() => expect(timers.stateOf(deadlineTimerId(retry.tokenId, 'return'))).toBe('cancelled'), 15_000);
  }, 60_000);

  it('the operator reports it could not perform the step: StepNonCompliant with step.failed, then a retry', async () => {
    const { correspondenceId } = await submit(alice, [bob], 'simple', aliceSession);
    const first = await openToken(correspondenceId, 0);
    await store.append(
      `job-${first.tokenId}`,
      [
        pendingEvent('StepFailed', {
          tokenId: first.tokenId,
          correspondenceId,
          stepIndex: 0,
          operatorId: everyStep.operatorId,
          reasons: [{ rule: 'content.unavailable', message: 'a part is missing from the content store' }],
          failedAt: iso(),
        }),
      ],
      'no-stream',
    );
    await openToken(correspondenceId, 0, 2);
    const events = await chainEvents(correspondenceId);
    expect(rulesOf(events[2])).toEqual(['step.failed', 'content.unavailable']);
  }, 30_000);

  it('certifies a whole registered chain: seal, timestamp, deliver, archive, each input the previous certified output', async () => {
    const { correspondenceId, data } = await submit(alice, [bob], 'registered', aliceSession);
    let input = data.specimenDigest;
    const steps: ProcessingStep[] = ['seal', 'timestamp', 'deliver', 'archive'];
    for (const [stepIndex, step] of steps.entries()) {
      const token = await openToken(correspondenceId, stepIndex);
      expect(token).toMatchObject({ step, inputDigest: input, operatorId: everyStep.operatorId });
      const returned = await returnToken(token, everyStep, [bob]);
      input = returned.report.outputDigest;
    }
    const events = await eventually(async () => {
      const all = await chainEvents(correspondenceId);
      expect(all[all.length - 1].type).toBe('ChainCompleted');
      return all;
    }, 15_000);
    expect(types(events)).toEqual([
      'ChainStarted',
      'StepTokenIssued',
      'StepCertified',
      'StepTokenIssued',
      'StepCertified',
      'StepTokenIssued',
      'StepCertified',
      'StepTokenIssued',
      'StepCertified',
      'ChainCompleted',
    ]);
    expect(events[9].data).toMatchObject({ finalDigest: input });

    const { body } = await http(auditor).get(`/chains/${correspondenceId}`).expect(200);
    expect(body).toMatchObject({ status: 'completed', kind: 'registered', finalDigest: input, senderId: alice, recipientIds: [bob] });
    expect(body.steps.map((step: { step: string; status: string }) => [step.step, step.status])).toEqual(steps.map((step) => [step, 'certified']));
    for (const step of body.steps) {
      expect(step.tokens).toHaveLength(1);
      expect(step.tokens[0]).toMatchObject({
        status: 'certified',
        operatorId: everyStep.operatorId,
        acknowledgedAt: expect.any(String),
        returnedAt: expect.any(String),
        certifiedAt: expect.any(String),
      });
    }

    // A redelivered submission changes nothing.
    await app.get(ChainService).onSubmissionRequested(data, { correlationId: randomUUID(), causationId: randomUUID() });
    expect(await chainEvents(correspondenceId)).toHaveLength(10);
  }, 60_000);

  it('retry of a failed chain over HTTP (ops): the archive failed after delivery, one token for the retry, the chain completes when the operator answers', async () => {
    const { correspondenceId } = await submit(alice, [bob], 'registered', aliceSession);
    for (const [stepIndex] of ['seal', 'timestamp', 'deliver'].entries()) await returnToken(await openToken(correspondenceId, stepIndex), everyStep, [bob]);
    // The archive operator never acknowledges: its two attempts (CHAIN_MAX_ATTEMPTS=2; no other operator archives) miss their deadline.
    for (const attempt of [1, 2]) {
      const archive = await openToken(correspondenceId, 3, attempt);
      await timersScheduled(archive.tokenId);
      clock.advance((ACK_SECONDS + 1) * 1000);
      await timers.fireDue();
    }
    const failed = await eventually(async () => {
      const all = await chainEvents(correspondenceId);
      expect(all[all.length - 1].type).toBe('ChainFailed');
      return all;
    }, 15_000);
    expect(failed[failed.length - 1].data).toMatchObject({ stepIndex: 3, step: 'archive' });
    const before = failed.length;

    // Who may: ops and admin staff only; the body is { reason }, plain text; the id a UUID of a chain.
    const url = `/chains/${correspondenceId}/retry`;
    const reason = 'archive operator back after the storage outage';
    const anonymousRetry = await anonymous().post(url).send({ reason }).expect(401);
    expect(anonymousRetry.body).toMatchObject({ code: 'ACCESS.UNAUTHENTICATED' });
    const auditorRetry = await http(auditor).post(url).send({ reason }).expect(403);
    expect(auditorRetry.body.reasons).toEqual([expect.objectContaining({ rule: 'access.role' })]);
    await http(registrar).post(url).send({ reason }).expect(403);
    for (const body of [{}, { reason: '' }, { reason: 'x'.repeat(501) }, { reason: 'back\u202e' }, { reason, extra: true }])
      await http(ops).post(url).send(body).expect(400);
    await http(ops).post('/chains/not-a-uuid/retry').send({ reason }).expect(400);
    const unknown = await http(ops).post(`/chains/${randomUUID()}/retry`).send({ reason }).expect(404);
    expect(unknown.body).toMatchObject({ code: 'CHAIN.NOT_FOUND' });
    expect(await chainEvents(correspondenceId)).toHaveLength(before);

    // Two at once (two staff members, one click each): one retry, one token; the other finds the chain running.
    const answers = await Promise.all([http(ops).post(url).send({ reason }), http(admin).post(url).send({ reason: 'same outage' })]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([202, 409]);
    const accepted = answers.find((answer) => answer.status === 202)!;
    const raced = answers.find((answer) => answer.status === 409)!;
    expect(raced.body.reasons).toEqual([expect.objectContaining({ rule: 'chain.retry.not-failed' })]);
    const requestedBy = accepted === answers[0] ? 'ops-1' : 'admin-1';
    expect(accepted.body).toEqual({
      correspondenceId,
      tokenId: expect.any(String),
      stepIndex: 3,
      step: 'archive',
      attempt: 3,
      operatorId: everyStep.operatorId,
    });
    // ChainRetried and the new token, in one append; the token as an automatic retry's (signed, same input, deadlines).
    const recorded = await store.readStream(`chain-${correspondenceId}`);
    expect(types(recorded.slice(before).map(({ event }) => event))).toEqual(['ChainRetried', 'StepTokenIssued']);
    const { retriedAt } = recorded[before].event.data as { retriedAt: string };
    expect(recorded[before].event.data).toEqual({
      correspondenceId,
      stepIndex: 3,
      attempt: 3,
      requestedBy,
      reason: requestedBy === 'ops-1' ? reason : 'same outage',
      retriedAt,
    });
    expect(recorded[before + 1].metadata.causationId).toBe(recorded[before].metadata.causationId);
    expect(recorded[before + 1].globalPosition).toBe(recorded[before].globalPosition + 1n);
    const retry = (recorded[before + 1].event as StepTokenIssued).data;
    const lastFailed = (recorded[before - 3].event as StepTokenIssued).data.token;
    expect(retry.token).toMatchObject({ tokenId: accepted.body.tokenId, attempt: 3, inputDigest: lastFailed.inputDigest, issuedAt: retriedAt });
    expect(() => signer.verifyDetached(retry.signature, retry.token)).not.toThrow();
    await timersScheduled(retry.token.tokenId);

    // Replayed (a double click, a retried request): the chain runs, so not-failed, and no second token.
    const replayed = await http(admin).post(url).send({ reason }).expect(409);
    expect(replayed.body).toMatchObject({ code: 'CHAIN.RETRY_REFUSED', reasons: [expect.objectContaining({ rule: 'chain.retry.not-failed' })] });
    expect(await chainEvents(correspondenceId)).toHaveLength(before + 2);

    // The operator answers this time: the chain completes.
    const returned = await returnToken(retry.token, everyStep, [bob]);
    const done = await eventually(async () => {
      const all = await chainEvents(correspondenceId);
      expect(all[all.length - 1].type).toBe('ChainCompleted');
      return all;
    }, 15_000);
    expect(types(done).slice(before + 2)).toEqual(['StepCertified', 'ChainCompleted']);
    expect(done[done.length - 1].data).toMatchObject({ finalDigest: returned.report.outputDigest });
    const { body } = await http(auditor).get(`/chains/${correspondenceId}`).expect(200);
    expect(body).toMatchObject({ status: 'completed', retries: [{ stepIndex: 3, attempt: 3, requestedBy }] });
    expect(body.steps[3].tokens.map((token: { attempt: number; status: string }) => [token.attempt, token.status])).toEqual([
      [1, 'deadline-missed'],
      [2, 'deadline-missed'],
      [3, 'certified'],
    ]);
    await http(ops).post(url).send({ reason }).expect(409);
  }, 90_000);

  it('refuses to retry a chain that failed before delivery (the recipients hold ContentConsignmentFailure), naming the rule', async () => {
    const { correspondenceId } = await submit(alice, [bob], 'simple', aliceSession);
    for (const attempt of [1, 2]) {
      const deliver = await openToken(correspondenceId, 0, attempt);
      await timersScheduled(deliver.tokenId);
      clock.advance((ACK_SECONDS + 1) * 1000);
      await timers.fireDue();
    }
    await eventually(async () => expect((await chainEvents(correspondenceId)).at(-1)?.type).toBe('ChainFailed'), 15_000);
    const refused = await http(ops).post(`/chains/${correspondenceId}/retry`).send({ reason: 'try again' }).expect(409);
    expect(refused.body).toMatchObject({
      statusCode: 409,
      code: 'CHAIN.RETRY_REFUSED',
      reasons: [expect.objectContaining({ rule: 'chain.retry.consignment-failed', message: expect.stringContaining('step 0 (deliver)') })],
    });
    expect((await chainEvents(correspondenceId)).at(-1)?.type).toBe('ChainFailed');
    const document = (await anonymous().get('/docs-json').expect(200)).body;
    const route = document.paths['/chains/{correspondenceId}/retry'].post;
    expect(Object.keys(route.responses)).toEqual(expect.arrayContaining(['202', '400', '404', '409']));
    expect(document.components.schemas.RetryChainBody.properties.reason).toMatchObject({ type: 'string', minLength: 1, maxLength: 500 });
  }, 60_000);

  it('a return signed under a certificate revoked through the HTTP route: StepNonCompliant with certificate.revoked naming the operator, then a retry', async () => {
    // A second certificate for the operator's signing key, revoked at once: the first one stays in force for the other tests.
    const issued = await http(admin).post('/certificates').send({ partyId: everyStep.operatorId, keyId: everyStep.keyId, profile: 'signing' }).expect(201);
    const revocation = await http(admin).post(`/certificates/${issued.body.certificateId}/revocation`).send({ reason: 'operator key compromise' }).expect(200);
    const document = (await anonymous().get('/docs-json').expect(200)).body;
    const route = document.paths['/certificates/{certificateId}/revocation'].post;
    expect(Object.keys(route.responses)).toEqual(expect.arrayContaining(['200', '400', '404']));
    expect(document.components.schemas.RevokeCertificateBody.properties.reason).toMatchObject({ type: 'string', minLength: 1, maxLength: 300 });
    expect(revocation.body).toMatchObject({ status: 'revoked', revocationReason: 'operator key compromise', revokedAt: expect.any(String) });
    const underRevoked: OperatorCredentials = { ...everyStep, certificatePem: issued.body.certificatePem as string };

    const { correspondenceId } = await submit(alice, [bob], 'simple', aliceSession);
    const first = await openToken(correspondenceId, 0);
    expect(first.operatorId).toBe(everyStep.operatorId);
    await returnToken(first, underRevoked, [bob]);
    const retry = await openToken(correspondenceId, 0, 2);
    const events = await chainEvents(correspondenceId);
    expect(types(events)).toEqual(['ChainStarted', 'StepTokenIssued', 'StepNonCompliant', 'StepTokenIssued']);
    expect(rulesOf(events[2])).toEqual(['certificate.revoked']);
    expect((events[2] as StepNonCompliant).data).toMatchObject({
      tokenId: first.tokenId,
      operatorId: everyStep.operatorId,
      reasons: [
        { rule: 'certificate.revoked', partyId: everyStep.operatorId, subjectRole: 'operator', message: expect.stringContaining(issued.body.fingerprint) },
      ],
    });
    expect(retry.operatorId).toBe(backupDeliverer.operatorId);
  }, 60_000);

  it('shows chains to ops, auditors and admins only, and takes certifications from a registrar only', async () => {
    // The guard answers before the route looks for the chain: the roles it admits get the route's own 404.
    const correspondenceId = randomUUID();
    for (const who of [ops, auditor, admin]) await http(who).get(`/chains/${correspondenceId}`).expect(404);
    const anonymousRead = await anonymous().get(`/chains/${correspondenceId}`).expect(401);
    expect(anonymousRead.body).toMatchObject({ code: 'ACCESS.UNAUTHENTICATED', reasons: [expect.objectContaining({ rule: 'access.unauthenticated' })] });
    const registrarRead = await http(registrar).get(`/chains/${correspondenceId}`).expect(403);
    expect(registrarRead.body).toMatchObject({ code: 'ACCESS.FORBIDDEN', reasons: [expect.objectContaining({ rule: 'access.role' })] });
    await anonymous().get('/chain-operators/deliver').expect(401);
    await http(auditor).get('/chain-operators/deliver').expect(403);

    const before = (await store.readAll()).length;
    const certification = { name: 'legalName', level: 'substantial', validUntil: iso(YEAR_MS), evidence };
    await anonymous().post(`/parties/${bob}/certifications`).send(certification).expect(401);
    const adminCertifies = await http(admin).post(`/parties/${bob}/certifications`).send(certification).expect(403);
    expect(adminCertifies.body.reasons).toEqual([expect.objectContaining({ rule: 'access.role', message: expect.stringContaining('registrar') })]);
    await http(registrar).post('/certificates').send({ partyId: everyStep.operatorId, keyId: everyStep.keyId, profile: 'signing' }).expect(403);
    expect((await store.readAll()).length).toBe(before);
  }, 30_000);

  it('answers 404 for a correspondence without a chain and 400 for an id that is not a UUID', async () => {
    const missing = await http(auditor).get(`/chains/${randomUUID()}`).expect(404);
    expect(JSON.stringify(missing.body)).toMatch(/No certified chain/);
    await http(auditor).get('/chains/not-a-uuid').expect(400);
  });
});

describe('chain configuration at start-up', () => {
  it('a bad value stops the certifier before it serves anything, naming the variable and its rule', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-chain-config-'));
    try {
      const config = loadConfig({
        DATA_DIR: dataDir,
        PORT: '0',
        LOG_LEVEL: 'error',
        KEYSTORE_PASSPHRASE: 'chain int-spec passphrase, not a secret',
        CHAIN_REROUTE: 'sometimes',
      });
      await expect(createSigillumApp(config, [certifierRole])).rejects.toThrow(/CHAIN_REROUTE="sometimes" must be true or false/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});
