import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Global, type INestApplication, Module } from '@nestjs/common';
import Database from 'better-sqlite3';
import { Test } from '@nestjs/testing';
import { AuthenticatorRegistry, AuthModule } from '@sigillum/auth';
import { loadConfig } from '@sigillum/config';
import {
  CA_CATEGORY,
  CERTIFICATE_CATEGORY,
  CLOCK,
  type Clock,
  ID_GENERATOR,
  type KeyAlgorithm,
  messageFromRecordedEvent,
  PARTY_CATEGORY,
  type PartyEvent,
  type PendingEvent,
  streamIdOf,
  Topics,
} from '@sigillum/contracts';
import { type CertificateAuthority, FileKeyStore, generateKeyPair } from '@sigillum/crypto';
import { EVENT_STORE, SqliteEventStore } from '@sigillum/eventstore';
import { JsonErrorFilter, KEY_STORE, LOCAL_DB, SIGILLUM_CONFIG, strictValidationPipe, uuidGenerator } from '@sigillum/runtime';
import { adminCredentialOf, bearer } from '@sigillum/testing';
import request from 'supertest';
// The directory's staff credentials (and the first-start admin credential under DATA_DIR), as a process running the
// directory has them: the staff the certificate routes need.
import { StaffModule } from '../../../directory/src/staff/staff.module';
import { CertificatesModule } from './certificates.module';
import { CERTIFICATION_AUTHORITY } from './certification-authority.provider';
import { RevokedCertificates } from './revoked-certificates';

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
  let localDb: Database.Database;
  let app: INestApplication;
  let current = start;
  const clock: Clock = { now: () => current };

  async function boot(): Promise<INestApplication> {
    @Global()
    @Module({
      providers: [
        { provide: EVENT_STORE, useValue: store },
        { provide: KEY_STORE, useValue: keystore },
        { provide: LOCAL_DB, useValue: localDb },
        { provide: CLOCK, useValue: clock },
        { provide: ID_GENERATOR, useValue: uuidGenerator },
        { provide: SIGILLUM_CONFIG, useValue: loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'error' }) },
      ],
      exports: [EVENT_STORE, KEY_STORE, LOCAL_DB, CLOCK, ID_GENERATOR, SIGILLUM_CONFIG],
    })
    class TestInfrastructure {}

    const moduleRef = await Test.createTestingModule({ imports: [TestInfrastructure, AuthModule, StaffModule, CertificatesModule] }).compile();
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
      ...generated.map((key): PartyEvent => ({
        type: 'PublicKeyRegistered',
        version: 1,
        data: {
          partyId,
          keyId: key.keyId,
          algorithm: key.algorithm,
          use: key.use,
          publicKeyPem: key.pair.publicKeyPem,
          fingerprint: key.pair.fingerprint,
          registeredAt: at,
        },
      })),
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

  /** The first-start admin (who issues and revokes certificates) and an auditor (who may only read them). */
  let admin: Record<string, string>;
  let auditor: Record<string, string>;
  const anonymous = () => request(app.getHttpServer());
  /** Requests as `who` (the admin unless told). */
  const http = (who = admin) => {
    const agent = anonymous();
    return {
      get: (url: string) => agent.get(url).set(who),
      post: (url: string) => agent.post(url).set(who),
    };
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-certificates-'));
    store = new SqliteEventStore({ filename: path.join(dir, 'events.db') });
    keystore = FileKeyStore.open({ directory: path.join(dir, 'keys'), passphrase: PASSPHRASE });
    localDb = new Database(path.join(dir, 'local.db'));
    app = await boot();
    admin = bearer(adminCredentialOf(dir));
    const issued = await anonymous()
      .post('/staff/credentials')
      .set(admin)
      .send({ subject: 'auditor-1', roles: ['auditor'] })
      .expect(201);
    auditor = bearer(issued.body.credential);
  });

  afterAll(async () => {
    await app?.close();
    await store?.close();
    localDb?.close();
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

    const response = await anonymous().get('/ca/certificate').expect(200);
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
    const caFile = writeFile('ca.pem', (await anonymous().get('/ca/certificate').expect(200)).text);
    const attime = ['-attime', String(start.getTime() / 1000 + 60)];
    const cases = [
      { key: keys[0], profile: 'signing', purpose: [] as string[] },
      { key: keys[1], profile: 'tsa', purpose: ['-purpose', 'timestampsign'] },
      { key: keys[2], profile: 'encryption', purpose: [] as string[] },
    ];
    for (const { key, profile, purpose } of cases) {
      const response = await http().post('/certificates').send({ partyId, keyId: key.keyId, profile }).expect(201);
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

      const fetched = await http().get(`/certificates/${body.certificateId}`).expect(200);
      const { profile: _omitted, ...withoutProfile } = body;
      expect(fetched.body).toEqual(withoutProfile);
    }
  });

  it('issues a TLS client certificate (profile client) named by the party id, its serial the certificate id, that the machine authenticator maps', async () => {
    const { partyId, keys } = await registerParty('Acme Processing', [
      { algorithm: 'Ed25519', use: 'signature' },
      { algorithm: 'X25519', use: 'encryption' },
    ]);
    const caFile = writeFile('ca-client.pem', (await anonymous().get('/ca/certificate').expect(200)).text);
    const body = (await http().post('/certificates').send({ partyId, keyId: keys[0].keyId, profile: 'client' }).expect(201)).body;
    expect(body).toMatchObject({ partyId, profile: 'client', status: 'valid', subject: `CN=${partyId},O=Acme Processing` });
    expect(body.serialNumber.replace(/^0+/, '')).toBe(body.certificateId.replace(/-/g, '').replace(/^0+/, ''));
    const leaf = writeFile('client.pem', body.certificatePem);
    const attime = ['-attime', String(start.getTime() / 1000 + 60)];
    expect(openssl(['verify', ...attime, '-purpose', 'sslclient', '-CAfile', caFile, leaf])).toEqual({ status: 0, out: `${leaf}: OK\n` });
    const machines = app.get(AuthenticatorRegistry).machines!;
    const presented = { serialNumber: body.serialNumber, subjectCommonName: partyId, fingerprint256: body.fingerprint };
    await expect(machines.authenticate(presented)).resolves.toEqual({ kind: 'machine', partyId, certificateSerial: body.serialNumber });
    await http().post(`/certificates/${body.certificateId}/revocation`).send({ reason: 'operator left' }).expect(200);
    await expect(machines.authenticate(presented)).rejects.toMatchObject({ rule: 'machine.certificate-revoked' });
    // An encryption key cannot carry a client certificate.
    const refused = await http().post('/certificates').send({ partyId, keyId: keys[1].keyId, profile: 'client' }).expect(400);
    expect(refused.body.reasons).toEqual([expect.objectContaining({ rule: 'key.profile' })]);
  });

  it('honours validityDays', async () => {
    const { partyId, keys } = await registerParty('Short Lived', [{ algorithm: 'Ed25519', use: 'signature' }]);
    const response = await http().post('/certificates').send({ partyId, keyId: keys[0].keyId, profile: 'signing', validityDays: 7 }).expect(201);
    expect(response.body.notAfter).toBe('2026-12-02T08:00:00.000Z');
  });

  it('answers 404 for an unknown party or key, and writes nothing', async () => {
    const { partyId } = await registerParty('No Keys', []);
    const certificatesBefore = (await store.readAll()).filter((r) => r.streamId.startsWith('certificate-')).length;
    const unknownParty = await http().post('/certificates').send({ partyId: randomUUID(), keyId: randomUUID(), profile: 'signing' }).expect(404);
    expect(unknownParty.body).toMatchObject({ statusCode: 404, code: 'CERTIFIER.PARTY_NOT_FOUND' });
    const unknownKey = await http().post('/certificates').send({ partyId, keyId: randomUUID(), profile: 'signing' }).expect(404);
    expect(unknownKey.body).toMatchObject({ statusCode: 404, code: 'CERTIFIER.KEY_NOT_FOUND', reasons: [{ rule: 'key.unknown', partyId }] });
    expect((await store.readAll()).filter((r) => r.streamId.startsWith('certificate-'))).toHaveLength(certificatesBefore);
  });

  it('answers 409 for a revoked key and 400 for a key unfit for the profile', async () => {
    const { partyId, keys } = await registerParty('Revoked Co', [
      { algorithm: 'Ed25519', use: 'signature' },
      { algorithm: 'X25519', use: 'encryption' },
    ]);
    await revokeKey(partyId, keys[0].keyId);
    const revoked = await http().post('/certificates').send({ partyId, keyId: keys[0].keyId, profile: 'signing' }).expect(409);
    expect(revoked.body).toMatchObject({ statusCode: 409, code: 'CERTIFIER.KEY_REVOKED', reasons: [{ rule: 'key.revoked', partyId }] });
    const unfit = await http().post('/certificates').send({ partyId, keyId: keys[1].keyId, profile: 'tsa' }).expect(400);
    expect(unfit.body).toMatchObject({ statusCode: 400, code: 'CERTIFIER.KEY_PROFILE_MISMATCH', reasons: [{ rule: 'key.profile' }] });
  });

  it('refuses bad input with 400 naming the field and rule', async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ keyId: randomUUID(), profile: 'signing' }, 'partyId', 'isUuid'],
      [{ partyId: 'p1', keyId: randomUUID(), profile: 'signing' }, 'partyId', 'isUuid'],
      [{ partyId: randomUUID(), keyId: randomUUID(), profile: 'ssl' }, 'profile', 'isIn'],
      [{ partyId: randomUUID(), keyId: randomUUID(), profile: 'signing', validityDays: 0 }, 'validityDays', 'min'],
      [{ partyId: randomUUID(), keyId: randomUUID(), profile: 'signing', validityDays: 5000 }, 'validityDays', 'max'],
      [{ partyId: randomUUID(), keyId: randomUUID(), profile: 'signing', admin: true }, 'admin', 'whitelist'],
    ];
    for (const [body, field, rule] of cases) {
      const response = await http().post('/certificates').send(body).expect(400);
      expect(response.body.violations).toEqual(expect.arrayContaining([expect.objectContaining({ field, rule })]));
    }
    await http().get('/certificates/not-a-uuid').expect(400);
  });

  it('answers 404 for an unknown certificate', async () => {
    const response = await http().get(`/certificates/${randomUUID()}`).expect(404);
    expect(response.body).toMatchObject({ code: 'CERTIFIER.CERTIFICATE_NOT_FOUND' });
  });

  it('issues and revokes for an admin only: 401 anonymous, 403 to an auditor, who may read a certificate; nothing written', async () => {
    const { partyId, keys } = await registerParty('Guarded Co', [{ algorithm: 'Ed25519', use: 'signature' }]);
    const certificate = (await http().post('/certificates').send({ partyId, keyId: keys[0].keyId, profile: 'signing' }).expect(201)).body;
    const before = (await store.readAll()).length;

    const anonymousIssue = await anonymous().post('/certificates').send({ partyId, keyId: keys[0].keyId, profile: 'signing' }).expect(401);
    expect(anonymousIssue.body).toMatchObject({ code: 'ACCESS.UNAUTHENTICATED', reasons: [expect.objectContaining({ rule: 'access.unauthenticated' })] });
    expect(anonymousIssue.headers['www-authenticate']).toMatch(/^Bearer/);
    await anonymous().post(`/certificates/${certificate.certificateId}/revocation`).send({ reason: 'key compromise' }).expect(401);
    await anonymous().get(`/certificates/${certificate.certificateId}`).expect(401);

    const auditorIssue = await http(auditor).post('/certificates').send({ partyId, keyId: keys[0].keyId, profile: 'signing' }).expect(403);
    expect(auditorIssue.body).toMatchObject({
      code: 'ACCESS.FORBIDDEN',
      reasons: [expect.objectContaining({ rule: 'access.role', message: expect.stringContaining('admin') })],
    });
    await http(auditor).post(`/certificates/${certificate.certificateId}/revocation`).send({ reason: 'key compromise' }).expect(403);
    expect((await http(auditor).get(`/certificates/${certificate.certificateId}`).expect(200)).body).toMatchObject({
      certificateId: certificate.certificateId,
      status: 'valid',
    });

    expect((await store.readAll()).length).toBe(before);
    expect(app.get(RevokedCertificates).isRevoked(certificate.fingerprint)).toBe(false);
  });

  describe('revocation', () => {
    async function issuedCertificate(name: string) {
      const { partyId, keys } = await registerParty(name, [{ algorithm: 'Ed25519', use: 'signature' }]);
      const response = await http().post('/certificates').send({ partyId, keyId: keys[0].keyId, profile: 'signing' }).expect(201);
      return response.body as { certificateId: string; fingerprint: string; partyId: string };
    }
    const eventsOf = async (certificateId: string) => (await store.readStream(streamIdOf(CERTIFICATE_CATEGORY, certificateId))).map((r) => r.event);

    it('revokes a certificate: 200 with revokedAt and the reason, CertificateRevoked recorded, the index knows it at once', async () => {
      const certificate = await issuedCertificate('Revocable Co');
      const index = app.get(RevokedCertificates);
      expect(index.isRevoked(certificate.fingerprint)).toBe(false);
      current = new Date('2026-11-27T10:00:00.000Z');
      try {
        const response = await http().post(`/certificates/${certificate.certificateId}/revocation`).send({ reason: 'key compromise' }).expect(200);
        expect(response.body).toMatchObject({
          certificateId: certificate.certificateId,
          fingerprint: certificate.fingerprint,
          status: 'revoked',
          revokedAt: '2026-11-27T10:00:00.000Z',
          revocationReason: 'key compromise',
        });
      } finally {
        current = start;
      }
      expect(await eventsOf(certificate.certificateId)).toEqual([
        expect.objectContaining({ type: 'CertificateIssued' }),
        {
          type: 'CertificateRevoked',
          version: 1,
          data: { certificateId: certificate.certificateId, reason: 'key compromise', revokedAt: '2026-11-27T10:00:00.000Z' },
        },
      ]);
      expect(index.isRevoked(certificate.fingerprint)).toBe(true);
      const fetched = await http().get(`/certificates/${certificate.certificateId}`).expect(200);
      expect(fetched.body).toMatchObject({ status: 'revoked', revokedAt: '2026-11-27T10:00:00.000Z', revocationReason: 'key compromise' });
      // Kept in the local SQLite file: a process started afterwards knows it before any event reaches it.
      expect(new RevokedCertificates(localDb).isRevoked(certificate.fingerprint)).toBe(true);
    });

    it('is idempotent: revoking a revoked certificate answers the first revocation, 200, and records nothing', async () => {
      const certificate = await issuedCertificate('Twice Revoked Co');
      const first = await http().post(`/certificates/${certificate.certificateId}/revocation`).send({ reason: 'superseded' }).expect(200);
      current = new Date('2026-11-28T10:00:00.000Z');
      try {
        const second = await http().post(`/certificates/${certificate.certificateId}/revocation`).send({ reason: 'another reason' }).expect(200);
        expect(second.body).toEqual(first.body);
        expect(second.body).toMatchObject({ revokedAt: start.toISOString(), revocationReason: 'superseded' });
      } finally {
        current = start;
      }
      expect((await eventsOf(certificate.certificateId)).map((event) => event.type)).toEqual(['CertificateIssued', 'CertificateRevoked']);
    });

    it('answers 404 for an unknown certificate, and writes nothing', async () => {
      const certificateId = randomUUID();
      const response = await http().post(`/certificates/${certificateId}/revocation`).send({ reason: 'key compromise' }).expect(404);
      expect(response.body).toMatchObject({ statusCode: 404, code: 'CERTIFIER.CERTIFICATE_NOT_FOUND' });
      expect(await eventsOf(certificateId)).toEqual([]);
    });

    it('refuses bad input with 400 naming the field and rule, and writes nothing', async () => {
      const certificate = await issuedCertificate('Badly Revoked Co');
      const cases: [Record<string, unknown>, string, string][] = [
        [{}, 'reason', 'isString'],
        [{ reason: '' }, 'reason', 'minLength'],
        [{ reason: 'x'.repeat(301) }, 'reason', 'maxLength'],
        [{ reason: 42 }, 'reason', 'isString'],
        [{ reason: 'key compromise', revokedAt: '2020-01-01T00:00:00.000Z' }, 'revokedAt', 'whitelist'],
      ];
      for (const [body, field, rule] of cases) {
        const response = await http().post(`/certificates/${certificate.certificateId}/revocation`).send(body).expect(400);
        expect(response.body.violations).toEqual(expect.arrayContaining([expect.objectContaining({ field, rule })]));
      }
      await http().post('/certificates/not-a-uuid/revocation').send({ reason: 'key compromise' }).expect(400);
      expect((await eventsOf(certificate.certificateId)).map((event) => event.type)).toEqual(['CertificateIssued']);
      expect(app.get(RevokedCertificates).isRevoked(certificate.fingerprint)).toBe(false);
      // 300 characters is the limit, not beyond it.
      await http()
        .post(`/certificates/${certificate.certificateId}/revocation`)
        .send({ reason: 'x'.repeat(300) })
        .expect(200);
    });

    it('a process that did not record the revocation learns it from the certificate events, once however often delivered', async () => {
      const certificate = await issuedCertificate('Remotely Revoked Co');
      await http().post(`/certificates/${certificate.certificateId}/revocation`).send({ reason: 'accreditation withdrawn' }).expect(200);
      const elsewhere = new Database(':memory:');
      try {
        const index = new RevokedCertificates(elsewhere);
        const recorded = await store.readStream(streamIdOf(CERTIFICATE_CATEGORY, certificate.certificateId));
        const messages = recorded.map((event, offset) => ({
          ...messageFromRecordedEvent(event, () => Topics.eventsOf(CERTIFICATE_CATEGORY)),
          partition: 0,
          offset: String(offset),
        }));
        expect(index.apply(messages[0])).toBe(true);
        expect(index.isRevoked(certificate.fingerprint)).toBe(false);
        expect(index.apply(messages[1])).toBe(true);
        expect(index.isRevoked(certificate.fingerprint)).toBe(true);
        // Redelivered: nothing applied twice, still revoked.
        expect(index.apply(messages[1])).toBe(false);
        expect(index.apply(messages[0])).toBe(false);
        expect(index.isRevoked(certificate.fingerprint)).toBe(true);
        expect(index.size).toBe(1);
      } finally {
        elsewhere.close();
      }
    });
  });

  it('applies CertificatesModule.withOptions', async () => {
    const otherDir = path.join(dir, 'other-ca-keys');
    @Global()
    @Module({
      providers: [
        { provide: EVENT_STORE, useValue: store },
        { provide: KEY_STORE, useValue: FileKeyStore.open({ directory: otherDir, passphrase: PASSPHRASE }) },
        { provide: LOCAL_DB, useValue: localDb },
        { provide: CLOCK, useValue: clock },
        { provide: ID_GENERATOR, useValue: uuidGenerator },
      ],
      exports: [EVENT_STORE, KEY_STORE, LOCAL_DB, CLOCK, ID_GENERATOR],
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
