import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Global, type INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AuthModule } from '@sigillum/auth';
import { BusTransport, EVENT_BUS, type EventBus } from '@sigillum/bus';
import { OUT_OF_BAND_SENDER, type OutOfBandMessage, type OutOfBandReceipt, type OutOfBandSender } from '@sigillum/channels';
import { loadConfig } from '@sigillum/config';
import { CLOCK, type Clock, PARTY_CATEGORY, type SecondChannelKind, STAFF_CATEGORY } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore, OwnedCategoriesEventStore } from '@sigillum/eventstore';
import { CHANNEL_VERIFIER_KEY, JsonErrorFilter, RuntimeModule, strictValidationPipe, type VerifierKey } from '@sigillum/runtime';
import { adminCredentialOf, bearer, eventually, type TestStaffRole } from '@sigillum/testing';
import request from 'supertest';
// The read side is part of the flow under test; only tests reach across apps like this (the gateway composes them in production).
import { ProjectionsModule } from '../../../projections/src/projections.module';
import { DirectoryModule } from '../directory.module';

/** Records every out-of-band message so that the test can read the code "received" by the user. */
class RecordingOutOfBandSender implements OutOfBandSender {
  readonly sent: OutOfBandMessage[] = [];
  readonly kinds = new Set<SecondChannelKind>(['email', 'sms']);
  failNext = false;

  supports(kind: SecondChannelKind): boolean {
    return this.kinds.has(kind);
  }

  async send(message: OutOfBandMessage): Promise<OutOfBandReceipt> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('SMTP said 451 try later');
    }
    this.sent.push(message);
    return { transport: 'recording', acceptedAt: new Date().toISOString() };
  }

  codeFor(channelId: string): string {
    const message = this.sent.find((m) => m.channel.channelId === channelId);
    if (!message) throw new Error(`No message sent for channel ${channelId}`);
    return message.code;
  }
}

/** A clock the test can move forward. */
class TestClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(seconds: number): void {
    this.offsetMs += seconds * 1000;
  }
}

const sender = new RecordingOutOfBandSender();
const verifierKey: VerifierKey = { keyId: 'channel-verifier@test', key: randomBytes(32) };
const clock = new TestClock();

/** The test doubles of the runtime's trust providers; `overrideProvider` below makes them win over the runtime's own. */
@Global()
@Module({
  providers: [
    { provide: CHANNEL_VERIFIER_KEY, useValue: verifierKey },
    { provide: OUT_OF_BAND_SENDER, useValue: sender },
  ],
  exports: [CHANNEL_VERIFIER_KEY, OUT_OF_BAND_SENDER],
})
class TestTrustModule {}

const NOBODY = '00000000-0000-4000-8000-000000000000';

function publicPem(type: 'ed25519' | 'x25519' | 'rsa', bits = 2048): string {
  const pair = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: bits }) : generateKeyPairSync(type as 'ed25519');
  return pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

describe('directory over HTTP (real SQLite event store, embedded bus, projection)', () => {
  let app: INestApplication;
  let dataDir: string;
  let store: EventStore;
  let admin: string;
  let registrar: string;
  let auditor: string;

  const issue = async (subject: string, roles: TestStaffRole[]) => {
    const issued = await request(app.getHttpServer()).post('/staff/credentials').set(bearer(admin)).send({ subject, roles }).expect(201);
    return issued.body.credential as string;
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-directory-'));
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'error', CONSUMER_MAX_ATTEMPTS: '2' }, 'directory-e2e');
    const moduleRef = await Test.createTestingModule({
      imports: [
        RuntimeModule.forRoot({ config, roles: ['directory', 'projections'], relayCategories: [PARTY_CATEGORY, STAFF_CATEGORY] }),
        AuthModule,
        TestTrustModule,
        DirectoryModule,
        ProjectionsModule,
      ],
    })
      .overrideProvider(CLOCK)
      .useValue(clock)
      .overrideProvider(CHANNEL_VERIFIER_KEY)
      .useValue(verifierKey)
      .overrideProvider(OUT_OF_BAND_SENDER)
      .useValue(sender)
      .compile();
    app = moduleRef.createNestApplication({ logger: ['error'] });
    app.useGlobalPipes(strictValidationPipe());
    app.useGlobalFilters(new JsonErrorFilter());
    app.connectMicroservice({ strategy: new BusTransport(app.get<EventBus>(EVENT_BUS), { role: 'projections', maxAttempts: 2 }) }, { inheritAppConfig: true });
    // The party directory is a local view (@RoleViewPattern): served by the role's view transport.
    app.connectMicroservice(
      { strategy: new BusTransport(app.get<EventBus>(EVENT_BUS), { role: 'projections', maxAttempts: 2, view: true }) },
      { inheritAppConfig: true },
    );
    await app.startAllMicroservices();
    await app.init();
    store = app.get(EVENT_STORE);
    // The SQLite store, written only in the directory's own categories (party, staff: the first-start admin).
    expect(store).toBeInstanceOf(OwnedCategoriesEventStore);
    // Staff as an operator's IT issues them: from the first-start admin credential the directory wrote under DATA_DIR.
    admin = adminCredentialOf(dataDir);
    registrar = await issue('registrar-1', ['registrar']);
    auditor = await issue('auditor-1', ['auditor']);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  const anonymous = () => request(app.getHttpServer());
  /** Requests as a staff member: the registrar (who enrols parties, their attributes, channels and keys) unless told. */
  const http = (token = registrar) => {
    const agent = anonymous();
    return {
      get: (url: string) => agent.get(url).set(bearer(token)),
      post: (url: string) => agent.post(url).set(bearer(token)),
      put: (url: string) => agent.put(url).set(bearer(token)),
      delete: (url: string) => agent.delete(url).set(bearer(token)),
    };
  };
  const register = async (body: object) => (await http().post('/parties').send(body).expect(201)).body.partyId as string;
  const view = (partyId: string, check: (body: Record<string, unknown>) => void = () => undefined) =>
    eventually(async () => {
      const body = (await http().get(`/parties/${partyId}`).expect(200)).body;
      check(body);
      return body;
    }, 20_000);
  /** Asserts that the request writes nothing to the log. */
  const writesNothing = async <T>(act: () => Promise<T>): Promise<T> => {
    const before = (await store.readAll()).length;
    const result = await act();
    expect((await store.readAll()).length).toBe(before);
    return result;
  };

  describe('access', () => {
    it('refuses anonymous callers with 401 and staff without the role with 403, and writes nothing', async () => {
      const partyId = await register({ kind: 'person', displayName: 'Ada Access' });
      await writesNothing(async () => {
        const anonymousEnrol = await anonymous().post('/parties').send({ kind: 'person', displayName: 'Eve' }).expect(401);
        expect(anonymousEnrol.body).toMatchObject({ code: 'ACCESS.UNAUTHENTICATED', reasons: [expect.objectContaining({ rule: 'access.unauthenticated' })] });
        expect(anonymousEnrol.headers['www-authenticate']).toMatch(/^Bearer/);
        await anonymous().get(`/parties/${partyId}`).expect(401);
        await anonymous().get('/parties').expect(401);
        const unknownToken = await anonymous()
          .get('/parties')
          .set(bearer(randomBytes(32).toString('base64url')))
          .expect(401);
        expect(unknownToken.body.reasons).toEqual([expect.objectContaining({ rule: 'credential.unrecognised' })]);

        const auditorEnrol = await http(auditor).post('/parties').send({ kind: 'person', displayName: 'Eve' }).expect(403);
        expect(auditorEnrol.body).toMatchObject({ code: 'ACCESS.FORBIDDEN', reasons: [expect.objectContaining({ rule: 'access.role' })] });
        await http(auditor).post(`/parties/${partyId}/attributes`).send({ name: 'givenName', value: 'Eve' }).expect(403);
        await http(auditor).post(`/parties/${partyId}/channels`).send({ kind: 'email', address: 'eve@example.org' }).expect(403);
        const registrarSpec = await http()
          .put(`/parties/${partyId}/specification`)
          .send({ version: 1, steps: [{ step: 'seal', parameters: {}, maxDurationSeconds: 60 }] })
          .expect(403);
        expect(registrarSpec.body.reasons).toEqual([expect.objectContaining({ rule: 'access.role', message: expect.stringContaining('admin') })]);
      });
      // Any staff member reads the directory.
      await view(partyId);
      await eventually(async () => (await http(auditor).get(`/parties/${partyId}`).expect(200)).body, 20_000);
    });
  });

  describe('parties and attributes', () => {
    it('registers a person with attributes and shows attribute names, not private values', async () => {
      const partyId = await register({
        kind: 'person',
        displayName: 'Jeanne Martin',
        attributes: [
          { name: 'givenName', value: 'Jeanne' },
          { name: 'dateOfBirth', value: '1988-04-02' },
        ],
      });
      await http().post(`/parties/${partyId}/attributes`).send({ name: 'country', value: 'FR' }).expect(200);
      const body = await view(partyId, (b) => expect(b.eventCount).toBe(4));
      expect(body).toMatchObject({ kind: 'person', operatorRole: null, displayName: 'Jeanne Martin' });
      expect(body.attributes).toEqual([
        { name: 'country', declaredAt: expect.any(String) },
        { name: 'dateOfBirth', declaredAt: expect.any(String) },
        { name: 'givenName', declaredAt: expect.any(String) },
      ]);
      expect(JSON.stringify(body)).not.toContain('1988-04-02');
    });

    it('requires the operator role iff the party is an operator', async () => {
      await writesNothing(async () => {
        const missing = await http().post('/parties').send({ kind: 'operator', displayName: 'Relay' }).expect(400);
        expect(missing.body.reasons).toEqual([expect.objectContaining({ field: 'operatorRole', rule: 'operatorRole.required' })]);
        const extra = await http().post('/parties').send({ kind: 'person', operatorRole: 'gateway', displayName: 'Eve' }).expect(400);
        expect(extra.body.reasons).toEqual([expect.objectContaining({ field: 'operatorRole', rule: 'operatorRole.not-allowed' })]);
        const wrongRole = await http().post('/parties').send({ kind: 'operator', operatorRole: 'janitor', displayName: 'R' }).expect(400);
        expect(wrongRole.body.violations).toEqual([expect.objectContaining({ field: 'operatorRole', rule: 'isIn' })]);
      });
    });

    it('refuses bad attributes with the field and the rule, and writes nothing', async () => {
      const partyId = await register({ kind: 'organisation', displayName: 'Acme' });
      await writesNothing(async () => {
        const unknown = await http().post(`/parties/${partyId}/attributes`).send({ name: 'favouriteColour', value: 'blue' }).expect(400);
        expect(unknown.body.violations).toEqual([expect.objectContaining({ field: 'name', rule: 'isIn' })]);
        const notOfKind = await http().post(`/parties/${partyId}/attributes`).send({ name: 'dateOfBirth', value: '1990-01-01' }).expect(400);
        expect(notOfKind.body.reasons).toEqual([expect.objectContaining({ field: 'name', rule: 'attribute.unknown' })]);
        const badCountry = await http().post(`/parties/${partyId}/attributes`).send({ name: 'country', value: 'France' }).expect(400);
        expect(badCountry.body.reasons).toEqual([expect.objectContaining({ field: 'value', rule: 'attribute.format' })]);
        const nested = await http()
          .post('/parties')
          .send({ kind: 'person', displayName: 'X', attributes: [{ name: 'givenName', value: 'X', extra: 1 }] })
          .expect(400);
        expect(nested.body.violations).toEqual([expect.objectContaining({ field: 'attributes.0.extra', rule: 'whitelist' })]);
      });
    });

    it('answers 404 for an unknown party on every command', async () => {
      await writesNothing(async () => {
        await http().post(`/parties/${NOBODY}/attributes`).send({ name: 'givenName', value: 'Nobody' }).expect(404);
        await http().post(`/parties/${NOBODY}/channels`).send({ kind: 'email', address: 'nobody@example.org' }).expect(404);
        await http().post(`/parties/${NOBODY}/channels/${NOBODY}/verification`).send({ code: '123456' }).expect(404);
        await http().delete(`/parties/${NOBODY}/channels/${NOBODY}`).expect(404);
        await http()
          .post(`/parties/${NOBODY}/keys`)
          .send({ algorithm: 'Ed25519', use: 'signature', publicKeyPem: publicPem('ed25519') })
          .expect(404);
        await http().delete(`/parties/${NOBODY}/keys/${NOBODY}`).send({ reason: 'lost' }).expect(404);
        await http(admin)
          .put(`/parties/${NOBODY}/specification`)
          .send({ version: 1, steps: [{ step: 'seal', parameters: {}, maxDurationSeconds: 60 }] })
          .expect(404);
        await http().get(`/parties/${NOBODY}`).expect(404);
      });
    });
  });

  describe('second channels', () => {
    let partyId: string;
    beforeAll(async () => {
      partyId = await register({ kind: 'person', displayName: 'Paul Durand' });
    });

    const enrol = (kind: string, address: string) => http().post(`/parties/${partyId}/channels`).send({ kind, address });
    const verify = (channelId: string, code: string) => http().post(`/parties/${partyId}/channels/${channelId}/verification`).send({ code });

    it('enrols an e-mail channel, sends the code out of band, and verifies it; the code is nowhere in the log', async () => {
      const enrolled = await enrol('email', 'Paul.Durand@Example.org').expect(201);
      expect(enrolled.body).toEqual({ channelId: expect.stringMatching(/^[0-9a-f-]{36}$/), expiresAt: expect.any(String), maskedAddress: 'p***@example.org' });
      const { channelId } = enrolled.body;
      const message = sender.sent.find((m) => m.channel.channelId === channelId);
      expect(message).toMatchObject({ partyId, purpose: 'channel-verification', channel: { kind: 'email', address: 'paul.durand@example.org' } });
      const code = sender.codeFor(channelId);
      expect(code).toMatch(/^\d{6}$/);
      const log = JSON.stringify((await store.readAll()).map(({ event, metadata }) => ({ event, metadata })));
      expect(log).not.toContain(`"${code}"`);
      expect(log).toContain('SecondChannelEnrolled');

      expect((await verify(channelId, code).expect(200)).body).toEqual({ partyId, channelId, verified: true });
      // A verified channel verified again is a no-op.
      await writesNothing(async () => verify(channelId, code).expect(200));

      const body = await view(partyId, (b) => expect((b.channels as { verified: boolean }[])[0]?.verified).toBe(true));
      expect(body.channels).toEqual([
        expect.objectContaining({ channelId, kind: 'email', maskedAddress: 'p***@example.org', verified: true, status: 'verified' }),
      ]);
      expect(JSON.stringify(body)).not.toContain('paul.durand');
    });

    it('refuses the same address again while enrolled', async () => {
      const duplicate = await writesNothing(async () => enrol('email', 'paul.durand@example.org').expect(409));
      expect(duplicate.body).toMatchObject({ code: 'DIRECTORY.CHANNEL_DUPLICATE', reasons: [expect.objectContaining({ rule: 'channel.duplicate' })] });
    });

    it('counts wrong codes and locks the enrolment after the third', async () => {
      const { channelId } = (await enrol('sms', '+33612345678').expect(201)).body;
      const code = sender.codeFor(channelId);
      const wrong = code === '000000' ? '111111' : '000000';
      const first = await verify(channelId, wrong).expect(409);
      expect(first.body).toMatchObject({
        code: 'DIRECTORY.CHANNEL_VERIFICATION_FAILED',
        reasons: [expect.objectContaining({ rule: 'code.mismatch', attempt: 1, attemptsLeft: 2 })],
      });
      await verify(channelId, wrong).expect(409);
      const third = await verify(channelId, wrong).expect(409);
      expect(third.body.reasons).toEqual([expect.objectContaining({ rule: 'attempts.exhausted', attempt: 3 })]);
      const closed = await writesNothing(async () => verify(channelId, code).expect(409));
      expect(closed.body).toMatchObject({ code: 'DIRECTORY.CHANNEL_VERIFICATION_CLOSED', reasons: [expect.objectContaining({ rule: 'attempts.exhausted' })] });
      await view(partyId, (b) =>
        expect(b.channels).toContainEqual(expect.objectContaining({ channelId, status: 'locked', verified: false, maskedAddress: '+33*******78' })),
      );
      // A locked enrolment of the same number is superseded by a new one.
      const again = await enrol('sms', '+33612345678').expect(201);
      await verify(again.body.channelId, sender.codeFor(again.body.channelId)).expect(200);
    });

    it('refuses a code typed after expiry, even the right one', async () => {
      const { channelId } = (await enrol('sms', '+4915112345678').expect(201)).body;
      clock.advance(11 * 60);
      const expired = await verify(channelId, sender.codeFor(channelId)).expect(409);
      expect(expired.body.reasons).toEqual([expect.objectContaining({ rule: 'code.expired' })]);
    });

    it('does not accept the code of another channel', async () => {
      const a = (await enrol('email', 'a@example.org').expect(201)).body.channelId;
      const b = (await enrol('email', 'b@example.org').expect(201)).body.channelId;
      const codeA = sender.codeFor(a);
      if (codeA !== sender.codeFor(b)) {
        expect((await verify(b, codeA).expect(409)).body.reasons[0].rule).toBe('code.mismatch');
      }
      await http().delete(`/parties/${partyId}/channels/${a}`).expect(200);
      await http().delete(`/parties/${partyId}/channels/${a}`).expect(200);
      await http().delete(`/parties/${partyId}/channels/${b}`).expect(200);
      await verify(a, codeA).expect(404);
    });

    it('refuses a malformed address or code with the field and the rule, and writes nothing', async () => {
      await writesNothing(async () => {
        const email = await enrol('email', 'not-an-address').expect(400);
        expect(email.body.violations).toEqual([expect.objectContaining({ field: 'address', rule: 'isChannelAddress' })]);
        const sms = await enrol('sms', '06 12 34 56 78').expect(400);
        expect(sms.body.violations).toEqual([
          expect.objectContaining({ field: 'address', rule: 'isChannelAddress', message: expect.stringContaining('E.164') }),
        ]);
        const kind = await enrol('pigeon', 'coop 3').expect(400);
        expect(kind.body.violations.map((v: { field: string }) => v.field)).toContain('kind');
        const code = await verify(NOBODY, '12ab').expect(400);
        expect(code.body.violations).toEqual([expect.objectContaining({ field: 'code', rule: 'matches' })]);
        await http().post(`/parties/${partyId}/channels/not-a-uuid/verification`).send({ code: '123456' }).expect(400);
      });
    });

    it('answers 503 and writes nothing when no transport serves the kind', async () => {
      sender.kinds.delete('sms');
      try {
        const unavailable = await writesNothing(async () => enrol('sms', '+33698765432').expect(503));
        expect(unavailable.body.message).toMatch(/No transport is configured for sms/);
      } finally {
        sender.kinds.add('sms');
      }
    });

    it('withdraws the enrolment when the transport fails, so the address can be enrolled again at once', async () => {
      sender.failNext = true;
      const failed = await enrol('email', 'flaky@example.org').expect(503);
      expect(failed.body.message).toMatch(/could not be sent to f\*\*\*@example.org/);
      await enrol('email', 'flaky@example.org').expect(201);
    });
  });

  describe('public keys', () => {
    let partyId: string;
    beforeAll(async () => {
      partyId = await register({ kind: 'operator', operatorRole: 'gateway', displayName: 'SMS Gateway One' });
    });
    const addKey = (body: object) => http().post(`/parties/${partyId}/keys`).send(body);

    it('registers Ed25519, RSA-2048 and X25519 keys with their fingerprints; the same key twice is a no-op', async () => {
      const ed = publicPem('ed25519');
      const first = await addKey({ algorithm: 'Ed25519', use: 'signature', publicKeyPem: ed }).expect(201);
      expect(first.body).toMatchObject({ keyId: expect.any(String), fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/), created: true });
      const again = await writesNothing(async () => addKey({ algorithm: 'Ed25519', use: 'signature', publicKeyPem: ed }).expect(201));
      expect(again.body).toMatchObject({ keyId: first.body.keyId, fingerprint: first.body.fingerprint, created: false });
      const rsa = await addKey({ algorithm: 'RSA', use: 'encryption', publicKeyPem: publicPem('rsa') }).expect(201);
      const x = await addKey({ algorithm: 'X25519', use: 'encryption', publicKeyPem: publicPem('x25519') }).expect(201);

      await http().delete(`/parties/${partyId}/keys/${rsa.body.keyId}`).send({ reason: 'rotated' }).expect(200);
      const body = await view(partyId, (b) => expect((b.keys as { revoked: boolean }[]).filter((k) => k.revoked)).toHaveLength(1));
      expect(body.keys).toEqual([
        expect.objectContaining({ keyId: first.body.keyId, algorithm: 'Ed25519', use: 'signature', fingerprint: first.body.fingerprint, revoked: false }),
        expect.objectContaining({ keyId: rsa.body.keyId, algorithm: 'RSA', use: 'encryption', revoked: true }),
        expect.objectContaining({ keyId: x.body.keyId, algorithm: 'X25519', use: 'encryption', revoked: false }),
      ]);
    });

    it('refuses mismatched algorithms, short RSA keys, wrong uses, private keys and garbage, and writes nothing', async () => {
      await writesNothing(async () => {
        const mismatch = await addKey({ algorithm: 'RSA', use: 'signature', publicKeyPem: publicPem('ed25519') }).expect(400);
        expect(mismatch.body.reasons).toEqual([expect.objectContaining({ field: 'algorithm', rule: 'key.algorithm-mismatch' })]);
        const short = await addKey({ algorithm: 'RSA', use: 'signature', publicKeyPem: publicPem('rsa', 1024) }).expect(400);
        expect(short.body.reasons).toEqual([expect.objectContaining({ rule: 'key.too-short' })]);
        const use = await addKey({ algorithm: 'X25519', use: 'signature', publicKeyPem: publicPem('x25519') }).expect(400);
        expect(use.body.reasons).toEqual([expect.objectContaining({ field: 'use', rule: 'key.use-not-allowed' })]);
        const privatePem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
        const leaked = await addKey({ algorithm: 'Ed25519', use: 'signature', publicKeyPem: privatePem }).expect(400);
        expect(leaked.body.reasons).toEqual([expect.objectContaining({ rule: 'key.not-public' })]);
        expect(JSON.stringify(leaked.body)).not.toContain(privatePem.split('\n')[1]);
        const garbage = await addKey({ algorithm: 'Ed25519', use: 'signature', publicKeyPem: 'hello' }).expect(400);
        expect(garbage.body.reasons).toEqual([expect.objectContaining({ field: 'publicKeyPem', rule: 'key.unparsable' })]);
        const alg = await addKey({ algorithm: 'DSA', use: 'signature', publicKeyPem: 'x' }).expect(400);
        expect(alg.body.violations).toEqual([expect.objectContaining({ field: 'algorithm', rule: 'isIn' })]);
        const noReason = await http().delete(`/parties/${partyId}/keys/${NOBODY}`).send({}).expect(400);
        expect(noReason.body.violations.map((v: { field: string }) => v.field)).toContain('reason');
        await http().delete(`/parties/${partyId}/keys/${NOBODY}`).send({ reason: 'lost' }).expect(404);
      });
    });
  });

  describe('processing operator specification', () => {
    let operatorId: string;
    const seal = { step: 'seal', parameters: { algorithm: { type: 'string', allowed: ['Ed25519'], required: true } }, maxDurationSeconds: 60 };
    beforeAll(async () => {
      operatorId = await register({ kind: 'operator', operatorRole: 'processing', displayName: 'Sceau Express' });
    });
    /** An admin registers operators' specifications. */
    const putSpec = (body: object, partyId = operatorId) => http(admin).put(`/parties/${partyId}/specification`).send(body);

    it('registers a specification, then a higher version; operators offering a step are found', async () => {
      await putSpec({ version: 1, steps: [seal] }).expect(200);
      const v2 = { version: 2, steps: [seal, { step: 'deliver', parameters: {}, maxDurationSeconds: 3600 }] };
      expect((await putSpec(v2).expect(200)).body).toMatchObject({ version: 2, changed: true });
      expect((await writesNothing(async () => putSpec(v2).expect(200))).body).toMatchObject({ changed: false });
      const stale = await putSpec({ version: 2, steps: [seal] }).expect(409);
      expect(stale.body.reasons).toEqual([expect.objectContaining({ field: 'version', rule: 'version.not-increasing' })]);

      const found = await eventually(async () => {
        const body = (await http().get('/parties').query({ step: 'deliver', q: 'sceau' }).expect(200)).body;
        expect(body.items).toHaveLength(1);
        return body;
      }, 20_000);
      expect(found).toMatchObject({ total: 1, limit: 20, offset: 0, items: [{ partyId: operatorId, operatorRole: 'processing', steps: ['seal', 'deliver'] }] });
      const view = (await http().get(`/parties/${operatorId}`).expect(200)).body;
      expect(view.specification).toMatchObject({ version: 2, steps: [seal, expect.objectContaining({ step: 'deliver' })] });
    });

    it('refuses malformed specifications with the field and the rule, and writes nothing', async () => {
      await writesNothing(async () => {
        const cases: [object, string, string, 'violations' | 'reasons'][] = [
          [{ version: 0, steps: [seal] }, 'version', 'min', 'violations'],
          [{ version: 3, steps: [] }, 'steps', 'arrayNotEmpty', 'violations'],
          [{ version: 3, steps: [{ ...seal, step: 'shred' }] }, 'steps.0.step', 'isIn', 'violations'],
          [{ version: 3, steps: [{ ...seal, maxDurationSeconds: 31 * 86400 }] }, 'steps.0.maxDurationSeconds', 'max', 'violations'],
          [{ version: 3, steps: [{ ...seal, extra: true }] }, 'steps.0.extra', 'whitelist', 'violations'],
          [{ version: 3, steps: [seal, seal] }, 'steps[1].step', 'step.duplicate', 'reasons'],
          [{ version: 3, steps: [{ ...seal, parameters: { level: { type: 'date' } } }] }, 'steps[0].parameters.level.type', 'parameter.type', 'reasons'],
          [
            { version: 3, steps: [{ ...seal, parameters: { n: { type: 'number', min: 9, max: 1 } } }] },
            'steps[0].parameters.n.min',
            'parameter.range',
            'reasons',
          ],
        ];
        for (const [body, field, rule, where] of cases) {
          const refused = await putSpec(body).expect(400);
          expect(refused.body[where]).toContainEqual(expect.objectContaining({ field, rule }));
        }
      });
    });

    it('refuses a specification for a party that is not a processing operator', async () => {
      const gatewayId = await register({ kind: 'operator', operatorRole: 'gateway', displayName: 'Not a processor' });
      const refused = await writesNothing(async () => putSpec({ version: 1, steps: [seal] }, gatewayId).expect(409));
      expect(refused.body).toMatchObject({ code: 'DIRECTORY.NOT_A_PROCESSING_OPERATOR' });
    });
  });

  describe('search', () => {
    it('finds counterparts by display name, validates its query', async () => {
      const id = await register({ kind: 'organisation', displayName: 'Étude Notariale Lefèvre' });
      const found = await eventually(async () => {
        const body = (await http().get('/parties').query({ q: 'notariale lefevre', kind: 'organisation' }).expect(200)).body;
        expect(body.items.map((p: { partyId: string }) => p.partyId)).toEqual([id]);
        return body;
      }, 20_000);
      expect(found.items[0]).toEqual({ partyId: id, kind: 'organisation', operatorRole: null, displayName: 'Étude Notariale Lefèvre', steps: [] });
      const page = (await http().get('/parties').query({ limit: 2, offset: 1 }).expect(200)).body;
      expect(page.items).toHaveLength(2);
      expect(page.total).toBeGreaterThan(3);
      const bad = await http().get('/parties').query({ kind: 'robot', limit: 500, step: 'shred', admin: 1 }).expect(400);
      expect(bad.body.violations.map((v: { field: string; rule: string }) => `${v.field}:${v.rule}`)).toEqual(
        expect.arrayContaining(['kind:isIn', 'limit:max', 'step:isIn', 'admin:whitelist']),
      );
    });
  });
});
