import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Global, type INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AuthModule } from '@sigillum/auth';
import {
  CLOCK,
  eventTopicForStream,
  ID_GENERATOR,
  messageFromRecordedEvent,
  SESSION_SECRET_CATEGORY,
  type SessionSecretIssued,
  streamIdOf,
} from '@sigillum/contracts';
import { codeVerifier } from '@sigillum/crypto';
import { EVENT_STORE, SqliteEventStore } from '@sigillum/eventstore';
import { JsonErrorFilter, LOCAL_DB, SESSION_VERIFIER_KEY, strictValidationPipe, uuidGenerator, type VerifierKey } from '@sigillum/runtime';
import { pendingEvent } from '@sigillum/testing/events';
import { MovableClock } from '@sigillum/testing/movable-clock';
import Database from 'better-sqlite3';
import request from 'supertest';
import { DOMICILE_CONFIG, loadDomicileConfig } from '../domicile.config';
import { SessionConsumer } from './session.consumer';
import { SessionModule } from './session.module';

/**
 * The session abuse limits through Nest, with a real SQLite event store and LOCAL_DB in a file: the (N+1)th
 * request answers 429 with Retry-After and writes no event; the limits count per user, per client address and
 * failed codes across sessions; the window passing frees them; a restart does not reset them. The certifier is
 * simulated: it hands the domicile a SessionSecretIssued (verifier made with codeVerifier under a test key).
 */
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const verifierKey: VerifierKey = { keyId: 'session-verifier', key: randomBytes(32) };
const LIMITS = {
  SESSION_REQUEST_WAIT_MS: '0', // answer 202 at once: no certifier answers the trust check here
  SESSION_CODES_PER_USER_PER_HOUR: '3',
  SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: '8',
  SESSION_FAILED_CODES_PER_USER: '4',
  SESSION_FAILED_CODES_WINDOW_MINUTES: '30',
  SESSION_MAX_ATTEMPTS: '3',
};

interface Running {
  readonly app: INestApplication;
  readonly db: Database.Database;
  readonly store: SqliteEventStore;
  readonly consumer: SessionConsumer;
}

/** One domicile process on the SQLite file `file`: event store and LOCAL_DB, as the embedded default has them. */
async function start(file: string, clock: MovableClock, env: Record<string, string> = {}): Promise<Running> {
  const db = new Database(file);
  const store = new SqliteEventStore({ db });

  @Global()
  @Module({
    providers: [
      { provide: EVENT_STORE, useValue: store },
      { provide: LOCAL_DB, useValue: db },
      { provide: CLOCK, useValue: clock },
      { provide: ID_GENERATOR, useValue: uuidGenerator },
      { provide: SESSION_VERIFIER_KEY, useValue: verifierKey },
    ],
    exports: [EVENT_STORE, LOCAL_DB, CLOCK, ID_GENERATOR, SESSION_VERIFIER_KEY],
  })
  class TestRuntimeModule {}

  const moduleRef = await Test.createTestingModule({ imports: [TestRuntimeModule, AuthModule, SessionModule] })
    .overrideProvider(DOMICILE_CONFIG)
    .useValue(loadDomicileConfig({ ...LIMITS, ...env }))
    .compile();
  const app = moduleRef.createNestApplication({ logger: ['error'] });
  app.useGlobalPipes(strictValidationPipe());
  app.useGlobalFilters(new JsonErrorFilter());
  await app.init();
  return { app, db, store, consumer: app.get(SessionConsumer) };
}

async function stop(running: Running): Promise<void> {
  await running.app.close();
  running.db.close();
}

describe('session abuse limits (429 before the decider: no event, no code)', () => {
  const clock = new MovableClock();
  let dir: string;
  let domicile: Running;
  let offset = 0;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-session-limits-'));
    domicile = await start(path.join(dir, 'domicile.db'), clock);
  });

  afterAll(async () => {
    await stop(domicile);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Every test starts with every window (and the address's, shared by all of them) empty.
  beforeEach(() => clock.advance(2 * HOUR));

  const http = () => request(domicile.app.getHttpServer());
  const eventCount = async () => (await domicile.store.readAll()).length;
  const body = (userId: string) => ({ userId, counterpartIds: ['party-bob'], correspondenceKind: 'registered' });
  const ask = (userId: string) => http().post('/sessions').send(body(userId));
  const newUser = () => `user-${uuidGenerator.next()}`;

  /** The certifier's secret for a session, delivered as the bus would; returns the code "sent over the second channel". */
  async function issueCode(sessionId: string, issueNumber = 1): Promise<string> {
    const code = String(100000 + Math.floor(Math.random() * 900000));
    const data: SessionSecretIssued['data'] = {
      sessionId,
      checkId: uuidGenerator.next(),
      partyId: 'user',
      issueNumber,
      verifier: codeVerifier(verifierKey.key, sessionId, code),
      verifierKeyId: verifierKey.keyId,
      codeLength: 6,
      channel: { channelId: 'ch-1', kind: 'email', maskedAddress: 'a***@example.org' },
      issuedAt: clock.now().toISOString(),
      expiresAt: new Date(clock.now().getTime() + 2 * HOUR).toISOString(),
    };
    const streamId = streamIdOf(SESSION_SECRET_CATEGORY, sessionId);
    await domicile.store.append(streamId, [pendingEvent('SessionSecretIssued', data, { occurredAt: clock.now().toISOString() })], 'any');
    const recorded = await domicile.store.readStream(streamId);
    await domicile.consumer.onSecretEvent({
      ...messageFromRecordedEvent(recorded[recorded.length - 1], eventTopicForStream),
      partition: 0,
      offset: String(offset++),
    });
    return code;
  }

  async function challenged(userId: string): Promise<{ sessionId: string; code: string }> {
    const response = await ask(userId).expect(202);
    const sessionId: string = response.body.sessionId;
    return { sessionId, code: await issueCode(sessionId) };
  }

  const wrong = (code: string) => (code === '000000' ? '111111' : '000000');

  /** A 429 as the brief has it: Retry-After in seconds, the rules, nothing about the user. */
  function expectRateLimited(response: request.Response, rules: string[], retryAfter: { min: number; max: number }) {
    expect(response.status).toBe(429);
    const seconds = Number(response.headers['retry-after']);
    expect(Number.isInteger(seconds)).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(retryAfter.min);
    expect(seconds).toBeLessThanOrEqual(retryAfter.max);
    expect(response.body).toEqual({
      statusCode: 429,
      code: 'SESSION.RATE_LIMITED',
      message: expect.stringContaining(`${seconds} second(s)`),
      reasons: rules.map((rule) => ({ rule, message: expect.any(String) })),
    });
  }

  it('per user: the (N+1)th POST /sessions in an hour is 429 with Retry-After and writes no event; the window passing frees it', async () => {
    const ada = newUser();
    for (let i = 0; i < 3; i++) {
      if (i > 0) clock.advance(10 * MINUTE);
      await ask(ada).expect(202);
    }
    const before = await eventCount();

    const refused = await ask(ada);
    // The first of the three (20 minutes ago) leaves the hour in 40 minutes.
    expectRateLimited(refused, ['session.rate-limited.user'], { min: 40 * 60 - 10, max: 40 * 60 });
    expect(JSON.stringify(refused.body)).not.toContain(ada);
    await ask(ada).expect(429); // refusals are not counted, and write nothing either
    expect(await eventCount()).toBe(before);

    // Another user is not affected.
    await ask(newUser()).expect(202);

    // When the first request leaves the hour its slot is free again: one slot, not three (a sliding window).
    clock.advance(40 * MINUTE - 10 * 1000);
    expect(Number((await ask(ada).expect(429)).headers['retry-after'])).toBeLessThanOrEqual(10);
    clock.advance(10 * 1000);
    await ask(ada).expect(202);
    await ask(ada).expect(429);
  });

  it('answers the same for an id no party has: the limit counts requests for an id, whatever their answer', async () => {
    const [known, unknown] = [newUser(), 'nobody-at-all'];
    const answers = [];
    for (const userId of [known, unknown]) {
      for (let i = 0; i < 3; i++) await ask(userId).expect(202);
      const refused = await ask(userId);
      answers.push({ status: refused.status, body: refused.body });
    }
    expect(answers[0]).toEqual(answers[1]);
  });

  it('per client address: the (N+1)th request from one address, for different users, is 429 and writes no event', async () => {
    for (let i = 0; i < 8; i++) await ask(newUser()).expect(202);
    const before = await eventCount();
    const refused = await ask(newUser());
    expectRateLimited(refused, ['session.rate-limited.address'], { min: 3590, max: 3600 });
    // Without TRUST_PROXY, X-Forwarded-For is the client's own word: it does not escape the limit.
    await http().post('/sessions').set('X-Forwarded-For', '198.51.100.23').send(body(newUser())).expect(429);
    expect(await eventCount()).toBe(before);

    clock.advance(HOUR);
    await ask(newUser()).expect(202);
  });

  it('names every limit that refuses, and waits for the later one', async () => {
    for (let i = 0; i < 5; i++) await ask(newUser()).expect(202);
    clock.advance(30 * MINUTE);
    const ada = newUser();
    for (let i = 0; i < 3; i++) await ask(ada).expect(202);
    // The address is full (8): a slot frees in 30 minutes; Ada is full (3): hers frees in an hour.
    const refused = await ask(ada);
    expectRateLimited(refused, ['session.rate-limited.address', 'session.rate-limited.user'], { min: 3590, max: 3600 });
    clock.advance(30 * MINUTE);
    expectRateLimited(await ask(ada), ['session.rate-limited.user'], { min: 1790, max: 1800 });
  });

  it('a resend sends a code: it counts per user and per address, and is refused with 429 and no event past the limit', async () => {
    const ada = newUser();
    const first = await challenged(ada);
    await challenged(ada);
    await http().post(`/sessions/${first.sessionId}/resend`).expect(202); // Ada's third code
    const before = await eventCount();
    const refused = await http().post(`/sessions/${first.sessionId}/resend`);
    expectRateLimited(refused, ['session.rate-limited.user'], { min: 3590, max: 3600 });
    expect(await eventCount()).toBe(before);
  });

  it('a request the decider refuses (nothing written, no code sent) does not count', async () => {
    const ada = newUser();
    const pending = await ask(ada).expect(202); // not challenged: no code can be resent
    for (let i = 0; i < 5; i++) await http().post(`/sessions/${pending.body.sessionId}/resend`).expect(409);
    await http().post(`/sessions/${uuidGenerator.next()}/resend`).expect(404);
    await http()
      .post('/sessions')
      .send({ ...body(ada), correspondenceKind: 'pigeon' })
      .expect(400);
    await ask(ada).expect(202);
    await ask(ada).expect(202);
    await ask(ada).expect(429);
  });

  it('failed codes across sessions lock the user: its code submissions, resends and new sessions are 429 until the window passes', async () => {
    const ada = newUser();
    const a = await challenged(ada);
    const b = await challenged(ada);
    await http()
      .post(`/sessions/${a.sessionId}/code`)
      .send({ code: wrong(a.code) })
      .expect(401);
    await http()
      .post(`/sessions/${a.sessionId}/code`)
      .send({ code: wrong(a.code) })
      .expect(401);
    await http()
      .post(`/sessions/${a.sessionId}/code`)
      .send({ code: wrong(a.code) })
      .expect(403); // session A locked (3 per session)
    await http()
      .post(`/sessions/${a.sessionId}/code`)
      .send({ code: wrong(a.code) })
      .expect(403); // refused by the session lock: not a wrong code counted
    clock.advance(5 * MINUTE);
    await http()
      .post(`/sessions/${b.sessionId}/code`)
      .send({ code: wrong(b.code) })
      .expect(401); // the 4th wrong code for Ada: the cap

    const before = await eventCount();
    // Even the right code of session B: 429, nothing written, the session still waiting.
    const code = await http().post(`/sessions/${b.sessionId}/code`).send({ code: b.code });
    expectRateLimited(code, ['session.rate-limited.attempts'], { min: 25 * 60 - 10, max: 25 * 60 }); // the first wrong code leaves the 30-minute window in 25
    const resend = await http().post(`/sessions/${b.sessionId}/resend`);
    expectRateLimited(resend, ['session.rate-limited.attempts'], { min: 25 * 60 - 10, max: 25 * 60 });
    const fresh = await ask(ada);
    expectRateLimited(fresh, ['session.rate-limited.attempts'], { min: 25 * 60 - 10, max: 25 * 60 });
    expect(await eventCount()).toBe(before);
    expect((await http().get(`/sessions/${b.sessionId}`).expect(200)).body).toMatchObject({ status: 'challenged', remainingAttempts: 2 });

    // Another user's sessions are not affected.
    const grace = await challenged(newUser());
    await http().post(`/sessions/${grace.sessionId}/code`).send({ code: grace.code }).expect(200);

    clock.advance(25 * MINUTE);
    const opened = await http().post(`/sessions/${b.sessionId}/code`).send({ code: b.code }).expect(200);
    expect(opened.body.credential).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('a right code, or one the decider refuses, does not count as a failed one', async () => {
    const ada = newUser();
    const a = await challenged(ada);
    for (let i = 0; i < 2; i++)
      await http()
        .post(`/sessions/${a.sessionId}/code`)
        .send({ code: wrong(a.code) })
        .expect(401);
    await http().post(`/sessions/${a.sessionId}/code`).send({ code: a.code }).expect(200);
    await http().post(`/sessions/${a.sessionId}/code`).send({ code: a.code }).expect(409); // already used: refused by the decider, not counted
    const b = await challenged(ada);
    await http()
      .post(`/sessions/${b.sessionId}/code`)
      .send({ code: wrong(b.code) })
      .expect(401); // the 3rd wrong code of 4
    await http().post(`/sessions/${b.sessionId}/code`).send({ code: b.code }).expect(200);
  });

  it('keeps counting across a restart (LOCAL_DB), and after it the window still frees the slots', async () => {
    const ada = newUser();
    for (let i = 0; i < 3; i++) await ask(ada).expect(202);
    await stop(domicile);
    domicile = await start(path.join(dir, 'domicile.db'), clock);
    await ask(ada).expect(429);
    clock.advance(HOUR);
    await ask(ada).expect(202);
  });

  it('prunes what the windows have left behind, whatever the key', async () => {
    const count = () => (domicile.db.prepare('SELECT COUNT(*) AS n FROM session_rate_events').get() as { n: number }).n;
    await ask(newUser()).expect(202);
    expect(count()).toBe(2); // the address and the user of this request: the sweep dropped what earlier tests counted
    clock.advance(HOUR + MINUTE);
    await ask(newUser()).expect(202);
    expect(count()).toBe(2);
  });

  describe('behind a proxy (TRUST_PROXY)', () => {
    let proxied: Running;

    beforeAll(async () => {
      proxied = await start(path.join(dir, 'proxied.db'), clock, { TRUST_PROXY: 'loopback', SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: '2' });
    });

    afterAll(async () => {
      await stop(proxied);
    });

    it('counts the client the trusted proxy names in X-Forwarded-For, and an IPv6 client by its /64', async () => {
      const from = (address: string) => request(proxied.app.getHttpServer()).post('/sessions').set('X-Forwarded-For', address).send(body(newUser()));
      await from('203.0.113.7').expect(202);
      await from('203.0.113.7').expect(202);
      expectRateLimited(await from('203.0.113.7'), ['session.rate-limited.address'], { min: 3590, max: 3600 });
      await from('203.0.113.8').expect(202);

      await from('2001:db8:1:2::a').expect(202);
      await from('2001:db8:1:2::b').expect(202);
      await from('2001:db8:1:2:ffff::1').expect(429);
      await from('2001:db8:1:3::a').expect(202);
    });
  });
});
