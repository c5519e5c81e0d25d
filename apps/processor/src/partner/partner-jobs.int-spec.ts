import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { ShapeError } from '@sigillum/bus';
import { type CertificationToken, type DomainEvent, type JobEvent, streamIdOf } from '@sigillum/contracts';
import { signJwsDetached } from '@sigillum/crypto';
import { SqliteEventStore } from '@sigillum/eventstore';
import Database from 'better-sqlite3';
import { createTestPki, OPERATOR_ID, SIGNING_KEY_ID, TEST_NOW, type TestPki, testToken } from '../testing-fixtures';
import { canonicalDigest } from '../steps/step-outputs';
import { loadPartnerConfig, type PartnerBinding, partnerInboundTopicOf } from './partner.config';
import {
  type AcknowledgeCommand,
  type FailCommand,
  PARTNER_COMMAND_TYPES,
  type PartnerCommand,
  readPartnerCommand,
  type ReturnCommand,
  signedPayloadOf,
} from './partner-commands';
import { PartnerCommandRefused, PartnerJobs } from './partner-jobs';

const CERTIFICATE_ID = 'c0ffee00-0000-4000-8000-000000000001';
const PARTNER: PartnerBinding = { name: 'acme-post', operatorId: OPERATOR_ID, topic: partnerInboundTopicOf('acme-post') };
const fingerprintOf = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

describe('partner operators over Kafka: the processor side', () => {
  let pki: TestPki;
  let store: SqliteEventStore;
  let jobs: PartnerJobs;
  let hosted: Set<string>;
  let anchors: string[];
  /** Five seconds after the token was issued. */
  const clock = { now: () => new Date(TEST_NOW.getTime() + 5_000) };
  const token: CertificationToken = testToken({ step: 'print-and-post' });
  const context = { correlationId: token.correspondenceId, causationId: 'cmd-1' };

  const pending = (event: DomainEvent) => ({
    event,
    metadata: { eventId: randomUUID(), correlationId: 'c', causationId: 'c', occurredAt: TEST_NOW.toISOString(), source: '/sigillum/test' },
  });

  beforeEach(async () => {
    pki = createTestPki();
    store = new SqliteEventStore({ db: new Database(':memory:') });
    hosted = new Set();
    anchors = [pki.ca.caCertificatePem];
    jobs = new PartnerJobs({
      store,
      trustedCaPems: () => anchors,
      isHosted: (operatorId) => hosted.has(operatorId),
      config: { maxClockSkewSeconds: 120 },
      clock,
      ids: { next: () => randomUUID() },
    });
    const spki = pki.signingKey.publicKeyPem;
    await store.append(
      streamIdOf('party', OPERATOR_ID),
      [
        pending({
          type: 'PartyRegistered',
          version: 1,
          data: { partyId: OPERATOR_ID, kind: 'operator', operatorRole: 'processing', displayName: 'Acme Post', registeredAt: TEST_NOW.toISOString() },
        }),
        pending({
          type: 'PublicKeyRegistered',
          version: 1,
          data: {
            partyId: OPERATOR_ID,
            keyId: SIGNING_KEY_ID,
            algorithm: 'Ed25519',
            use: 'signature',
            publicKeyPem: spki,
            fingerprint: pki.signingKey.fingerprint,
            registeredAt: TEST_NOW.toISOString(),
          },
        }),
      ],
      'no-stream',
    );
    await store.append(
      streamIdOf('certificate', CERTIFICATE_ID),
      [
        pending({
          type: 'CertificateIssued',
          version: 1,
          data: {
            certificateId: CERTIFICATE_ID,
            partyId: OPERATOR_ID,
            keyId: SIGNING_KEY_ID,
            serialNumber: '01',
            subject: 'CN=Acme Post',
            issuer: 'CN=Sigillum Test CA',
            certificatePem: pki.signingCertificate.certificatePem,
            fingerprint: fingerprintOf(pki.signingCertificate.certificatePem),
            notBefore: TEST_NOW.toISOString(),
            notAfter: TEST_NOW.toISOString(),
            issuedAt: TEST_NOW.toISOString(),
          },
        }),
      ],
      'no-stream',
    );
    await store.append(
      streamIdOf('chain', token.correspondenceId),
      [pending({ type: 'StepTokenIssued', version: 1, data: { token, signature: 'h..s' } })],
      'no-stream',
    );
  });

  afterEach(async () => {
    await store.close();
    pki.cleanup();
  });

  const base = {
    tokenId: token.tokenId,
    correspondenceId: token.correspondenceId,
    operatorId: OPERATOR_ID,
    keyId: SIGNING_KEY_ID,
    certificateId: CERTIFICATE_ID,
  };
  /** A partner signs its commands its own way: a detached JWS carrying its chain in `x5c` (Sigillum's own signers name it by x5t#S256). */
  const partnerSign = (of: TestPki, payload: unknown) =>
    signJwsDetached(payload, { privateKey: of.signingKey.privateKey, alg: 'EdDSA', x5c: of.signer.x5c, kid: SIGNING_KEY_ID });
  const signed = <C extends PartnerCommand>(command: Omit<C, 'signature'>): C =>
    ({ ...command, signature: partnerSign(pki, signedPayloadOf({ ...command, signature: '' } as C)) }) as C;
  const acknowledgement = (at = clock.now()) =>
    signed<AcknowledgeCommand>({ kind: 'acknowledge', ...base, tokenDigest: canonicalDigest(token), acknowledgedAt: at.toISOString() });
  const output = {
    step: 'print-and-post' as const,
    printJobId: 'pj-1',
    addressBlock: ['Bob Durand', '1 rue de la Paix', 'FR'],
    contentDigest: token.inputDigest,
    location: 'print-jobs/pj-1.json',
  };
  const report = (finishedAt = clock.now().toISOString()) => ({
    tokenId: token.tokenId,
    step: token.step,
    inputDigest: token.inputDigest,
    outputDigest: canonicalDigest(output),
    parameters: {},
    startedAt: clock.now().toISOString(),
    finishedAt,
    output,
  });
  const returned = (finishedAt?: string) =>
    signed<ReturnCommand>({ kind: 'return', ...base, report: report(finishedAt), returnedAt: clock.now().toISOString() });
  const failure = () =>
    signed<FailCommand>({
      kind: 'fail',
      ...base,
      reasons: [{ rule: 'address.undeliverable', message: 'no such street' }],
      failedAt: clock.now().toISOString(),
    });
  const job = async () => (await store.readStream(streamIdOf('job', token.tokenId))).map(({ event }) => event as JobEvent);
  const refusal = async (promise: Promise<unknown>): Promise<string> => {
    try {
      await promise;
    } catch (error) {
      if (error instanceof PartnerCommandRefused) return error.rule;
      throw error;
    }
    throw new Error('not refused');
  };

  it('records acknowledgement then return as a hosted operator would, signed by the certified key; the same commands again change nothing', async () => {
    expect(await jobs.handle(acknowledgement(), PARTNER, context)).toEqual({ kind: 'recorded', types: ['TokenAcknowledged'] });
    const ret = returned();
    expect(await jobs.handle(ret, PARTNER, context)).toEqual({ kind: 'recorded', types: ['TokenReturned'] });
    const recorded = await job();
    expect(recorded.map((event) => event.type)).toEqual(['TokenAcknowledged', 'TokenReturned']);
    expect(recorded[0].data).toMatchObject({
      tokenId: token.tokenId,
      stepIndex: 0,
      operatorId: OPERATOR_ID,
      tokenDigest: canonicalDigest(token),
      keyId: SIGNING_KEY_ID,
    });
    expect(recorded[1].data).toMatchObject({ report: ret.report, keyId: SIGNING_KEY_ID, signature: ret.signature });

    const before = await store.readStream(streamIdOf('job', token.tokenId));
    expect(await jobs.handle({ ...ret }, PARTNER, context)).toEqual({ kind: 'duplicate' });
    expect(await store.readStream(streamIdOf('job', token.tokenId))).toEqual(before);
  });

  it('refuses a return before the acknowledgement, a second different return, and anything after a failure', async () => {
    expect(await refusal(jobs.handle(returned(), PARTNER, context))).toBe('return.before-acknowledgement');
    expect(await job()).toEqual([]);
    await jobs.handle(acknowledgement(), PARTNER, context);
    await jobs.handle(returned(), PARTNER, context);
    expect(await refusal(jobs.handle(returned(new Date(clock.now().getTime() + 1).toISOString()), PARTNER, context))).toBe('return.already-recorded');
    expect(await refusal(jobs.handle(acknowledgement(new Date(clock.now().getTime() - 1)), PARTNER, context))).toBe('ack.already-recorded');
    expect(await refusal(jobs.handle(failure(), PARTNER, context))).toBe('token.returned');
    expect((await job()).map((event) => event.type)).toEqual(['TokenAcknowledged', 'TokenReturned']);
  });

  it('records a failure with the operator named in each reason, once', async () => {
    const failed = failure();
    expect(await jobs.handle(failed, PARTNER, context)).toEqual({ kind: 'recorded', types: ['StepFailed'] });
    expect(await jobs.handle(failed, PARTNER, context)).toEqual({ kind: 'duplicate' });
    const [event] = await job();
    expect(event).toMatchObject({
      type: 'StepFailed',
      data: { reasons: [{ rule: 'address.undeliverable', message: 'no such street', partyId: OPERATOR_ID, subjectRole: 'operator' }] },
    });
    expect(await refusal(jobs.handle(acknowledgement(), PARTNER, context))).toBe('token.failed');
  });

  it("refuses, appending nothing: another partner's operator, a hosted operator, an unknown token, a forged signature, a foreign CA, an unknown or revoked certificate, a revoked key, a time ahead of the clock, a wrong token digest", async () => {
    expect(await refusal(jobs.handle(acknowledgement(), { ...PARTNER, operatorId: 'someone-else' }, context))).toBe('partner.operator-mismatch');
    hosted.add(OPERATOR_ID);
    expect(await refusal(jobs.handle(acknowledgement(), PARTNER, context))).toBe('operator.hosted');
    hosted.clear();
    expect(await refusal(jobs.handle({ ...acknowledgement(), tokenId: 'unknown-token' }, PARTNER, context))).toBe('token.unknown');
    expect(await refusal(jobs.handle({ ...acknowledgement(), acknowledgedAt: new Date(clock.now().getTime() - 1000).toISOString() }, PARTNER, context))).toBe(
      'signature.invalid',
    );
    expect(await refusal(jobs.handle({ ...acknowledgement(), certificateId: 'no-such-certificate' }, PARTNER, context))).toBe('certificate.unknown');
    expect(
      await refusal(
        jobs.handle(
          signed<AcknowledgeCommand>({ kind: 'acknowledge', ...base, tokenDigest: '0'.repeat(64), acknowledgedAt: clock.now().toISOString() }),
          PARTNER,
          context,
        ),
      ),
    ).toBe('ack.token-digest-mismatch');
    expect(await refusal(jobs.handle(acknowledgement(new Date(clock.now().getTime() + 600_000)), PARTNER, context))).toBe('time.in-future');
    const otherCa = createTestPki();
    try {
      anchors = [pki.ca.caCertificatePem];
      const foreign = { ...acknowledgement(), signature: partnerSign(otherCa, signedPayloadOf(acknowledgement())) };
      expect(await refusal(jobs.handle(foreign, PARTNER, context))).toBe('signature.invalid');
    } finally {
      otherCa.cleanup();
    }
    await store.append(
      streamIdOf('party', OPERATOR_ID),
      [
        pending({
          type: 'PublicKeyRevoked',
          version: 1,
          data: { partyId: OPERATOR_ID, keyId: SIGNING_KEY_ID, reason: 'lost', revokedAt: TEST_NOW.toISOString() },
        }),
      ],
      'any',
    );
    expect(await refusal(jobs.handle(acknowledgement(), PARTNER, context))).toBe('signature.key-not-certified');
    await store.append(
      streamIdOf('certificate', CERTIFICATE_ID),
      [
        pending({
          type: 'CertificateRevoked',
          version: 1,
          data: { certificateId: CERTIFICATE_ID, reason: 'key compromise', revokedAt: TEST_NOW.toISOString() },
        }),
      ],
      'any',
    );
    expect(await refusal(jobs.handle(acknowledgement(), PARTNER, context))).toBe('certificate.revoked');
    expect(await job()).toEqual([]);
  });

  it('refuses a command for a token the certifier already settled', async () => {
    await store.append(
      streamIdOf('chain', token.correspondenceId),
      [pending({ type: 'StepDeadlineMissed', version: 1, data: { tokenId: token.tokenId } })],
      'any',
    );
    expect(await refusal(jobs.handle(acknowledgement(), PARTNER, context))).toBe('token.settled');
  });

  it('waits for the CA certificate rather than refusing (retried by the transport)', async () => {
    anchors = [];
    await expect(jobs.handle(acknowledgement(), PARTNER, context)).rejects.toThrow(/knows no CA certificate/);
  });
});

describe('the one reader of a partner command', () => {
  const data = {
    tokenId: 't-1',
    correspondenceId: 'c-1',
    operatorId: 'o-1',
    keyId: 'k-1',
    certificateId: 'cert-1',
    tokenDigest: 'a'.repeat(64),
    acknowledgedAt: TEST_NOW.toISOString(),
    signature: 'h..s',
  };
  const message = (overrides: Record<string, unknown> = {}) => ({
    type: PARTNER_COMMAND_TYPES.acknowledge,
    key: 'job-t-1',
    dataVersion: 1,
    data: { ...data, ...overrides },
  });

  it('reads a documented command', () => {
    expect(readPartnerCommand(message())).toEqual({ kind: 'acknowledge', ...data });
  });

  it.each([
    ['an unknown type', { ...message(), type: 'sigillum.partner.Shred' }],
    ['another data version', { ...message(), dataVersion: 2 }],
    ['a key that is not the job stream', { ...message(), key: 'job-other' }],
    ['a field no command has', message({ extra: 1 })],
    ['a missing signature', message({ signature: undefined })],
    ['a digest that is not SHA-256 hex', message({ tokenDigest: 'xyz' })],
    ['an id that could name a path', message({ tokenId: '../t' })],
  ])('refuses %s', (_what, record) => {
    expect(() => readPartnerCommand(record)).toThrow(ShapeError);
  });

  it('refuses a return whose report is not closed or names another token', () => {
    const output = { step: 'print-and-post', printJobId: 'p', addressBlock: ['A'], contentDigest: 'b'.repeat(64), location: 'x' };
    const report = {
      tokenId: 't-1',
      step: 'print-and-post',
      inputDigest: 'b'.repeat(64),
      outputDigest: 'c'.repeat(64),
      parameters: {},
      startedAt: data.acknowledgedAt,
      finishedAt: data.acknowledgedAt,
      output,
    };
    const ret = (r: unknown) => ({
      type: PARTNER_COMMAND_TYPES.return,
      key: 'job-t-1',
      dataVersion: 1,
      data: { ...data, tokenDigest: undefined, acknowledgedAt: undefined, report: r, returnedAt: data.acknowledgedAt },
    });
    const clean = (value: ReturnType<typeof ret>) => ({ ...value, data: JSON.parse(JSON.stringify(value.data)) });
    expect(readPartnerCommand(clean(ret(report)))).toMatchObject({ kind: 'return', report });
    expect(() => readPartnerCommand(clean(ret({ ...report, output: { ...output, secret: 'x' } })))).toThrow(ShapeError);
    expect(() => readPartnerCommand(clean(ret({ ...report, tokenId: 't-2' })))).toThrow(ShapeError);
  });
});

describe('PROCESSOR_PARTNERS', () => {
  it('binds each partner name to one operator and its topic; Kafka only', () => {
    expect(loadPartnerConfig({ PROCESSOR_PARTNERS: 'acme-post=op-1, other=op-2' }, 'kafka').partners).toEqual([
      { name: 'acme-post', operatorId: 'op-1', topic: 'sigillum.partner.acme-post.inbound' },
      { name: 'other', operatorId: 'op-2', topic: 'sigillum.partner.other.inbound' },
    ]);
    expect(loadPartnerConfig({}, 'embedded')).toEqual({ partners: [], maxClockSkewSeconds: 120 });
    expect(() => loadPartnerConfig({ PROCESSOR_PARTNERS: 'acme=op-1' }, 'embedded')).toThrow(/needs the Kafka bus/);
    expect(() => loadPartnerConfig({ PROCESSOR_PARTNERS: 'Acme=op-1' }, 'kafka')).toThrow(/must be <name>=<operatorPartyId>/);
    expect(() => loadPartnerConfig({ PROCESSOR_PARTNERS: 'a=op-1,a=op-2' }, 'kafka')).toThrow(/twice/);
    expect(() => loadPartnerConfig({ PROCESSOR_PARTNERS: 'a=op-1,b=op-1' }, 'kafka')).toThrow(/two partners/);
  });
});
