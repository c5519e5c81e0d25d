import { spawnSync } from 'node:child_process';
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type INestApplication, Module } from '@nestjs/common';
import { deadLetterInfoOf, EVENT_BUS, type EventBus } from '@sigillum/bus';
import { loadConfig } from '@sigillum/config';
import {
  CA_CATEGORY,
  CERTIFICATE_CATEGORY,
  CHAIN_CATEGORY,
  type CertificationToken,
  type ChainStarted,
  CORRESPONDENCE_CATEGORY,
  JOB_CATEGORY,
  type JobEvent,
  PARTY_CATEGORY,
  type StepReport,
  streamIdOf,
  type SubmissionRequested,
  Topics,
} from '@sigillum/contracts';
import { canonicalize, CertificateAuthority, FileKeyStore, verifyJws, verifyJwsDetached, verifyTimeStampToken } from '@sigillum/crypto';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp, type RoleSpec } from '@sigillum/runtime';
import { baseUrlOf, bearer, eventually, issueStaffToken, kafkaAppEnv, kafkaBrokers, MovableClock, reportSkippedKafka } from '@sigillum/testing';
import { pendingEvent } from '@sigillum/testing/events';
import request from 'supertest';
import { type CertifierSigner, loadCertifierSigner } from '../../certifier/src/signing/certifier-signer';
// The directory issues and checks the staff credentials the admin and the ops engineer call with.
import { directoryRole } from '../../directory/src/directory.role';
import { DEFAULT_TSA_POLICY_OID } from './processor.config';
import { processorRole } from './processor.role';
import type { HostedOperatorView } from './operators/operators.service';
import type { ArchivePackage } from './steps/archive.step';
import type { PrintJob } from './steps/print-and-post.step';

/**
 * The processor role booted for real (SQLite store and local tables, the embedded bus, or Kafka when KAFKA_BROKERS is
 * set), fed the events the directory, the certifier and the domicile would write: a CA run in the test
 * (libs/crypto), certificates for the hosted operator's keys, tokens signed by the certifier signer. The job
 * streams are checked, and `openssl` checks the time-stamp token and the seal's certificate chain.
 */
const runtimes: { name: string; env: Record<string, string> }[] = [{ name: 'embedded', env: {} }];
const brokers = kafkaBrokers();
if (brokers) runtimes.push({ name: 'kafka', env: kafkaAppEnv(brokers) });
else reportSkippedKafka('processor int-spec on Kafka');

const OPENSSL = '/usr/bin/openssl';
/** Runs openssl: `stdout` alone, and `out` = stdout + stderr (openssl prints notices on stderr). */
function openssl(args: string[]): { status: number; stdout: string; out: string } {
  const result = spawnSync(OPENSSL, args, { encoding: 'utf8' });
  return { status: result.status ?? -1, stdout: result.stdout, out: `${result.stdout}${result.stderr}` };
}
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const pemOfBase64Der = (der: string) => `-----BEGIN CERTIFICATE-----\n${der.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;

/**
 * Writes, in this test, the streams the certifier and domicile own, so that the relay publishes them. The directory
 * runs for real (it issues the staff credentials), so it relays the party streams the test writes.
 */
@Module({})
class UpstreamModule {}
const upstreamRole: RoleSpec = {
  role: 'certifier',
  module: UpstreamModule,
  ownedCategories: [CA_CATEGORY, CERTIFICATE_CATEGORY, CHAIN_CATEGORY, CORRESPONDENCE_CATEGORY],
  consumes: false,
};

describe.each(runtimes)('processor on the $name bus', ({ env }) => {
  const clock = new MovableClock();
  let dataDir: string;
  let workDir: string;
  let app: INestApplication;
  let store: EventStore;
  let bus: EventBus;
  let ca: CertificateAuthority;
  let certifier: CertifierSigner;
  let caFile: string;

  const operatorId = randomUUID();
  const senderId = randomUUID();
  const postalRecipient = randomUUID();
  const addresslessRecipient = randomUUID();
  const signingKeyId = randomUUID();
  const tsaKeyId = randomUUID();
  let signingCertificateId: string;
  let tsaCertificatePem: string;
  /** The operator's signing certificate, as CertificateIssued recorded it: what its JWS name by x5t#S256. */
  let signingCertificatePem: string;

  async function boot(): Promise<void> {
    const config = loadConfig({ ...env, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'error', CONSUMER_MAX_ATTEMPTS: '2' });
    app = await createSigillumApp(config, [directoryRole, processorRole, upstreamRole], { clock });
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    store = app.get(EVENT_STORE);
    bus = app.get(EVENT_BUS);
  }

  /** The admin hosts operators; ops reads them. */
  let admin: Record<string, string>;
  let ops: Record<string, string>;
  const anonymous = () => request(app.getHttpServer());
  /** Requests as `who` (the admin unless told). */
  const http = (who = admin) => {
    const agent = anonymous();
    return {
      get: (url: string) => agent.get(url).set(who),
      post: (url: string) => agent.post(url).set(who),
    };
  };

  async function feed(streamId: string, events: [type: string, data: unknown][]): Promise<void> {
    const occurredAt = clock.now().toISOString();
    await store.append(
      streamId,
      events.map(([type, data]) => pendingEvent(type, data, { occurredAt, source: '/tests/processor' })),
      'any',
    );
  }

  const write = (name: string, content: string | Buffer) => {
    const file = path.join(workDir, name);
    fs.writeFileSync(file, content);
    return file;
  };

  function tokenFor(
    correspondenceId: string,
    stepIndex: number,
    step: CertificationToken['step'],
    inputDigest: string,
    overrides: Partial<CertificationToken> = {},
  ): CertificationToken {
    const issuedAt = clock.now();
    return {
      tokenId: randomUUID(),
      correspondenceId,
      stepIndex,
      step,
      attempt: 1,
      operatorId,
      specificationVersion: 1,
      inputDigest,
      parameters: {},
      issuedAt: issuedAt.toISOString(),
      acknowledgeBy: new Date(issuedAt.getTime() + 60_000).toISOString(),
      returnBy: new Date(issuedAt.getTime() + 600_000).toISOString(),
      ...overrides,
    };
  }
  const issued = (token: CertificationToken): [string, unknown] => ['StepTokenIssued', { token, signature: certifier.signDetached(token) }];

  async function jobOf(tokenId: string, length: number): Promise<JobEvent[]> {
    return eventually(async () => {
      const events = (await store.readStream(streamIdOf(JOB_CATEGORY, tokenId))).map(({ event }) => event as JobEvent);
      expect(events).toHaveLength(length);
      return events;
    }, 30_000);
  }

  /** The returned report, after checking the acknowledgement and the return as the certifier will. */
  function checkedReturn(token: CertificationToken, events: JobEvent[]): StepReport {
    const [acknowledged, returned] = events;
    if (acknowledged.type !== 'TokenAcknowledged' || returned.type !== 'TokenReturned')
      throw new Error(`expected acknowledgement and return, got ${events.map((e) => e.type)}`);
    const at = clock.now();
    expect(acknowledged.data).toMatchObject({
      tokenId: token.tokenId,
      correspondenceId: token.correspondenceId,
      stepIndex: token.stepIndex,
      operatorId,
      keyId: signingKeyId,
    });
    expect(acknowledged.data.tokenDigest).toBe(sha256(canonicalize(token)));
    const ackPayload = { tokenId: token.tokenId, tokenDigest: acknowledged.data.tokenDigest, acknowledgedAt: acknowledged.data.acknowledgedAt };
    verifyJwsDetached(acknowledged.data.signature, ackPayload, {
      trustedCaPem: ca.caCertificatePem,
      certificates: signingCertificatePem,
      expectedAlg: 'EdDSA',
      at,
    });
    const { report } = returned.data;
    expect(returned.data).toMatchObject({
      tokenId: token.tokenId,
      correspondenceId: token.correspondenceId,
      stepIndex: token.stepIndex,
      operatorId,
      keyId: signingKeyId,
    });
    expect(report).toMatchObject({ tokenId: token.tokenId, step: token.step, inputDigest: token.inputDigest, parameters: token.parameters });
    expect(report.outputDigest).toBe(sha256(canonicalize(report.output)));
    verifyJwsDetached(returned.data.signature, report, { trustedCaPem: ca.caCertificatePem, certificates: signingCertificatePem, expectedAlg: 'EdDSA', at });
    // Times come from the injected clock (moved a day ahead of the wall clock).
    for (const time of [acknowledged.data.acknowledgedAt, report.startedAt, report.finishedAt, returned.data.returnedAt]) {
      expect(Date.parse(time)).toBeGreaterThan(Date.now() + 23 * 3600_000);
    }
    return report;
  }

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-processor-int-'));
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-processor-files-'));
    clock.advance(24 * 3600_000);
    await boot();
    admin = bearer(await issueStaffToken(baseUrlOf(app.getHttpServer()), dataDir, ['admin'], 'admin-1'));
    ops = bearer(await issueStaffToken(baseUrlOf(app.getHttpServer()), dataDir, ['ops'], 'ops-1'));
    // The certifier's CA and signing key, run by the test.
    const keystore = FileKeyStore.open({ directory: path.join(workDir, 'certifier-keys'), passphrase: 'certifier test passphrase' });
    ca = CertificateAuthority.loadOrCreate(keystore, { commonName: 'Sigillum Test CA', organisation: 'Sigillum', validityDays: 3650, now: new Date() }).ca;
    certifier = loadCertifierSigner(keystore, ca, { now: () => new Date() });
    caFile = write('ca.pem', ca.caCertificatePem);
    // The directory's parties.
    const registered = (partyId: string, kind: string, displayName: string, extra: object = {}): [string, unknown] => [
      'PartyRegistered',
      { partyId, kind, displayName, registeredAt: clock.now().toISOString(), ...extra },
    ];
    const declared = (partyId: string, name: string, value: string): [string, unknown] => [
      'IdentityAttributeDeclared',
      { partyId, name, value, declaredAt: clock.now().toISOString() },
    ];
    await feed(streamIdOf(PARTY_CATEGORY, operatorId), [registered(operatorId, 'operator', 'Hermes Processing', { operatorRole: 'processing' })]);
    await feed(streamIdOf(PARTY_CATEGORY, senderId), [registered(senderId, 'organisation', 'Acme SARL')]);
    await feed(streamIdOf(PARTY_CATEGORY, postalRecipient), [
      registered(postalRecipient, 'person', 'Ada Lovelace'),
      declared(postalRecipient, 'address', '12 St James Square, London SW1Y 4JH'),
      declared(postalRecipient, 'country', 'GB'),
    ]);
    await feed(streamIdOf(PARTY_CATEGORY, addresslessRecipient), [
      registered(addresslessRecipient, 'person', 'Charles Babbage'),
      declared(addresslessRecipient, 'country', 'GB'),
    ]);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(workDir, { recursive: true, force: true });
  }, 30_000);

  let hosted: HostedOperatorView;

  it('hosts a processing operator: generates its Ed25519 signing and RSA TSA keys once, shows only public keys', async () => {
    const first = await http()
      .post('/processor/operators')
      .send({ operatorId, keys: ['signing', 'tsa'] })
      .expect(201);
    hosted = first.body as HostedOperatorView;
    expect(hosted).toMatchObject({ operatorId, trustAnchorKnown: false });
    expect(hosted.keys.map((key) => [key.purpose, key.algorithm, key.certificate])).toEqual([
      ['signing', 'Ed25519', null],
      ['tsa', 'RSA', null],
    ]);
    for (const key of hosted.keys) {
      expect(key.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      expect(key.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(JSON.stringify(hosted)).not.toMatch(/PRIVATE KEY/);
    // Again: the same keys, 200.
    const again = await http()
      .post('/processor/operators')
      .send({ operatorId, keys: ['tsa'] })
      .expect(200);
    expect((again.body as HostedOperatorView).keys.map((key) => key.fingerprint)).toEqual(hosted.keys.map((key) => key.fingerprint));
    // The private keys are in the keystore, encrypted.
    const keyFile = fs.readFileSync(path.join(dataDir, 'keys', `operator-${operatorId}-signing.key.pem`), 'utf8');
    expect(keyFile).toMatch(/BEGIN ENCRYPTED PRIVATE KEY/);
    expect((await http(ops).get(`/processor/operators/${operatorId}`).expect(200)).body).toEqual(hosted);
    expect((await http(ops).get('/processor/operators').expect(200)).body).toEqual([hosted]);
  });

  it('hosts operators for an admin only: 401 anonymous, 403 to ops, nothing hosted', async () => {
    const other = randomUUID();
    const anonymousHost = await anonymous().post('/processor/operators').send({ operatorId: other }).expect(401);
    expect(anonymousHost.body).toMatchObject({ code: 'ACCESS.UNAUTHENTICATED', reasons: [expect.objectContaining({ rule: 'access.unauthenticated' })] });
    const opsHost = await http(ops).post('/processor/operators').send({ operatorId: other }).expect(403);
    expect(opsHost.body).toMatchObject({
      code: 'ACCESS.FORBIDDEN',
      reasons: [expect.objectContaining({ rule: 'access.role', message: expect.stringContaining('admin') })],
    });
    await anonymous().get('/processor/operators').expect(401);
    await anonymous().get(`/processor/operators/${operatorId}`).expect(401);
    expect((await http(ops).get('/processor/operators').expect(200)).body).toEqual([hosted]);
  });

  it('refuses bad input (400 naming the field), unknown parties (404) and parties that are not processing operators (409)', async () => {
    const badKey = await http()
      .post('/processor/operators')
      .send({ operatorId, keys: ['signing', 'decrypt'] })
      .expect(400);
    expect(badKey.body.violations).toEqual([expect.objectContaining({ field: 'keys' })]);
    const unknownField = await http().post('/processor/operators').send({ operatorId, admin: true }).expect(400);
    expect(unknownField.body.violations).toEqual([expect.objectContaining({ field: 'admin', rule: 'whitelist' })]);
    await http().post('/processor/operators').send({ operatorId: 'not-a-uuid' }).expect(400);
    await http().post('/processor/operators').send({ operatorId: randomUUID() }).expect(404);
    await http().post('/processor/operators').send({ operatorId: senderId }).expect(409);
    await http().get(`/processor/operators/${randomUUID()}`).expect(404);
    await http().get('/processor/operators/nope').expect(400);
  });

  it('a token before any CA is known cannot be verified: retried, then dead-lettered with the reason', async () => {
    const correspondenceId = randomUUID();
    const token = tokenFor(correspondenceId, 0, 'seal', sha256('early'));
    await feed(streamIdOf(CHAIN_CATEGORY, correspondenceId), [issued(token)]);
    const deadLetters: { key: string; reason: string }[] = [];
    const watcher = await bus.consume({
      group: `processor-dlq-watch-${correspondenceId}`,
      topics: [Topics.deadLetterOf(Topics.eventsOf(CHAIN_CATEGORY))],
      handler: async (message) => {
        deadLetters.push({ key: message.key, reason: deadLetterInfoOf(message)?.reason ?? '' });
      },
    });
    try {
      const dead = await eventually(() => {
        const found = deadLetters.find((letter) => letter.key === streamIdOf(CHAIN_CATEGORY, correspondenceId));
        expect(found).toBeDefined();
        return found!;
      }, 30_000);
      expect(dead.reason).toMatch(/knows no CA certificate/);
    } finally {
      await watcher.stop();
    }
    expect(await store.readStream(streamIdOf(JOB_CATEGORY, token.tokenId))).toEqual([]);
  }, 60_000);

  it('learns the CA and the certificates of its keys from the certifier events', async () => {
    await feed(streamIdOf(CA_CATEGORY, ca.caId), [
      [
        'CertificationAuthorityEstablished',
        {
          caId: ca.caId,
          subject: ca.subject,
          certificatePem: ca.caCertificatePem,
          fingerprint: ca.fingerprint,
          notBefore: ca.notBefore,
          notAfter: ca.notAfter,
          establishedAt: new Date().toISOString(),
        },
      ],
    ]);
    const certify = async (purpose: 'signing' | 'tsa', keyId: string, partyId = operatorId): Promise<{ certificateId: string; certificatePem: string }> => {
      const key = hosted.keys.find((candidate) => candidate.purpose === purpose)!;
      const certificate = ca.issue({
        subject: { commonName: 'Hermes Processing', organisationalUnit: operatorId },
        publicKeyPem: key.publicKeyPem,
        profile: purpose,
        validityDays: 365,
        now: new Date(),
      });
      const certificateId = randomUUID();
      await feed(streamIdOf(CERTIFICATE_CATEGORY, certificateId), [
        ['CertificateIssued', { certificateId, partyId, keyId, ...certificate, issuedAt: new Date().toISOString() }],
      ]);
      return { certificateId, certificatePem: certificate.certificatePem };
    };
    // A certificate of our key under another party's name is not taken.
    await certify('signing', randomUUID(), senderId);
    const signing = await certify('signing', signingKeyId);
    signingCertificateId = signing.certificateId;
    signingCertificatePem = signing.certificatePem;
    const tsa = await certify('tsa', tsaKeyId);
    const tsaCertificateId = tsa.certificateId;
    tsaCertificatePem = tsa.certificatePem;
    const view = await eventually(async () => {
      const body = (await http().get(`/processor/operators/${operatorId}`).expect(200)).body as HostedOperatorView;
      expect(body.trustAnchorKnown).toBe(true);
      expect(body.keys.map((key) => key.certificate?.certificateId)).toEqual([signingCertificateId, tsaCertificateId]);
      return body;
    }, 30_000);
    expect(view.keys[0].certificate).toMatchObject({ keyId: signingKeyId });
    expect(view.keys[1].certificate).toMatchObject({ keyId: tsaKeyId });
  }, 60_000);

  const correspondenceId = randomUUID();
  const specimenDigest = sha256('specimen of the registered letter');
  const parts = [{ digest: sha256('the contract'), size: 12, contentType: 'application/pdf', name: 'contract.pdf' }];
  let sealToken: CertificationToken;
  let sealReport: StepReport;

  it('seals: acknowledges and returns the token in one job stream; the seal verifies and openssl verifies the certificate it names (x5t#S256) to the CA', async () => {
    const chain: ChainStarted['data'] = {
      correspondenceId,
      senderId,
      recipientIds: [postalRecipient],
      kind: 'registered',
      requiredLevel: 'substantial',
      consignment: 'basic',
      checkId: randomUUID(),
      policyId: 'eidas-default@1',
      steps: ['seal', 'timestamp', 'deliver', 'archive'].map((step) => ({ step: step as CertificationToken['step'], operatorId, parameters: {} })),
      specimenDigest,
      submittedAt: clock.now().toISOString(),
      startedAt: clock.now().toISOString(),
    };
    const submission: SubmissionRequested['data'] = {
      correspondenceId,
      draftId: randomUUID(),
      submissionKey: 'submission-1',
      senderId,
      sessionId: randomUUID(),
      recipientIds: [postalRecipient],
      subject: 'Registered letter',
      kind: 'registered',
      requiredLevel: 'substantial',
      consignment: 'basic',
      parts,
      specimenDigest,
      validationProof: 'a.b.c',
      requestedAt: clock.now().toISOString(),
    };
    await feed(streamIdOf(CORRESPONDENCE_CATEGORY, correspondenceId), [['SubmissionRequested', submission]]);
    const foreignToken = tokenFor(correspondenceId, 0, 'seal', specimenDigest, { operatorId: randomUUID() });
    sealToken = tokenFor(correspondenceId, 0, 'seal', specimenDigest);
    // Another operator's token first, on the same stream (so it is handled before ours): ignored here.
    await feed(streamIdOf(CHAIN_CATEGORY, correspondenceId), [['ChainStarted', chain], issued(foreignToken), issued(sealToken)]);

    const events = await jobOf(sealToken.tokenId, 2);
    sealReport = checkedReturn(sealToken, events);
    expect(await store.readStream(streamIdOf(JOB_CATEGORY, foreignToken.tokenId))).toEqual([]);
    const output = sealReport.output;
    if (output.step !== 'seal') throw new Error('expected a seal output');
    // The seal names its certificate by x5t#S256 (no x5c): the verifier takes it from what it knows (CertificateIssued).
    const verified = verifyJws(output.sealJws, {
      trustedCaPem: ca.caCertificatePem,
      certificates: signingCertificatePem,
      expectedAlg: 'EdDSA',
      at: clock.now(),
    });
    expect(verified.payload).toEqual({ correspondenceId, inputDigest: specimenDigest, sealedAt: sealReport.startedAt });
    expect(verified.header.x5c).toBeUndefined();
    const leafDer = new X509Certificate(signingCertificatePem).raw;
    expect(verified.header['x5t#S256']).toBe(createHash('sha256').update(leafDer).digest('base64url'));
    const leafFile = write('seal-leaf.pem', pemOfBase64Der(leafDer.toString('base64')));
    expect(output.certificateFingerprint).toBe(sha256(leafDer));
    const checked = openssl(['verify', '-CAfile', caFile, leafFile]);
    expect({ status: checked.status, stdout: checked.stdout }).toEqual({ status: 0, stdout: `${leafFile}: OK\n` });
    // And openssl refuses that chain under another CA.
    const otherKeys = FileKeyStore.open({ directory: path.join(workDir, 'other-keys'), passphrase: 'another test passphrase' });
    const otherCa = CertificateAuthority.loadOrCreate(otherKeys, {
      commonName: 'Sigillum Test CA',
      organisation: 'Sigillum',
      validityDays: 3650,
      now: new Date(),
    }).ca;
    expect(openssl(['verify', '-CAfile', write('other-ca.pem', otherCa.caCertificatePem), leafFile]).status).not.toBe(0);
  }, 60_000);

  let stampToken: CertificationToken;
  let stampReport: StepReport;

  it('time-stamps the previous output digest: openssl ts -verify accepts the token for the 32 raw digest bytes', async () => {
    stampToken = tokenFor(correspondenceId, 1, 'timestamp', sealReport.outputDigest);
    await feed(streamIdOf(CHAIN_CATEGORY, correspondenceId), [certified(sealToken, sealReport), issued(stampToken)]);
    stampReport = checkedReturn(stampToken, await jobOf(stampToken.tokenId, 2));
    const output = stampReport.output;
    if (output.step !== 'timestamp') throw new Error('expected a timestamp output');
    expect(output.genTime).toBe(stampReport.startedAt);
    const der = Buffer.from(output.timeStampToken, 'base64');
    const tokenFile = write('stamp.tsr', der);
    const dataFile = write('stamp-data.bin', Buffer.from(stampToken.inputDigest, 'hex'));
    const tsaFile = write('tsa.pem', tsaCertificatePem);
    const verify = openssl(['ts', '-verify', '-data', dataFile, '-in', tokenFile, '-token_in', '-CAfile', caFile, '-untrusted', tsaFile]);
    expect({ status: verify.status, stdout: verify.stdout }).toEqual({ status: 0, stdout: 'Verification: OK\n' });
    // The token carries the TSA certificate: the CA alone is enough to openssl.
    expect(openssl(['ts', '-verify', '-data', dataFile, '-in', tokenFile, '-token_in', '-CAfile', caFile]).stdout).toBe('Verification: OK\n');
    // The hex text of the digest is not what was stamped.
    const wrongData = openssl([
      'ts',
      '-verify',
      '-data',
      write('hex.txt', stampToken.inputDigest),
      '-in',
      tokenFile,
      '-token_in',
      '-CAfile',
      caFile,
      '-untrusted',
      tsaFile,
    ]);
    expect(wrongData.status).not.toBe(0);
    const printed = openssl(['ts', '-reply', '-in', tokenFile, '-token_in', '-text']);
    expect(printed.out).toContain(`Policy OID: ${DEFAULT_TSA_POLICY_OID}`);
    // openssl prints the serial in hex, padded to whole bytes: compare the numbers.
    const printedSerial = /serial number: 0x([0-9a-f]+)/.exec(printed.out.toLowerCase())?.[1];
    expect(printedSerial && BigInt(`0x${printedSerial}`)).toBe(BigInt(`0x${output.serialNumber}`));
    const info = verifyTimeStampToken(der, { data: Buffer.from(stampToken.inputDigest, 'hex'), trustedCaPem: ca.caCertificatePem });
    expect(info.genTime.toISOString()).toBe(output.genTime);
  }, 60_000);

  function certified(token: CertificationToken, report: StepReport): [string, unknown] {
    return [
      'StepCertified',
      {
        tokenId: token.tokenId,
        correspondenceId: token.correspondenceId,
        stepIndex: token.stepIndex,
        step: token.step,
        operatorId,
        inputDigest: token.inputDigest,
        outputDigest: report.outputDigest,
        acknowledgedAt: report.startedAt,
        returnedAt: report.finishedAt,
        certifiedAt: clock.now().toISOString(),
      },
    ];
  }

  let deliverToken: CertificationToken;
  let deliverReport: StepReport;

  it('delivers to the recipients of the chain; a redelivered token changes nothing', async () => {
    deliverToken = tokenFor(correspondenceId, 2, 'deliver', stampReport.outputDigest);
    await feed(streamIdOf(CHAIN_CATEGORY, correspondenceId), [certified(stampToken, stampReport), issued(deliverToken)]);
    deliverReport = checkedReturn(deliverToken, await jobOf(deliverToken.tokenId, 2));
    expect(deliverReport.output).toEqual({ step: 'deliver', recipientIds: [postalRecipient], deliveredAt: deliverReport.startedAt });
    // The certifier sends the same token again (the same StepTokenIssued appended again): the job stream stays as it was.
    await feed(streamIdOf(CHAIN_CATEGORY, correspondenceId), [issued(deliverToken)]);
    const marker = tokenFor(correspondenceId, 2, 'deliver', stampReport.outputDigest, { attempt: 2 });
    await feed(streamIdOf(CHAIN_CATEGORY, correspondenceId), [issued(marker)]);
    await jobOf(marker.tokenId, 2); // handled after the redelivery (same stream, in order)
    expect(await store.readStream(streamIdOf(JOB_CATEGORY, deliverToken.tokenId))).toHaveLength(2);
  }, 60_000);

  it('archives the originals, the seal and the time-stamp with retention into both safes', async () => {
    const archiveToken = tokenFor(correspondenceId, 3, 'archive', deliverReport.outputDigest, { parameters: { retentionYears: 5 } });
    await feed(streamIdOf(CHAIN_CATEGORY, correspondenceId), [certified(deliverToken, deliverReport), issued(archiveToken)]);
    const report = checkedReturn(archiveToken, await jobOf(archiveToken.tokenId, 2));
    const output = report.output;
    if (output.step !== 'archive') throw new Error('expected an archive output');
    expect(output.location).toBe(`archive/${correspondenceId}/${archiveToken.tokenId}.json`);
    const bytes = fs.readFileSync(path.join(dataDir, output.location));
    expect(output.packageDigest).toBe(sha256(bytes));
    const retainUntil = new Date(report.startedAt);
    retainUntil.setUTCFullYear(retainUntil.getUTCFullYear() + 5);
    expect(output.safes).toEqual([senderId, postalRecipient].map((ownerId) => ({ ownerId, retainUntil: retainUntil.toISOString() })));
    const archived = JSON.parse(bytes.toString('utf8')) as ArchivePackage;
    expect(archived).toMatchObject({ correspondenceId, specimenDigest, parts, retainUntil: retainUntil.toISOString() });
    expect(archived.seal).toEqual({ ...sealReport.output, tokenId: sealToken.tokenId, outputDigest: sealReport.outputDigest });
    expect(archived.timestamp).toEqual({ ...stampReport.output, tokenId: stampToken.tokenId, outputDigest: stampReport.outputDigest });
    expect(archived.certifiedSteps.map((step) => step.step)).toEqual(['seal', 'timestamp', 'deliver']);
  }, 60_000);

  it('prints and posts to a recipient with a declared address; refuses one without (address.missing)', async () => {
    const hybridId = randomUUID();
    const chain = (recipientIds: string[]): ChainStarted['data'] => ({
      correspondenceId: hybridId,
      senderId,
      recipientIds,
      kind: 'hybrid',
      requiredLevel: 'substantial',
      consignment: 'basic',
      checkId: randomUUID(),
      policyId: 'eidas-default@1',
      steps: [],
      specimenDigest,
      submittedAt: clock.now().toISOString(),
      startedAt: clock.now().toISOString(),
    });
    const printToken = tokenFor(hybridId, 2, 'print-and-post', sha256('stamped'), { parameters: { postalClass: 'registered' } });
    await feed(streamIdOf(CHAIN_CATEGORY, hybridId), [['ChainStarted', chain([postalRecipient])], issued(printToken)]);
    const report = checkedReturn(printToken, await jobOf(printToken.tokenId, 2));
    const output = report.output;
    if (output.step !== 'print-and-post') throw new Error('expected a print-and-post output');
    expect(output).toMatchObject({
      addressBlock: ['Ada Lovelace', '12 St James Square', 'London SW1Y 4JH', 'GB'],
      contentDigest: printToken.inputDigest,
      location: `print-jobs/${output.printJobId}.json`,
    });
    const job = JSON.parse(fs.readFileSync(path.join(dataDir, output.location), 'utf8')) as PrintJob;
    expect(job.letters).toEqual([
      { recipientId: postalRecipient, addressBlock: output.addressBlock, contentDigest: printToken.inputDigest, correspondenceId: hybridId },
    ]);

    const otherId = randomUUID();
    const refusedToken = tokenFor(otherId, 2, 'print-and-post', sha256('stamped'));
    await feed(streamIdOf(CHAIN_CATEGORY, otherId), [['ChainStarted', { ...chain([addresslessRecipient]), correspondenceId: otherId }], issued(refusedToken)]);
    const [acknowledged, failed] = await jobOf(refusedToken.tokenId, 2);
    expect(acknowledged.type).toBe('TokenAcknowledged');
    expect(failed).toMatchObject({
      type: 'StepFailed',
      data: { tokenId: refusedToken.tokenId, reasons: [expect.objectContaining({ rule: 'address.missing', partyId: addresslessRecipient })] },
    });
  }, 60_000);

  it('a tampered token is refused with token.signature-invalid and nothing is performed', async () => {
    const tamperedId = randomUUID();
    const original = tokenFor(tamperedId, 0, 'seal', sha256('what the certifier signed'));
    const signature = certifier.signDetached(original);
    const tampered = { ...original, inputDigest: sha256('what an attacker wants sealed') };
    await feed(streamIdOf(CHAIN_CATEGORY, tamperedId), [['StepTokenIssued', { token: tampered, signature }]]);
    const events = await jobOf(original.tokenId, 1);
    expect(events[0]).toMatchObject({
      type: 'StepFailed',
      data: { tokenId: original.tokenId, operatorId, reasons: [expect.objectContaining({ rule: 'token.signature-invalid' })] },
    });
  }, 60_000);

  it("a token naming the certifier's certificate by x5t#S256 is performed once CertifierSigningCertificateIssued is recorded; an unrecorded thumbprint is refused", async () => {
    const certificate = new X509Certificate(certifier.certificatePem);
    await feed(streamIdOf(CA_CATEGORY, ca.caId), [
      [
        'CertifierSigningCertificateIssued',
        {
          caId: ca.caId,
          keyId: certifier.keyId,
          serialNumber: certificate.serialNumber,
          subject: 'CN=Sigillum certifier signing, O=Sigillum',
          certificatePem: certifier.certificatePem,
          fingerprint: certifier.certificateFingerprint,
          notBefore: new Date(certificate.validFrom).toISOString(),
          notAfter: new Date(certificate.validTo).toISOString(),
          recordedAt: new Date().toISOString(),
        },
      ],
    ]);
    // Fed right after: the token may come before the CA event is consumed (then the CA stream is looked through once).
    const byReferenceId = randomUUID();
    const sealByReference = tokenFor(byReferenceId, 0, 'seal', sha256('named by thumbprint'));
    const signature = certifier.signDetachedByReference(sealByReference);
    expect(JSON.parse(Buffer.from(signature.split('.')[0], 'base64url').toString('utf8'))).not.toHaveProperty('x5c');
    await feed(streamIdOf(CHAIN_CATEGORY, byReferenceId), [['StepTokenIssued', { token: sealByReference, signature }]]);
    checkedReturn(sealByReference, await jobOf(sealByReference.tokenId, 2));

    // Another certificate of the same CA with the certifier's subject, never recorded: refused by name, nothing performed.
    const rogueKeys = FileKeyStore.open({ directory: path.join(workDir, 'rogue-keys'), passphrase: 'rogue passphrase' });
    const unrecorded = loadCertifierSigner(rogueKeys, ca, { now: () => new Date() });
    const unknownId = randomUUID();
    const sealUnknown = tokenFor(unknownId, 0, 'seal', sha256('unrecorded thumbprint'));
    await feed(streamIdOf(CHAIN_CATEGORY, unknownId), [
      ['StepTokenIssued', { token: sealUnknown, signature: unrecorded.signDetachedByReference(sealUnknown) }],
    ]);
    const [failed] = await jobOf(sealUnknown.tokenId, 1);
    expect(failed).toMatchObject({ type: 'StepFailed', data: { reasons: [expect.objectContaining({ rule: 'token.signature-invalid' })] } });
    if (failed.type !== 'StepFailed') throw new Error('not a failure');
    expect(failed.data.reasons[0].message).toMatch(/jws\.x5t\.unknown/);
  }, 60_000);

  it('keeps hosting, certificates and trust anchor across a restart; a revoked signing certificate leaves certificate.missing', async () => {
    const before = (await http(ops).get(`/processor/operators/${operatorId}`).expect(200)).body;
    await app.close();
    await boot();
    // The staff credentials are events: they still work after the restart.
    expect((await http(ops).get(`/processor/operators/${operatorId}`).expect(200)).body).toEqual(before);
    const afterRestartId = randomUUID();
    const sealAgain = tokenFor(afterRestartId, 0, 'seal', sha256('after restart'));
    await feed(streamIdOf(CHAIN_CATEGORY, afterRestartId), [issued(sealAgain)]);
    checkedReturn(sealAgain, await jobOf(sealAgain.tokenId, 2));

    await feed(streamIdOf(CERTIFICATE_CATEGORY, signingCertificateId), [
      ['CertificateRevoked', { certificateId: signingCertificateId, reason: 'key compromise', revokedAt: new Date().toISOString() }],
    ]);
    await eventually(async () => {
      const body = (await http(ops).get(`/processor/operators/${operatorId}`).expect(200)).body as HostedOperatorView;
      expect(body.keys[0].certificate).toBeNull();
    }, 30_000);
    const revokedId = randomUUID();
    const unsigned = tokenFor(revokedId, 0, 'seal', sha256('after revocation'));
    await feed(streamIdOf(CHAIN_CATEGORY, revokedId), [issued(unsigned)]);
    const [failed] = await jobOf(unsigned.tokenId, 1);
    expect(failed).toMatchObject({ type: 'StepFailed', data: { reasons: [expect.objectContaining({ rule: 'certificate.missing', partyId: operatorId })] } });
  }, 90_000);
});
