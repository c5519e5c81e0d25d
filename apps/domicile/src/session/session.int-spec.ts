import { randomBytes } from 'node:crypto';
import { Controller, Get, Global, type INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Access, AuthModule, party } from '@sigillum/auth';
import { PoisonMessageError } from '@sigillum/bus';
import {
  CLOCK,
  type Clock,
  type DeliveredMessage,
  eventTopicForStream,
  ID_GENERATOR,
  messageFromRecordedEvent,
  type RecordedEvent,
  SESSION_SECRET_CATEGORY,
  type SessionSecretIssued,
  streamIdOf,
  type SubjectVerdict,
  TRUST_CHECK_CATEGORY,
  type TrustCheckAnswered,
} from '@sigillum/contracts';
import { codeVerifier } from '@sigillum/crypto';
import { EVENT_STORE, SqliteEventStore } from '@sigillum/eventstore';
import { JsonErrorFilter, LOCAL_DB, SESSION_VERIFIER_KEY, strictValidationPipe, uuidGenerator, type VerifierKey } from '@sigillum/runtime';
import { pendingEvent } from '@sigillum/testing/events';
import Database from 'better-sqlite3';
import request from 'supertest';
import { DOMICILE_CONFIG, type DomicileConfig, loadDomicileConfig } from '../domicile.config';
import { type AuthenticatedSession, CurrentSession, SESSION_ID_HEADER } from './session-credential.guard';
import { SessionConsumer } from './session.consumer';
import { SessionModule } from './session.module';

/**
 * The sessions management module through Nest with a real SqliteEventStore: HTTP in, the consumer fed with the
 * certifier's events as the bus would deliver them (the certifier itself is simulated: it appends TrustCheckAnswered
 * and SessionSecretIssued with a verifier made with codeVerifier under a test key).
 */
const t0 = new Date('2026-11-25T08:00:00.000Z');
const clock: Clock & { at: Date; advance(seconds: number): void } = {
  at: t0,
  now() {
    return this.at;
  },
  advance(seconds) {
    this.at = new Date(this.at.getTime() + seconds * 1000);
  },
};
const verifierKey: VerifierKey = { keyId: 'session-verifier', key: randomBytes(32) };
// Many sessions for one user from one address: the abuse limits have their own suite (session-rate-limits.int-spec.ts).
const config: DomicileConfig = loadDomicileConfig({
  SESSION_REQUEST_WAIT_MS: '1500',
  SESSION_CODES_PER_USER_PER_HOUR: '1000',
  SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: '0',
  SESSION_FAILED_CODES_PER_USER: '100',
});

@Controller('probe')
class ProbeController {
  @Get()
  @Access(party())
  whoAmI(@CurrentSession() session: AuthenticatedSession) {
    return session;
  }
}

describe('sessions (domicile, claim 1) through Nest with a real SQLite event store', () => {
  let app: INestApplication;
  let db: Database.Database;
  let store: SqliteEventStore;
  let consumer: SessionConsumer;
  let offset = 0;
  /** Every code and credential that ever crossed the API, to prove none reached the log. */
  const secrets: string[] = [];

  @Global()
  @Module({
    providers: [
      { provide: EVENT_STORE, useFactory: () => store },
      { provide: LOCAL_DB, useFactory: () => db },
      { provide: CLOCK, useValue: clock },
      { provide: ID_GENERATOR, useValue: uuidGenerator },
      { provide: SESSION_VERIFIER_KEY, useValue: verifierKey },
    ],
    exports: [EVENT_STORE, LOCAL_DB, CLOCK, ID_GENERATOR, SESSION_VERIFIER_KEY],
  })
  class TestRuntimeModule {}

  @Module({ imports: [SessionModule], controllers: [ProbeController] })
  class ProbeModule {}

  beforeAll(async () => {
    db = new Database(':memory:');
    store = new SqliteEventStore({ db });
    const moduleRef = await Test.createTestingModule({ imports: [TestRuntimeModule, AuthModule, SessionModule, ProbeModule] })
      .overrideProvider(DOMICILE_CONFIG)
      .useValue(config)
      .compile();
    app = moduleRef.createNestApplication({ logger: ['error'] });
    app.useGlobalPipes(strictValidationPipe());
    app.useGlobalFilters(new JsonErrorFilter());
    await app.init();
    consumer = app.get(SessionConsumer);
  });

  afterAll(async () => {
    await app.close();
    db.close();
  });

  afterEach(async () => {
    const log = JSON.stringify((await store.readAll()).map(({ event, metadata }) => ({ event, metadata })));
    // A code is digits: look for it outside hex runs (ids and digests), where it could only be the code itself.
    for (const secret of secrets) expect(log).not.toMatch(new RegExp(`(?<![0-9a-fA-F])${secret}(?![0-9a-fA-F])`));
    expect(secrets.length).toBeGreaterThan(0);
  });

  const http = () => request(app.getHttpServer());

  //////// The simulated certifier

  const deliver = (recorded: RecordedEvent): DeliveredMessage => ({
    ...messageFromRecordedEvent(recorded, eventTopicForStream),
    partition: 0,
    offset: String(offset++),
  });

  async function appendAndDeliver(streamId: string, type: string, data: unknown): Promise<DeliveredMessage> {
    await store.append(streamId, [pendingEvent(type, data, { occurredAt: clock.now().toISOString() })], 'any');
    const recorded = await store.readStream(streamId);
    const message = deliver(recorded[recorded.length - 1]);
    if (streamId.startsWith(`${TRUST_CHECK_CATEGORY}-`)) await consumer.onTrustCheckEvent(message);
    else await consumer.onSecretEvent(message);
    return message;
  }

  const verdict = (partyId: string, subjectRole: SubjectVerdict['subjectRole'], failing?: string): SubjectVerdict => ({
    partyId,
    subjectRole,
    levelHeld: failing ? 'low' : 'high',
    levelRequired: 'substantial',
    validNow: !failing,
    reasons: failing ? [{ rule: failing, message: `${failing} for the required level` }] : [],
  });

  async function answerCheck(
    sessionId: string,
    verdicts: SubjectVerdict[],
    checkId = uuidGenerator.next(),
  ): Promise<{ checkId: string; message: DeliveredMessage }> {
    const data: TrustCheckAnswered['data'] = {
      checkId,
      purpose: 'session',
      subjectOf: sessionId,
      policyId: 'eidas-default@1',
      levelRequired: 'substantial',
      passed: verdicts.every((v) => v.validNow),
      verdicts,
      answeredAt: clock.now().toISOString(),
    };
    const message = await appendAndDeliver(streamIdOf(TRUST_CHECK_CATEGORY, checkId), 'TrustCheckAnswered', data);
    return { checkId, message };
  }

  /** Issues a code the way the certifier does: the verifier to the domicile, the code "over the second channel" (returned). */
  async function issueCode(sessionId: string, issueNumber = 1, options: { verifier?: string; code?: string; ttlSeconds?: number; checkId?: string } = {}) {
    const code = options.code ?? String(100000 + Math.floor(Math.random() * 900000));
    secrets.push(code);
    const data: SessionSecretIssued['data'] = {
      sessionId,
      checkId: options.checkId ?? checkIds.get(sessionId) ?? uuidGenerator.next(),
      partyId: 'user-ada',
      issueNumber,
      verifier: options.verifier ?? codeVerifier(verifierKey.key, sessionId, code),
      verifierKeyId: verifierKey.keyId,
      codeLength: 6,
      channel: { channelId: 'ch-1', kind: 'sms', maskedAddress: '+33*******78' },
      issuedAt: clock.now().toISOString(),
      expiresAt: new Date(clock.now().getTime() + (options.ttlSeconds ?? 300) * 1000).toISOString(),
    };
    const message = await appendAndDeliver(streamIdOf(SESSION_SECRET_CATEGORY, sessionId), 'SessionSecretIssued', data);
    return { code, message };
  }

  const okVerdicts = () => [verdict('user-ada', 'user'), verdict('party-bob', 'counterpart'), verdict('op-seal', 'operator')];
  const body = { userId: 'user-ada', counterpartIds: ['party-bob'], correspondenceKind: 'registered' };

  async function newestSessionId(): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const requested = (await store.readAll()).filter((r) => r.event.type === 'SessionRequested');
      const last = requested[requested.length - 1];
      if (last && !seen.has(last.streamId)) {
        seen.add(last.streamId);
        return last.streamId.slice('session-'.length);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('No SessionRequested appeared');
  }
  const seen = new Set<string>();
  /** The passed check of each session, as the certifier names it in every SessionSecretIssued. */
  const checkIds = new Map<string, string>();

  /** POST /sessions while the simulated certifier answers; returns the HTTP answer and the code sent out of band. */
  async function openChallenge(verdicts = okVerdicts()) {
    const answer = http()
      .post('/sessions')
      .send(body)
      .then((response) => response);
    const sessionId = await newestSessionId();
    const { checkId } = await answerCheck(sessionId, verdicts);
    checkIds.set(sessionId, checkId);
    const issued = verdicts.every((v) => v.validNow) ? await issueCode(sessionId) : undefined;
    return { sessionId, response: await answer, code: issued?.code };
  }

  const eventsOf = async (sessionId: string) => (await store.readStream(`session-${sessionId}`)).map((r) => r.event);

  //////// Tests

  it('opens a session: request → trust check → challenge → code → credential → use → close', async () => {
    const { sessionId, response, code } = await openChallenge();
    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      sessionId,
      status: 'challenged',
      channel: { kind: 'sms', maskedAddress: '+33*******78' },
      expiresAt: new Date(t0.getTime() + 300_000).toISOString(),
    });

    const view = (await http().get(`/sessions/${sessionId}`).expect(200)).body;
    expect(view).toMatchObject({ sessionId, status: 'challenged', userId: 'user-ada', remainingAttempts: 3, levelRequired: 'substantial' });
    expect(JSON.stringify(view)).not.toMatch(/verifier|[0-9a-f]{64}/);

    const opened = await http().post(`/sessions/${sessionId}/code`).send({ code }).expect(200);
    expect(opened.body).toEqual({
      sessionId,
      credential: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      idleTimeoutSeconds: 900,
      absoluteExpiresAt: new Date(t0.getTime() + 28_800_000).toISOString(),
    });
    const credential: string = opened.body.credential;
    secrets.push(credential);

    const reused = await http().post(`/sessions/${sessionId}/code`).send({ code }).expect(409);
    expect(reused.body.reasons).toEqual([expect.objectContaining({ rule: 'code.already-used' })]);

    const probe = await http().get('/probe').set('Authorization', `Bearer ${credential}`).set(SESSION_ID_HEADER, sessionId).expect(200);
    expect(probe.body).toEqual({ sessionId, userId: 'user-ada' });

    await http()
      .delete(`/sessions/${sessionId}`)
      .set('Authorization', `Bearer ${'x'.repeat(43)}`)
      .expect(401);
    await http().delete(`/sessions/${sessionId}`).set('Authorization', `Bearer ${credential}`).expect(204);
    expect((await http().get(`/sessions/${sessionId}`).expect(200)).body.status).toBe('closed');
    const afterClose = await http().get('/probe').set('Authorization', `Bearer ${credential}`).set(SESSION_ID_HEADER, sessionId).expect(401);
    expect(afterClose.body.reasons).toEqual([expect.objectContaining({ rule: 'session.closed' })]);

    expect((await eventsOf(sessionId)).map((e) => e.type)).toEqual(['SessionRequested', 'SessionChallengeIssued', 'SessionOpened', 'SessionClosed']);
    const openedEvent = (await eventsOf(sessionId)).find((e) => e.type === 'SessionOpened');
    expect(openedEvent?.data).toMatchObject({ credentialDigest: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it.each([
    ['the user', verdict('user-ada', 'user', 'attribute.expired'), 'user-ada', 'user'],
    ['a counterpart', verdict('party-bob', 'counterpart', 'level.insufficient'), 'party-bob', 'counterpart'],
    ['a chain operator', verdict('op-seal', 'operator', 'attribute.revoked'), 'op-seal', 'operator'],
  ])('denies with 403 when %s falls short, naming the party and its role', async (_, failing, partyId, subjectRole) => {
    const verdicts = okVerdicts().map((v) => (v.partyId === failing.partyId ? failing : v));
    const { sessionId, response } = await openChallenge(verdicts);
    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ code: 'SESSION.DENIED', sessionId });
    expect(response.body.reasons).toEqual([expect.objectContaining({ rule: failing.reasons[0].rule, partyId, subjectRole })]);
    expect((await eventsOf(sessionId)).map((e) => e.type)).toEqual(['SessionRequested', 'SessionDenied']);
    await http().post(`/sessions/${sessionId}/code`).send({ code: '123456' }).expect(409);
    // A secret for a session already denied (it cannot come from this check, but the domicile does not rely on it) is ignored.
    await issueCode(sessionId);
    expect((await eventsOf(sessionId)).map((e) => e.type)).toEqual(['SessionRequested', 'SessionDenied']);
  });

  it('answers 202 while the certifier has not answered; a secret that overtakes its trust check challenges at once (it names the passed check)', async () => {
    const response = await http().post('/sessions').send(body).expect(202);
    const sessionId: string = response.body.sessionId;
    seen.add(`session-${sessionId}`);
    expect(response.body).toEqual({ sessionId, status: 'requested' });

    const checkId = uuidGenerator.next();
    // Before the check (two topics, keyed differently, are not ordered with each other).
    const { code, message: secret } = await issueCode(sessionId, 1, { checkId });
    expect((await http().get(`/sessions/${sessionId}`).expect(200)).body.status).toBe('challenged');
    const { message } = await answerCheck(sessionId, okVerdicts(), checkId);
    expect((await http().get(`/sessions/${sessionId}`).expect(200)).body.status).toBe('challenged');

    // Redeliveries change nothing.
    await consumer.onTrustCheckEvent(message);
    await consumer.onSecretEvent(secret);
    const events = await eventsOf(sessionId);
    expect(events.map((e) => e.type)).toEqual(['SessionRequested', 'SessionChallengeIssued']);
    expect(events[1].data).toMatchObject({ checkId, issueNumber: 1 });
    await http()
      .post(`/sessions/${sessionId}/code`)
      .send({ code })
      .expect(200)
      .then((r) => secrets.push(r.body.credential));
  });

  it('a wrong code is 401 with what remains; the limit locks the session (403) until the lock-out ends; then a resend opens it', async () => {
    const { sessionId, code } = await openChallenge();
    const wrong = code === '000000' ? '000001' : '000000';
    const first = await http().post(`/sessions/${sessionId}/code`).send({ code: wrong }).expect(401);
    expect(first.body).toMatchObject({ code: 'SESSION.CODE_REJECTED', remainingAttempts: 2, reasons: [expect.objectContaining({ rule: 'code.mismatch' })] });
    await http().post(`/sessions/${sessionId}/code`).send({ code: wrong }).expect(401);
    const third = await http().post(`/sessions/${sessionId}/code`).send({ code: wrong }).expect(403);
    expect(third.body).toMatchObject({ code: 'SESSION.LOCKED', remainingAttempts: 0, lockedUntil: new Date(clock.now().getTime() + 900_000).toISOString() });

    const lockedOut = await http().post(`/sessions/${sessionId}/code`).send({ code }).expect(403);
    expect(lockedOut.body.reasons).toEqual([expect.objectContaining({ rule: 'session.locked' })]);
    await http().post(`/sessions/${sessionId}/resend`).expect(403);

    clock.advance(901);
    // The first code has expired meanwhile: a new one is asked for and issued.
    const expired = await http().post(`/sessions/${sessionId}/code`).send({ code }).expect(401);
    expect(expired.body.reasons).toEqual([expect.objectContaining({ rule: 'code.expired' })]);
    await http().post(`/sessions/${sessionId}/resend`).expect(202);
    const second = await issueCode(sessionId, 2);
    await http().post(`/sessions/${sessionId}/code`).send({ code }).expect(401); // the replaced code no longer works
    const opened = await http().post(`/sessions/${sessionId}/code`).send({ code: second.code }).expect(200);
    secrets.push(opened.body.credential);

    expect((await eventsOf(sessionId)).map((e) => e.type)).toEqual([
      'SessionRequested',
      'SessionChallengeIssued',
      'SessionCodeRejected',
      'SessionCodeRejected',
      'SessionCodeRejected',
      'SessionLocked',
      'SessionCodeRejected',
      'SessionCodeResendRequested',
      'SessionChallengeIssued',
      'SessionCodeRejected',
      'SessionOpened',
    ]);
  });

  it('an expired code is 401 code.expired and costs no attempt', async () => {
    const { sessionId, code } = await openChallenge();
    clock.advance(300);
    const response = await http().post(`/sessions/${sessionId}/code`).send({ code }).expect(401);
    expect(response.body).toMatchObject({ code: 'SESSION.CODE_EXPIRED', remainingAttempts: 3 });
  });

  it('a code (or the verifier) of one session never opens another: the verifier binds the session id', async () => {
    const a = await openChallenge();
    const b = await openChallenge();
    // The code of session A typed into session B.
    const replayed = await http().post(`/sessions/${b.sessionId}/code`).send({ code: a.code }).expect(401);
    expect(replayed.body.reasons).toEqual([expect.objectContaining({ rule: 'code.mismatch' })]);

    // Even A's verifier copied into B's challenge does not make A's code valid in B.
    const stolen = codeVerifier(verifierKey.key, a.sessionId, a.code!);
    await issueCode(b.sessionId, 2, { verifier: stolen, code: a.code });
    await http().post(`/sessions/${b.sessionId}/code`).send({ code: a.code }).expect(401);

    // A is unaffected.
    await http()
      .post(`/sessions/${a.sessionId}/code`)
      .send({ code: a.code })
      .expect(200)
      .then((r) => secrets.push(r.body.credential));
  });

  it('refuses bad input with 400 naming the field and the rule, and writes nothing', async () => {
    const before = (await store.readAll()).length;
    const unknown = await http()
      .post('/sessions')
      .send({ ...body, admin: true })
      .expect(400);
    expect(unknown.body.violations).toEqual([expect.objectContaining({ field: 'admin', rule: 'whitelist' })]);
    const duplicate = await http()
      .post('/sessions')
      .send({ ...body, counterpartIds: ['party-bob', 'party-bob'] })
      .expect(400);
    expect(duplicate.body.violations).toEqual([expect.objectContaining({ field: 'counterpartIds', rule: 'arrayUnique' })]);
    const kind = await http()
      .post('/sessions')
      .send({ ...body, correspondenceKind: 'pigeon' })
      .expect(400);
    expect(kind.body.reasons).toEqual([expect.objectContaining({ rule: 'kind.unknown' })]);
    const self = await http()
      .post('/sessions')
      .send({ ...body, counterpartIds: ['user-ada'] })
      .expect(400);
    expect(self.body.reasons).toEqual([expect.objectContaining({ rule: 'counterparts.self' })]);
    const letters = await http().post(`/sessions/${uuidGenerator.next()}/code`).send({ code: '12ab56' }).expect(400);
    expect(letters.body.violations).toEqual([expect.objectContaining({ field: 'code', rule: 'matches' })]);
    await http().post('/sessions/not-a-uuid/code').send({ code: '123456' }).expect(400);
    await http().get(`/sessions/${uuidGenerator.next()}`).expect(404);
    await http().post(`/sessions/${uuidGenerator.next()}/code`).send({ code: '123456' }).expect(404);
    expect((await store.readAll()).length).toBe(before);
  });

  it('denies when the certifier refuses the secret; records delivery failures and refused resends as notices', async () => {
    const pending = await http().post('/sessions').send(body).expect(202);
    const sessionId: string = pending.body.sessionId;
    seen.add(`session-${sessionId}`);
    await answerCheck(sessionId, okVerdicts());
    const refused = await appendAndDeliver(streamIdOf(SESSION_SECRET_CATEGORY, sessionId), 'SessionSecretRefused', {
      sessionId,
      partyId: 'user-ada',
      reasons: [{ rule: 'channel.unverified', message: 'No verified second channel', partyId: 'user-ada', subjectRole: 'user' }],
      refusedAt: clock.now().toISOString(),
    });
    await consumer.onSecretEvent(refused);
    const view = (await http().get(`/sessions/${sessionId}`).expect(200)).body;
    expect(view).toMatchObject({ status: 'denied', reasons: [expect.objectContaining({ rule: 'channel.unverified', partyId: 'user-ada' })] });
    expect((await eventsOf(sessionId)).map((e) => e.type)).toEqual(['SessionRequested', 'SessionDenied']);

    const other = await openChallenge();
    await appendAndDeliver(streamIdOf(SESSION_SECRET_CATEGORY, other.sessionId), 'SecondChannelDeliveryFailed', {
      sessionId: other.sessionId,
      issueNumber: 1,
      channel: { channelId: 'ch-1', kind: 'sms', maskedAddress: '+33*******78' },
      reason: 'SMS gateway timed out for +33612345678',
      failedAt: clock.now().toISOString(),
    });
    let notice = (await http().get(`/sessions/${other.sessionId}`).expect(200)).body.notice;
    expect(notice).toMatchObject({ rule: 'channel.delivery-failed' });
    expect(JSON.stringify(notice)).not.toContain('+33612345678');
    await appendAndDeliver(streamIdOf(SESSION_SECRET_CATEGORY, other.sessionId), 'SessionSecretResendRefused', {
      sessionId: other.sessionId,
      reasons: [{ rule: 'resend.too-soon', message: 'Wait before asking again' }],
      retryAfter: new Date(clock.now().getTime() + 60_000).toISOString(),
      refusedAt: clock.now().toISOString(),
    });
    notice = (await http().get(`/sessions/${other.sessionId}`).expect(200)).body.notice;
    expect(notice).toMatchObject({ rule: 'resend.too-soon', retryAfter: expect.any(String) });
    expect((await eventsOf(other.sessionId)).map((e) => e.type)).toEqual(['SessionRequested', 'SessionChallengeIssued']);
  });

  it('dead-letters a certifier message of unknown shape, and ignores checks for other purposes', async () => {
    const base = {
      topic: 'sigillum.trustcheck.events',
      key: 'trustcheck-x',
      id: uuidGenerator.next(),
      source: '/sigillum/certifier',
      time: t0.toISOString(),
      correlationId: 'c',
      causationId: 'c',
      dataVersion: 1,
      partition: 0,
      offset: '0',
    };
    await expect(
      consumer.onTrustCheckEvent({ ...base, type: 'sigillum.trustcheck.TrustCheckAnswered', data: { checkId: 'x', purpose: 'session' } }),
    ).rejects.toThrow(PoisonMessageError);
    await expect(consumer.onTrustCheckEvent({ ...base, type: 'sigillum.trustcheck.TrustCheckAnswered', data: 'nope' })).rejects.toThrow(
      /unexpected shape: data is not an object/,
    );
    await expect(
      consumer.onSecretEvent({
        ...base,
        topic: 'sigillum.secret.events',
        type: 'sigillum.secret.SessionSecretIssued',
        data: { sessionId: 's', issueNumber: 1, verifier: 'not-hex' },
      }),
    ).rejects.toThrow(/checkId|issueNumber|verifier/);
    await expect(
      consumer.onSecretEvent({
        ...base,
        topic: 'sigillum.secret.events',
        type: 'sigillum.secret.SessionSecretIssued',
        data: { sessionId: 's', checkId: 'c', partyId: 'p', issueNumber: 1, verifier: 'not-hex' },
      }),
    ).rejects.toThrow(/verifier must be 64 lowercase hex digits/);
    await expect(
      consumer.onTrustCheckEvent({
        ...base,
        type: 'sigillum.trustcheck.TrustCheckAnswered',
        data: {
          checkId: 'x',
          purpose: 'delivery',
          subjectOf: 'corr-1',
          policyId: 'eidas-default@1',
          levelRequired: 'high',
          passed: false,
          verdicts: [],
          answeredAt: t0.toISOString(),
        },
      }),
    ).resolves.toBeUndefined();
  });

  describe('SessionCredentialAuthenticator (through the global AccessGuard)', () => {
    async function openSession() {
      const { sessionId, code } = await openChallenge();
      const credential: string = (await http().post(`/sessions/${sessionId}/code`).send({ code }).expect(200)).body.credential;
      secrets.push(credential);
      const probe = () => http().get('/probe').set('Authorization', `Bearer ${credential}`).set(SESSION_ID_HEADER, sessionId);
      return { sessionId, credential, probe };
    }

    it('refuses a missing or wrong credential and an unknown session with 401', async () => {
      const { sessionId } = await openSession();
      const missing = await http().get('/probe').set(SESSION_ID_HEADER, sessionId).expect(401);
      expect(missing.body.reasons).toEqual([expect.objectContaining({ rule: 'credential.missing' })]);
      expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
      const wrong = await http()
        .get('/probe')
        .set('Authorization', `Bearer ${randomBytes(32).toString('base64url')}`)
        .set(SESSION_ID_HEADER, sessionId)
        .expect(401);
      expect(wrong.body.reasons).toEqual([expect.objectContaining({ rule: 'credential.invalid' })]);
      await http()
        .get('/probe')
        .set('Authorization', `Bearer ${randomBytes(32).toString('base64url')}`)
        .set(SESSION_ID_HEADER, uuidGenerator.next())
        .expect(401);
      await http()
        .get('/probe')
        .set('Authorization', `Bearer ${randomBytes(32).toString('base64url')}`)
        .expect(401);
    });

    it('keeps the session alive while used, expires it after idleness with SessionExpired and 401 session.idle', async () => {
      const { sessionId, probe } = await openSession();
      for (let i = 0; i < 3; i++) {
        clock.advance(600);
        await probe().expect(200);
      }
      const activity = db.prepare('SELECT last_activity_at AS at FROM domicile_session_activity WHERE session_id = ?').get(sessionId) as { at: string };
      expect(activity.at).toBe(clock.now().toISOString());
      expect((await eventsOf(sessionId)).map((e) => e.type)).toEqual(['SessionRequested', 'SessionChallengeIssued', 'SessionOpened']);

      clock.advance(900);
      const idle = await probe().expect(401);
      expect(idle.body.reasons).toEqual([expect.objectContaining({ rule: 'session.idle' })]);
      const events = await eventsOf(sessionId);
      expect(events[events.length - 1]).toMatchObject({ type: 'SessionExpired', data: { rule: 'session.idle' } });
      const after = await probe().expect(401);
      expect(after.body.reasons).toEqual([expect.objectContaining({ rule: 'session.expired' })]);
    });

    it('records last activity at most once a second: a burst of requests costs one write', async () => {
      const { sessionId, probe } = await openSession();
      const activity = () =>
        (db.prepare('SELECT last_activity_at AS at FROM domicile_session_activity WHERE session_id = ?').get(sessionId) as { at: string }).at;
      clock.advance(10);
      await probe().expect(200);
      const first = clock.now().toISOString();
      expect(activity()).toBe(first);
      clock.advance(0.4);
      await probe().expect(200);
      clock.advance(0.5);
      await probe().expect(200);
      expect(activity()).toBe(first); // 0.9 s later: not written again
      clock.advance(0.1);
      await probe().expect(200);
      expect(activity()).toBe(clock.now().toISOString()); // a second after the one recorded
    });

    it('expires the session at its absolute limit even when in use (401 session.absolute)', async () => {
      const { sessionId, probe } = await openSession();
      for (let elapsed = 0; elapsed < 28_800 - 800; elapsed += 800) {
        clock.advance(800);
        await probe().expect(200);
      }
      clock.advance(800);
      const absolute = await probe().expect(401);
      expect(absolute.body.reasons).toEqual([expect.objectContaining({ rule: 'session.absolute' })]);
      expect((await eventsOf(sessionId)).filter((e) => e.type === 'SessionExpired')).toEqual([
        expect.objectContaining({ data: expect.objectContaining({ rule: 'session.absolute' }) }),
      ]);
    });
  });
});
