import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes, randomUUID, sign } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import type { INestApplication } from '@nestjs/common';
import { Parser } from '@asyncapi/parser';
import { loadConfig, type SigillumConfig } from '@sigillum/config';
import { CHAIN_CATEGORY, type ChainEvent, type CertificationToken, JOB_CATEGORY, type JobEvent, streamIdOf } from '@sigillum/contracts';
import { canonicalize, CertificateAuthority, FileKeyStore } from '@sigillum/crypto';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { adminCredentialOf, eventually, issueStaffToken, kafkaBrokers, MailCatcher, reportSkippedKafka } from '@sigillum/testing';
import { Kafka, type KafkaMessage, logLevel } from 'kafkajs';
import { call } from '../src/demo/narrator';
import { asBearer } from '../src/demo/staff';
import { type Api, awaitChainOperator, DEMO_EVIDENCE, enrolHostedOperator, enrolPerson, type OpenedSession, openSession } from '../src/demo/story';
import { rolesFor } from '../src/roles';

/**
 * Issue #9 item 6: a partner operator over Kafka. The partner — examples/partner-operator/partner.js, a separate
 * process using only kafkajs and node:crypto — holds its own Ed25519 key, certified by the Sigillum CA; it reads its
 * token of a hybrid letter, with the address block of the letter's recipient, on its own topic
 * sigillum.partner.<name>.tokens (and no other topic), writes a print job and answers with signed commands on
 * sigillum.partner.<name>.inbound; the processor records them in job-<tokenId> and the certifier certifies the step.
 * Its tokens topic carries its own tokens only (not the hosted operator's steps of the same letter, nothing of a
 * letter whose steps are all hosted) and the address blocks of its letters' recipients only.
 * Then what must be refused is: a command signed under another operator's certificate, under a CA that is not
 * Sigillum's, a second different return; and the same commands received again change nothing.
 */
const brokers = kafkaBrokers();
const PARTNER_PROGRAM = path.resolve(__dirname, '../../../examples/partner-operator/partner.js');
const DAY_MS = 24 * 3600 * 1000;
const WAIT = 60_000;

/** Problems of records against their documented messages on a partner channel of docs/asyncapi.yaml (partnerInbound by default). */
async function asyncApiProblems(records: readonly KafkaMessage[], address = 'sigillum.partner.{name}.inbound'): Promise<string[]> {
  const parsed = await new Parser().parse(fs.readFileSync(path.resolve(__dirname, '../../../docs/asyncapi.yaml'), 'utf8'));
  if (!parsed.document) return parsed.diagnostics.filter((d) => d.severity === 0).map((d) => d.message);
  // The ajv (and its formats) that @asyncapi/parser itself depends on, as libs/contracts/src/asyncapi.int-spec.ts does.
  const requireFromParser = createRequire(require.resolve('@asyncapi/parser'));
  const Ajv = requireFromParser('ajv').default;
  const addFormats = requireFromParser('ajv-formats').default;
  const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
  const channel = parsed.document
    .channels()
    .all()
    .find((candidate) => candidate.address() === address);
  if (!channel) return [`no channel ${address}`];
  const problems: string[] = [];
  for (const record of records) {
    const headers = Object.fromEntries(Object.entries(record.headers ?? {}).map(([name, value]) => [name, String(value)]));
    const message = channel
      .messages()
      .all()
      .find((candidate) => candidate.name() === headers.ce_type?.replace('sigillum.partner.', ''));
    if (!message) {
      problems.push(`no message documented for ${headers.ce_type}`);
      continue;
    }
    const checks: [string, unknown, unknown][] = [
      ['payload', message.payload()?.json(), JSON.parse(record.value!.toString('utf8'))],
      ['headers', message.headers()?.json(), headers],
      ['key', (message.bindings().get('kafka')?.value() as { key?: unknown } | undefined)?.key, record.key?.toString()],
    ];
    for (const [what, schema, value] of checks) {
      const validate = ajv.compile(schema);
      if (!validate(value)) problems.push(`${headers.ce_type} ${what}: ${JSON.stringify(validate.errors)}`);
    }
  }
  return problems;
}

if (!brokers) {
  reportSkippedKafka('partner operator over Kafka e2e');
  describe.skip('partner operator over Kafka — Kafka suites not enabled', () => {
    it('runs against a real broker only', () => undefined);
  });
} else {
  describe('a partner operator answers its print-and-post tokens over Kafka', () => {
    const partnerName = `e2e-${randomBytes(4).toString('hex')}`;
    const inboundTopic = `sigillum.partner.${partnerName}.inbound`;
    const deadLetterTopic = `${inboundTopic}.dlq`;
    const tokensTopic = `sigillum.partner.${partnerName}.tokens`;
    const mail = new MailCatcher();
    const kafka = new Kafka({ clientId: 'partner-e2e', brokers: brokers.split(',').map((b) => b.trim()), logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    let dataDir: string;
    let partnerDir: string;
    let app: INestApplication | undefined;
    let partner: ChildProcess | undefined;
    let partnerLog = '';
    let base: string;
    let store: EventStore;
    let api: Api;
    let admin: Api;
    let registrar: Api;
    let ops: Api;
    let partnerId: string;
    let partnerKeyId: string;
    let partnerCertificateId: string;
    let aliceSession: OpenedSession;
    let bob: string;
    let carol: string;
    let carolSession: OpenedSession;
    /** Another operator, certified by the same CA, whose key the test holds: it must not speak for the partner. */
    let mallory: { operatorId: string; keyId: string; certificateId: string; certificatePem: string; privateKey: KeyObject };
    let caPem: string;
    const inbound: KafkaMessage[] = [];
    const deadLetters: KafkaMessage[] = [];
    /** What the processor put on the partner's tokens topic (all the partner reads). */
    const tokenRecords: KafkaMessage[] = [];
    const consumers: ReturnType<Kafka['consumer']>[] = [];
    const cleanups: (() => void)[] = [];

    async function start(extraEnv: Record<string, string>): Promise<void> {
      const config: SigillumConfig = loadConfig({
        ...mail.env(),
        EVENT_BUS: 'kafka',
        KAFKA_BROKERS: brokers!,
        DATA_DIR: dataDir,
        PORT: '0',
        LOG_LEVEL: 'warn',
        SESSION_REQUEST_WAIT_MS: '10000',
        SEND_AWAIT_MS: '10000',
        KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret',
        ...extraEnv,
      });
      app = await createSigillumApp(config, rolesFor(config.roles));
      await app.startAllMicroservices();
      await app.listen(0, '127.0.0.1');
      base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
      store = app.get(EVENT_STORE);
      api = (method, url, body, headers) => call(base, method, url, body, headers);
      const [registrarToken, opsToken] = [
        await issueStaffToken(base, dataDir, ['registrar'], `registrar-${randomUUID()}`),
        await issueStaffToken(base, dataDir, ['ops'], `ops-${randomUUID()}`),
      ];
      admin = asBearer(api, adminCredentialOf(dataDir));
      registrar = asBearer(api, registrarToken);
      ops = asBearer(api, opsToken);
    }

    /** Reads a topic from its start with a group of its own, into `into`. */
    async function follow(topic: string, into: KafkaMessage[]): Promise<void> {
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] }).catch(() => undefined);
      await admin.disconnect();
      const consumer = kafka.consumer({ groupId: `partner-e2e-${randomUUID()}`, sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
      consumers.push(consumer);
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void into.push(message) });
    }

    async function startPartner(): Promise<void> {
      partnerLog = '';
      const child = spawn(process.execPath, [PARTNER_PROGRAM, 'run', partnerDir], {
        env: { ...process.env, KAFKA_BROKERS: brokers! },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      partner = child;
      child.stdout!.on('data', (chunk: Buffer) => (partnerLog += chunk.toString('utf8')));
      child.stderr!.on('data', (chunk: Buffer) => (partnerLog += chunk.toString('utf8')));
      await eventually(() => {
        if (child.exitCode !== null) throw new Error(`the partner exited (${child.exitCode}): ${partnerLog}`);
        expect(partnerLog).toContain('answering its tokens');
      }, WAIT);
    }

    const jobOf = async (tokenId: string) => (await store.readStream(streamIdOf(JOB_CATEGORY, tokenId))).map(({ event }) => event as JobEvent);
    const header = (record: KafkaMessage, name: string) => record.headers?.[name]?.toString();
    const dataOf = (record: KafkaMessage) => JSON.parse(record.value!.toString('utf8')) as Record<string, unknown>;

    /** Writes one command record to the partner's topic, as a partner would (binary-mode CloudEvent, key job-<tokenId>). */
    async function sendCommand(type: string, data: Record<string, unknown>, id: string = randomUUID()): Promise<string> {
      await producer.send({
        topic: inboundTopic,
        acks: -1,
        messages: [
          {
            key: `job-${String(data.tokenId)}`,
            value: JSON.stringify(data),
            headers: {
              ce_specversion: '1.0',
              ce_id: id,
              ce_type: type,
              ce_source: '/partner/e2e-test',
              ce_time: new Date().toISOString(),
              ce_correlationid: String(data.correspondenceId),
              ce_causationid: String(data.tokenId),
              ce_dataversion: '1',
              'content-type': 'application/json',
            },
          },
        ],
      });
      return id;
    }

    /** The dead letter of the command whose ce_id is `id`, with its reason. */
    const deadLetterOf = (id: string) =>
      eventually(() => {
        const found = deadLetters.find((record) => header(record, 'ce_id') === id);
        if (!found) throw new Error(`no dead letter for ${id} yet (${deadLetters.length} dead letters)`);
        return header(found, 'dlq_reason') ?? '';
      }, WAIT);

    /** A detached EdDSA JWS over canonicalize(payload), with this x5c chain (standard base64 DER). */
    function signDetached(payload: unknown, privateKey: KeyObject, x5cPems: readonly string[], kid: string): string {
      const der = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
      const encodedHeader = Buffer.from(canonicalize({ alg: 'EdDSA', kid, x5c: x5cPems.map(der) })).toString('base64url');
      const input = `${encodedHeader}.${Buffer.from(canonicalize(payload)).toString('base64url')}`;
      return `${encodedHeader}..${sign(null, Buffer.from(input, 'ascii'), privateKey).toString('base64url')}`;
    }

    async function sendLetter(subject: string, session: OpenedSession = aliceSession, recipientId: string = bob, kind = 'hybrid'): Promise<string> {
      const content = `${subject}\n${'x'.repeat(64)}\n`;
      const uploaded = await fetch(`${base}/contents`, {
        method: 'PUT',
        headers: { ...session.auth, 'content-type': 'text/plain' },
        body: Buffer.from(content),
      });
      expect(uploaded.status).toBe(201);
      const part = (await uploaded.json()) as { digest: string };
      const draft = await api(
        'POST',
        '/drafts',
        { recipientIds: [recipientId], subject, kind, parts: [{ digest: part.digest, name: 'letter.txt', contentType: 'text/plain' }] },
        session.auth,
      );
      const specimen = await api('POST', `/drafts/${draft.draftId}/specimen`, undefined, session.auth);
      await api('POST', `/drafts/${draft.draftId}/validation`, { specimenDigest: specimen.specimenDigest }, session.auth);
      const sent = await api('POST', `/drafts/${draft.draftId}/sending`, { submissionKey: randomUUID() }, session.auth);
      return sent.correspondenceId as string;
    }

    /** The chain of a correspondence once completed. */
    const completedChain = (correspondenceId: string) =>
      eventually(async () => {
        const view = await ops('GET', `/chains/${correspondenceId}`);
        if (view.status === 'failed') throw new Error(`the chain failed: ${JSON.stringify(view)}\npartner log:\n${partnerLog}`);
        expect(view.status).toBe('completed');
        return view;
      }, 120_000);

    /** The TokenIssued records of the partner's tokens topic, with their bodies. */
    const tokenIssued = () =>
      tokenRecords.map((record) => ({
        id: header(record, 'ce_id'),
        type: header(record, 'ce_type'),
        key: record.key?.toString(),
        data: dataOf(record) as { token: CertificationToken; recipients?: unknown[] },
      }));

    /** The print-and-post token of a correspondence, once issued. */
    const printToken = (correspondenceId: string) =>
      eventually(async () => {
        const recorded = (await store.readStream(streamIdOf(CHAIN_CATEGORY, correspondenceId))).map(({ event }) => event as ChainEvent);
        const issued = recorded.find((event) => event.type === 'StepTokenIssued' && event.data.token.step === 'print-and-post');
        if (issued?.type !== 'StepTokenIssued') throw new Error('no print-and-post token yet');
        return issued.data.token as CertificationToken;
      }, WAIT);

    beforeAll(async () => {
      await mail.start();
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-partner-e2e-'));
      partnerDir = path.join(dataDir, 'partner');
      await producer.connect();

      // 1. The operator of this Sigillum registers the partner, certifies its legal facts and its key (which the
      //    partner made itself: only the public key leaves it).
      await start({});
      const now = new Date();
      partnerId = (await admin('POST', '/parties', { kind: 'operator', operatorRole: 'processing', displayName: 'Acme Post (partner)' })).partyId;
      await admin('PUT', `/parties/${partnerId}/specification`, { version: 1, steps: [{ step: 'print-and-post', parameters: {}, maxDurationSeconds: 300 }] });
      const publicKeyPem = execFileSync(process.execPath, [PARTNER_PROGRAM, 'key', partnerDir], { encoding: 'utf8' });
      expect(publicKeyPem).toContain('BEGIN PUBLIC KEY');
      partnerKeyId = (await admin('POST', `/parties/${partnerId}/keys`, { algorithm: 'Ed25519', use: 'signature', publicKeyPem })).keyId;
      for (const name of ['legalName', 'operatorAccreditation']) {
        await registrar('POST', `/parties/${partnerId}/certifications`, {
          name,
          level: 'substantial',
          validUntil: new Date(now.getTime() + 365 * DAY_MS).toISOString(),
          evidence: DEMO_EVIDENCE,
        });
      }
      const certificate = await admin('POST', '/certificates', { partyId: partnerId, keyId: partnerKeyId, profile: 'signing' });
      partnerCertificateId = certificate.certificateId;
      caPem = await fetch(`${base}/ca/certificate`).then((response) => response.text());
      if (!caPem.includes('BEGIN CERTIFICATE')) caPem = JSON.parse(caPem).certificatePem;
      fs.writeFileSync(path.join(partnerDir, 'certificate.pem'), certificate.certificatePem);
      fs.writeFileSync(path.join(partnerDir, 'ca.pem'), caPem);
      fs.writeFileSync(
        path.join(partnerDir, 'partner.json'),
        JSON.stringify({ name: partnerName, operatorId: partnerId, keyId: partnerKeyId, certificateId: partnerCertificateId }, null, 2),
      );

      // Mallory: another operator, certified by the same CA, whose key the test holds.
      const malloryKeys = generateKeyPairSync('ed25519');
      const malloryId = (await admin('POST', '/parties', { kind: 'operator', operatorRole: 'processing', displayName: 'Mallory Post' })).partyId;
      const malloryKeyId = (
        await admin('POST', `/parties/${malloryId}/keys`, {
          algorithm: 'Ed25519',
          use: 'signature',
          publicKeyPem: malloryKeys.publicKey.export({ type: 'spki', format: 'pem' }),
        })
      ).keyId;
      const malloryCertificate = await admin('POST', '/certificates', { partyId: malloryId, keyId: malloryKeyId, profile: 'signing' });
      mallory = {
        operatorId: malloryId,
        keyId: malloryKeyId,
        certificateId: malloryCertificate.certificateId,
        certificatePem: malloryCertificate.certificatePem,
        privateKey: malloryKeys.privateKey,
      };
      await app!.close();

      // 2. The processor is told about the partner (PROCESSOR_PARTNERS) and restarted: it now reads the partner's topic.
      await start({ PROCESSOR_PARTNERS: `${partnerName}=${partnerId}` });
      await enrolHostedOperator(
        { admin, registrar },
        { displayName: 'Hermes Processing', steps: ['seal', 'timestamp', 'deliver', 'archive'], level: 'substantial', now },
      );
      const alice = await enrolPerson(registrar, mail, { displayName: 'Alice Martin', email: 'alice@example.org', level: 'substantial', now });
      bob = await enrolPerson(registrar, mail, {
        displayName: 'Bob Durand',
        email: 'bob@example.org',
        level: 'substantial',
        now,
        address: '1 rue de la Paix, 75002 Paris',
      });
      // Carol, in the directory with a postal address too, receives only a registered letter (all its steps hosted).
      carol = await enrolPerson(registrar, mail, {
        displayName: 'Carol Lenoir',
        email: 'carol@example.org',
        level: 'substantial',
        now,
        address: '9 quai des Brumes, 69002 Lyon',
      });
      await awaitChainOperator(ops, 'print-and-post', partnerId);
      aliceSession = await openSession(api, mail, { userId: alice, counterpartIds: [bob], kind: 'hybrid' });
      carolSession = await openSession(api, mail, { userId: alice, counterpartIds: [carol], kind: 'registered' });

      await follow(inboundTopic, inbound);
      await follow(deadLetterTopic, deadLetters);
      await follow(tokensTopic, tokenRecords);
      // 3. The partner runs, outside Sigillum.
      await startPartner();
    }, 300_000);

    afterAll(async () => {
      partner?.kill('SIGTERM');
      await Promise.allSettled(consumers.map((consumer) => consumer.disconnect()));
      await producer.disconnect().catch(() => undefined);
      await app?.close();
      await mail.stop();
      for (const cleanup of cleanups) cleanup();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }, 60_000);

    let certifiedToken: CertificationToken;

    it('a hybrid letter: the partner acknowledges and returns its print-and-post token over Kafka, the certifier certifies the step and the chain completes', async () => {
      const correspondenceId = await sendLetter('posted by a partner');
      const chain = await completedChain(correspondenceId);
      expect(chain.steps.map((step: { step: string; status: string }) => `${step.step}:${step.status}`)).toEqual([
        'seal:certified',
        'timestamp:certified',
        'print-and-post:certified',
        'archive:certified',
      ]);
      const printStep = chain.steps[2];
      expect(printStep.tokens[0]).toMatchObject({ operatorId: partnerId, status: 'certified', attempt: 1 });

      certifiedToken = await printToken(correspondenceId);
      const job = await jobOf(certifiedToken.tokenId);
      expect(job.map((event) => event.type)).toEqual(['TokenAcknowledged', 'TokenReturned']);
      const returned = job[1];
      if (returned.type !== 'TokenReturned') throw new Error('not a return');
      expect(returned.data).toMatchObject({ operatorId: partnerId, keyId: partnerKeyId });
      const output = returned.data.report.output;
      if (output.step !== 'print-and-post') throw new Error('not a print-and-post output');
      expect(output.addressBlock).toEqual(['Bob Durand', '1 rue de la Paix', '75002 Paris', 'FR']);
      expect(output.contentDigest).toBe(certifiedToken.inputDigest);
      // The print job the partner wrote, with the same address block and digests.
      const printJob = JSON.parse(fs.readFileSync(path.join(partnerDir, output.location), 'utf8'));
      expect(printJob).toMatchObject({
        format: 'sigillum.print-job/1',
        tokenId: certifiedToken.tokenId,
        correspondenceId,
        letters: [{ recipientId: bob, contentDigest: certifiedToken.inputDigest }],
      });
      expect(printJob.letters[0].addressBlock).toEqual(output.addressBlock);
      // The partner's commands, as they are on its topic: binary-mode CloudEvents keyed by the job stream.
      await eventually(() => expect(inbound.filter((record) => record.key?.toString() === `job-${certifiedToken.tokenId}`)).toHaveLength(2), WAIT);
      // ... which docs/asyncapi.yaml documents: headers, key and closed body of each.
      expect(await asyncApiProblems(inbound.filter((record) => record.key?.toString() === `job-${certifiedToken.tokenId}`))).toEqual([]);
      expect(deadLetters).toHaveLength(0);
    }, 180_000);

    it("the partner's tokens topic carries its own tokens only, with the address blocks of that letter's recipients only", async () => {
      // A registered letter to Carol: every step (seal, timestamp, deliver, archive) goes to the hosted operator.
      const registered = await sendLetter('all steps hosted', carolSession, carol, 'registered');
      const hostedChain = await completedChain(registered);
      expect(hostedChain.steps.every((step: { tokens: { operatorId: string }[] }) => step.tokens.every((token) => token.operatorId !== partnerId))).toBe(true);

      // The hybrid letter's print-and-post token is there (once; a redelivery would repeat the same ce_id) ...
      await eventually(() => expect(tokenIssued().some((record) => record.data.token.tokenId === certifiedToken.tokenId)).toBe(true), WAIT);
      const records = tokenIssued();
      expect(new Set(records.map((record) => record.id)).size).toBe(1);
      const [record] = records;
      expect(record).toMatchObject({ type: 'sigillum.partner.TokenIssued', key: `job-${certifiedToken.tokenId}` });
      // ... the token exactly as the certifier signed it (the one in chain-<correspondenceId>) ...
      expect(record.data.token).toEqual(certifiedToken);
      // ... with Bob's address block, the letter's only recipient, and nothing else.
      expect(record.data.recipients).toEqual([{ recipientId: bob, addressBlock: ['Bob Durand', '1 rue de la Paix', '75002 Paris', 'FR'], country: 'FR' }]);
      expect(Object.keys(record.data).sort()).toEqual(['recipients', 'signature', 'token']);
      // The certifier signed the partner's token with x5c (its operator is not hosted): the contract's check works as is.
      const tokenHeader = JSON.parse(
        Buffer.from(String((record.data as { signature?: unknown }).signature).split('.')[0], 'base64url').toString('utf8'),
      ) as Record<string, unknown>;
      expect(tokenHeader.x5c).toHaveLength(2);
      expect(tokenHeader['x5t#S256']).toBeUndefined();
      // Not the hosted operator's tokens of the same letter, nothing of the registered letter, no other party.
      expect(records.every((each) => each.data.token.operatorId === partnerId && each.data.token.step === 'print-and-post')).toBe(true);
      expect(records.some((each) => each.data.token.correspondenceId === registered)).toBe(false);
      const everything = tokenRecords.map((each) => `${each.key?.toString()} ${each.value?.toString()}`).join('\n');
      for (const absent of [registered, carol, 'Carol Lenoir', 'quai des Brumes', 'Alice Martin', 'Hermes Processing'])
        expect(everything).not.toContain(absent);
      // As docs/asyncapi.yaml documents it (channel partnerTokens): headers, key and closed body.
      expect(await asyncApiProblems(tokenRecords, 'sigillum.partner.{name}.tokens')).toEqual([]);
    }, 180_000);

    it("a command signed under another operator's certificate of the same CA is refused, nothing appended", async () => {
      const before = await jobOf(certifiedToken.tokenId);
      const acknowledgedAt = new Date().toISOString();
      const tokenDigest = createHash('sha256').update(canonicalize(certifiedToken)).digest('hex');
      const payload = { tokenId: certifiedToken.tokenId, tokenDigest, acknowledgedAt };
      const common = { tokenId: certifiedToken.tokenId, correspondenceId: certifiedToken.correspondenceId, operatorId: partnerId, tokenDigest, acknowledgedAt };
      // Mallory signs with her own certified key, naming the partner's key and certificate: the x5c leaf is not that certificate.
      const asPartner = await sendCommand('sigillum.partner.AcknowledgeToken', {
        ...common,
        keyId: partnerKeyId,
        certificateId: partnerCertificateId,
        signature: signDetached(payload, mallory.privateKey, [mallory.certificatePem, caPem], partnerKeyId),
      });
      expect(await deadLetterOf(asPartner)).toMatch(/^poison message: refused certificate\.mismatch: /);
      // Naming her own key and certificate: they are not the partner operator's.
      const asHerself = await sendCommand('sigillum.partner.AcknowledgeToken', {
        ...common,
        keyId: mallory.keyId,
        certificateId: mallory.certificateId,
        signature: signDetached(payload, mallory.privateKey, [mallory.certificatePem, caPem], mallory.keyId),
      });
      expect(await deadLetterOf(asHerself)).toMatch(/refused certificate\.mismatch: /);
      // A certificate of another CA for her key: the chain does not lead to the Sigillum CA.
      const rogueDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-rogue-ca-'));
      cleanups.push(() => fs.rmSync(rogueDir, { recursive: true, force: true }));
      const rogue = CertificateAuthority.loadOrCreate(FileKeyStore.open({ directory: rogueDir, passphrase: 'rogue passphrase' }), {
        commonName: 'Sigillum CA',
        organisation: 'Sigillum',
        validityDays: 30,
        now: new Date(),
      }).ca;
      const rogueKeys = generateKeyPairSync('ed25519');
      const rogueLeaf = rogue.issue({
        subject: { commonName: 'Acme Post', organisationalUnit: partnerId },
        publicKeyPem: rogueKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        profile: 'signing',
        validityDays: 30,
        now: new Date(),
      });
      const underRogueCa = await sendCommand('sigillum.partner.AcknowledgeToken', {
        ...common,
        keyId: partnerKeyId,
        certificateId: partnerCertificateId,
        signature: signDetached(payload, rogueKeys.privateKey, [rogueLeaf.certificatePem, rogue.caCertificatePem], partnerKeyId),
      });
      expect(await deadLetterOf(underRogueCa)).toMatch(/refused signature\.invalid: .*jws\.chain\.untrusted/);
      // A body with a field no command has: refused by the reader, before anything else.
      const malformed = await sendCommand('sigillum.partner.AcknowledgeToken', {
        ...common,
        keyId: partnerKeyId,
        certificateId: partnerCertificateId,
        signature: 'x..y',
        extra: true,
      });
      expect(await deadLetterOf(malformed)).toMatch(/refused command\.malformed: .*unknown field\(s\) extra/);
      expect(await jobOf(certifiedToken.tokenId)).toEqual(before);
    }, 120_000);

    it('the same commands received again change nothing; a second, different return — validly signed — is refused', async () => {
      const key = `job-${certifiedToken.tokenId}`;
      const originals = inbound.filter((record) => record.key?.toString() === key && header(record, 'ce_id') !== undefined).slice(0, 2);
      expect(originals.map((record) => header(record, 'ce_type'))).toEqual(['sigillum.partner.AcknowledgeToken', 'sigillum.partner.ReturnToken']);
      const before = await jobOf(certifiedToken.tokenId);
      // Received again, as they are (same ce_id), and as new records (another ce_id): nothing changes, nothing is refused.
      for (const record of originals) {
        await sendCommand(header(record, 'ce_type')!, dataOf(record), header(record, 'ce_id'));
        await sendCommand(header(record, 'ce_type')!, dataOf(record));
      }
      // A different return, signed with the partner's own certified key: a token is returned once.
      const privateKey = createPrivateKey(fs.readFileSync(path.join(partnerDir, 'signing-key.pem')));
      const firstReturn = dataOf(originals[1]) as { report: Record<string, unknown> };
      const report = { ...firstReturn.report, finishedAt: new Date().toISOString() };
      const certificatePem = fs.readFileSync(path.join(partnerDir, 'certificate.pem'), 'utf8');
      const second = await sendCommand('sigillum.partner.ReturnToken', {
        tokenId: certifiedToken.tokenId,
        correspondenceId: certifiedToken.correspondenceId,
        operatorId: partnerId,
        keyId: partnerKeyId,
        certificateId: partnerCertificateId,
        report,
        returnedAt: new Date().toISOString(),
        signature: signDetached(report, privateKey, [certificatePem, caPem], partnerKeyId),
      });
      // Same key, same partition: once the last one is dead-lettered, the duplicates before it were handled.
      expect(await deadLetterOf(second)).toMatch(/refused return\.already-recorded: /);
      const refusedIds = deadLetters.map((record) => header(record, 'ce_id'));
      for (const record of originals) expect(refusedIds).not.toContain(header(record, 'ce_id'));
      expect(deadLetters.filter((record) => header(record, 'ce_type') === 'sigillum.partner.ReturnToken')).toHaveLength(1);
      expect(await jobOf(certifiedToken.tokenId)).toEqual(before);
    }, 120_000);
  });
}
