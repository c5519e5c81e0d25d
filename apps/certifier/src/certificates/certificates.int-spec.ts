import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Global, type INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  CA_CATEGORY,
  CLOCK,
  type Clock,
  ID_GENERATOR,
  type KeyAlgorithm,
  PARTY_CATEGORY,
  type PartyEvent,
  type PendingEvent,
  streamIdOf,
} from '@sigillum/contracts';
import { type CertificateAuthority, FileKeyStore, generateKeyPair } from '@sigillum/crypto';
import { EVENT_STORE, SqliteEventStore } from '@sigillum/eventstore';
import { JsonErrorFilter, KEY_STORE, strictValidationPipe, uuidGenerator } from '@sigillum/runtime';
import request from 'supertest';
import { CertificatesModule } from './certificates.module';
import { CERTIFICATION_AUTHORITY } from './certification-authority.provider';

const OPENSSL = '/usr/bin/openssl';
const PASSPHRASE = 'integration passphrase';
const start = new Date('2026-11-25T08:00:00.000Z');

function openssl(args: string[]): { status: number; out: string } {
  const result = spawnSync(OPENSSL, args, { encoding: 'utf8' });
  return { status: result.status ?? -1, out: `${result.stdout}${result.stderr}` };
}

describe('CertificatesModule over HTTP (real SQLite event store, real keystore, openssl)', () => {
  let dir: string;
  let store: SqliteEventStore;
  let keystore: FileKeyStore;
  let app: INestApplication;
  let current = start;
  const clock: Clock = { now: () => current };

  async function boot(): Promise<INestApplication> {
    @Global()
    @Module({
      providers: [
        { provide: EVENT_STORE, useValue: store },
        { provide: KEY_STORE, useValue: keystore },
        { provide: CLOCK, useValue: clock },
        { provide: ID_GENERATOR, useValue: uuidGenerator },
      ],
      exports: [EVENT_STORE, KEY_STORE, CLOCK, ID_GENERATOR],
    })
    class TestInfrastructure {}

    const moduleRef = await Test.createTestingModule({ imports: [TestInfrastructure, CertificatesModule] }).compile();
    const nest = moduleRef.createNestApplication({ logger: false });
    nest.useGlobalPipes(strictValidationPipe());
    nest.useGlobalFilters(new JsonErrorFilter());
    await nest.init();
    return nest;
  }

  function pending(event: PartyEvent): PendingEvent {
    const id = randomUUID();
    return { event, metadata: { eventId: id, correlationId: id, causationId: id, occurredAt: start.toISOString(), source: '/sigillum/directory' } };
  }

  async function registerParty(displayName: string, keys: { algorithm: KeyAlgorithm; use: 'signature' | 'encryption' }[]) {
    const partyId = randomUUID();
    const at = start.toISOString();
    const generated = keys.map((key) => ({ ...key, keyId: randomUUID(), pair: generateKeyPair(key.algorithm) }));
    const events: PartyEvent[] = [
      { type: 'PartyRegistered', version: 1, data: { partyId, kind: 'organisation', displayName, registeredAt: at } },
      ...generated.map(
        (key): PartyEvent => ({
          type: 'PublicKeyRegistered',
          version: 1,
          data: { partyId, keyId: key.keyId, algorithm: key.algorithm, use: key.use, publicKeyPem: key.pair.publicKeyPem, fingerprint: key.pair.fingerprint, registeredAt: at },
        }),
      ),
    ];
    await store.append(streamIdOf(PARTY_CATEGORY, partyId), events.map(pending), 'no-stream');
    return { partyId, keys: generated };
  }

  async function revokeKey(partyId: string, keyId: string) {
    await store.append(
      streamIdOf(PARTY_CATEGORY, partyId),
      [pending({ type: 'PublicKeyRevoked', version: 1, data: { partyId, keyId, reason: 'compromised', revokedAt: start.toISOString() } })],
      'stream-exists',
    );
  }

  function writeFile(name: string, content: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-certificates-'));
    store = new SqliteEventStore({ filename: path.join(dir, 'events.db') });
    keystore = FileKeyStore.open({ directory: path.join(dir, 'keys'), passphrase: PASSPHRASE });
    app = await boot();
  });

  afterAll(async () => {
    await app?.close();
    await store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('records the CA at first start, once, and serves its certificate as PEM', async () => {
    const ca = app.get<CertificateAuthority>(CERTIFICATION_AUTHORITY);
    const recorded = await store.readStream(streamIdOf(CA_CATEGORY, ca.caId));
    expect(recorded.map((r) => r.event)).toEqual([
      {
        type: 'CertificationAuthorityEstablished',
        version: 1,
        data: {
          caId: ca.caId,
          subject: 'CN=Sigillum Certifier CA,O=Sigillum',
          certificatePem: ca.caCertificatePem,
          fingerprint: ca.fingerprint,
          notBefore: start.toISOString(),
          notAfter: ca.notAfter,
          establishedAt: start.toISOString(),
        },
      },
    ]);
    expect(recorded[0].metadata.source).toBe('/sigillum/certifier');
    expect(JSON.stringify(recorded.map((r) => r.event))).not.toMatch(/PRIVATE KEY/);

    const response = await request(app.getHttpServer()).get('/ca/certificate').expect(200);
    expect(response.headers['content-type']).toMatch(/^application\/x-pem-file/);
    expect(response.text).toBe(ca.caCertificatePem);
  });

  it('keeps the same CA across a restart and records nothing more', async () => {
    const before = app.get<CertificateAuthority>(CERTIFICATION_AUTHORITY);
    current = new Date('2026-11-26T08:00:00.000Z');
    const second = await boot();
    try {
      const after = second.get<CertificateAuthority>(CERTIFICATION_AUTHORITY);
      expect(after.caCertificatePem).toBe(before.caCertificatePem);
      expect(await store.readStream(streamIdOf(CA_CATEGORY, after.caId))).toHaveLength(1);
    } finally {
      await second.close();
      current = start;
    }
  });

  it('issues certificates for registered keys that openssl verifies against GET /ca/certificate', async () => {
    const { partyId, keys } = await registerParty('Acme Registered Mail', [
      { algorithm: 'Ed25519', use: 'signature' },
      { algorithm: 'RSA', use: 'signature' },
      { algorithm: 'X25519', use: 'encryption' },
    ]);
    const caFile = writeFile('ca.pem', (await request(app.getHttpServer()).get('/ca/certificate').expect(200)).text);
    const attime = ['-attime', String(start.getTime() / 1000 + 60)];
    const cases = [
      { key: keys[0], profile: 'signing', purpose: [] as string[] },
      { key: keys[1], profile: 'tsa', purpose: ['-purpose', 'timestampsign'] },
      { key: keys[2], profile: 'encryption', purpose: [] as string[] },
    ];
    for (const { key, profile, purpose } of cases) {
      const response = await request(app.getHttpServer()).post('/certificates').send({ partyId, keyId: key.keyId, profile }).expect(201);
      const body = response.body;
      expect(body).toMatchObject({
        partyId,
        keyId: key.keyId,
        profile,
        status: 'valid',
        subject: `CN=Acme Registered Mail,OU=${partyId}`,
        issuer: 'CN=Sigillum Certifier CA,O=Sigillum',
        notBefore: start.toISOString(),
        notAfter: '2027-11-25T08:00:00.000Z',
        issuedAt: start.toISOString(),
        revokedAt: null,
      });
      expect(body.certificateId).toMatch(/^[0-9a-f-]{36}$/);
      const leaf = writeFile(`${profile}.pem`, body.certificatePem);
      expect(openssl(['verify', ...attime, ...purpose, '-CAfile', caFile, leaf])).toEqual({ status: 0, out: `${leaf}: OK\n` });
      expect(openssl(['x509', '-in', leaf, '-noout', '-pubkey']).out).toBe(key.pair.publicKeyPem);

      const recorded = await store.readStream(`certificate-${body.certificateId}`);
      expect(recorded.map((r) => r.event.type)).toEqual(['CertificateIssued']);
      expect(JSON.stringify(recorded.map((r) => r.event))).not.toMatch(/PRIVATE KEY/);

      const fetched = await request(app.getHttpServer()).get(`/certificates/${body.certificateId}`).expect(200);
      const { profile: _omitted, ...withoutProfile } = body;
      expect(fetched.body).toEqual(withoutProfile);
    }
  });

  it('honours validityDays', async () => {
    const { partyId, keys } = await registerParty('Short Lived', [{ algorithm: 'Ed25519', use: 'signature' }]);
    const response = await request(app.getHttpServer())
      .post('/certificates')
      .send({ partyId, keyId: keys[0].keyId, profile: 'signing', validityDays: 7 })
      .expect(201);
    expect(response.body.notAfter).toBe('2026-12-02T08:00:00.000Z');
  });

  it('answers 404 for an unknown party or key, and writes nothing', async () => {
    const { partyId } = await registerParty('No Keys', []);
    const certificatesBefore = (await store.readAll()).filter((r) => r.streamId.startsWith('certificate-')).length;
    const unknownParty = await request(app.getHttpServer())
      .post('/certificates')
      .send({ partyId: randomUUID(), keyId: randomUUID(), profile: 'signing' })
      .expect(404);
    expect(unknownParty.body).toMatchObject({ statusCode: 404, code: 'CERTIFIER.PARTY_NOT_FOUND' });
    const unknownKey = await request(app.getHttpServer()).post('/certificates').send({ partyId, keyId: randomUUID(), profile: 'signing' }).expect(404);
    expect(unknownKey.body).toMatchObject({ statusCode: 404, code: 'CERTIFIER.KEY_NOT_FOUND', reasons: [{ rule: 'key.unknown', partyId }] });
    expect((await store.readAll()).filter((r) => r.streamId.startsWith('certificate-'))).toHaveLength(certificatesBefore);
  });

  it('answers 409 for a revoked key and 400 for a key unfit for the profile', async () => {
    const { partyId, keys } = await registerParty('Revoked Co', [
      { algorithm: 'Ed25519', use: 'signature' },
      { algorithm: 'X25519', use: 'encryption' },
    ]);
    await revokeKey(partyId, keys[0].keyId);
    const revoked = await request(app.getHttpServer()).post('/certificates').send({ partyId, keyId: keys[0].keyId, profile: 'signing' }).expect(409);
    expect(revoked.body).toMatchObject({ statusCode: 409, code: 'CERTIFIER.KEY_REVOKED', reasons: [{ rule: 'key.revoked', partyId }] });
    const unfit = await request(app.getHttpServer()).post('/certificates').send({ partyId, keyId: keys[1].keyId, profile: 'tsa' }).expect(400);
    expect(unfit.body).toMatchObject({ statusCode: 400, code: 'CERTIFIER.KEY_PROFILE_MISMATCH', reasons: [{ rule: 'key.profile' }] });
  });

  it('refuses bad input with 400 naming the field and rule', async () => {
    const server = app.getHttpServer();
    const cases: [Record<string, unknown>, string, string][] = [
      [{ keyId: randomUUID(), profile: 'signing' }, 'partyId', 'isUuid'],
      [{ partyId: 'p1', keyId: randomUUID(), profile: 'signing' }, 'partyId', 'isUuid'],
      [{ partyId: randomUUID(), keyId: randomUUID(), profile: 'ssl' }, 'profile', 'isIn'],
      [{ partyId: randomUUID(), keyId: randomUUID(), profile: 'signing', validityDays: 0 }, 'validityDays', 'min'],
      [{ partyId: randomUUID(), keyId: randomUUID(), profile: 'signing', validityDays: 5000 }, 'validityDays', 'max'],
      [{ partyId: randomUUID(), keyId: randomUUID(), profile: 'signing', admin: true }, 'admin', 'whitelist'],
    ];
    for (const [body, field, rule] of cases) {
      const response = await request(server).post('/certificates').send(body).expect(400);
      expect(response.body.violations).toEqual(expect.arrayContaining([expect.objectContaining({ field, rule })]));
    }
    await request(server).get('/certificates/not-a-uuid').expect(400);
  });

  it('answers 404 for an unknown certificate', async () => {
    const response = await request(app.getHttpServer()).get(`/certificates/${randomUUID()}`).expect(404);
    expect(response.body).toMatchObject({ code: 'CERTIFIER.CERTIFICATE_NOT_FOUND' });
  });

  it('applies CertificatesModule.withOptions', async () => {
    const otherDir = path.join(dir, 'other-ca-keys');
    @Global()
    @Module({
      providers: [
        { provide: EVENT_STORE, useValue: store },
        { provide: KEY_STORE, useValue: FileKeyStore.open({ directory: otherDir, passphrase: PASSPHRASE }) },
        { provide: CLOCK, useValue: clock },
        { provide: ID_GENERATOR, useValue: uuidGenerator },
      ],
      exports: [EVENT_STORE, KEY_STORE, CLOCK, ID_GENERATOR],
    })
    class OtherInfrastructure {}
    const moduleRef = await Test.createTestingModule({
      imports: [OtherInfrastructure, CertificatesModule.withOptions({ caCommonName: 'Other CA', caOrganisation: 'Other Org' })],
    }).compile();
    const nest = moduleRef.createNestApplication({ logger: false });
    await nest.init();
    try {
      expect(nest.get<CertificateAuthority>(CERTIFICATION_AUTHORITY).subject).toBe('CN=Other CA,O=Other Org');
    } finally {
      await nest.close();
    }
  });
});
