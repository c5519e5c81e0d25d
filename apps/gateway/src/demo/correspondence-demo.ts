/**
 * `npm run demo`: the whole story of a registered letter. Starts Sigillum in this process (embedded, or on Kafka
 * when KAFKA_BROKERS is set) and a local SMTP server standing for the users' mailboxes; enrols a processing
 * operator hosted by the processor, a sender and a recipient; the sender opens a strong session, drafts, is shown
 * the specimen, validates it and sends; every step's certification token is issued, acknowledged, returned and
 * certified; the recipient opens its own session and accepts; the evidence chain is verified offline.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { LoopbackMailbox } from '@sigillum/channels';
import { ConfigError, loadConfig } from '@sigillum/config';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { verifyEvidenceChain } from '../../../certifier/src/evidence/evidence-verifier';
import { rolesFor } from '../roles';
import { bold, call, Narrator } from './narrator';
import { enrolHostedOperator, enrolPerson, openSession } from './story';

/** Polls `read` until `done` holds, for at most `ms`; says what it waited for when it gives up. */
async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what} after ${ms} ms; last answer: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-demo-'));
  const mailbox = await new LoopbackMailbox().start();
  const kafka = process.env.KAFKA_BROKERS?.trim();
  let app: INestApplication | undefined;
  try {
    const config = loadConfig({
      ...process.env,
      ...mailbox.env(),
      ...(kafka ? { EVENT_BUS: 'kafka' } : {}),
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      TIMER_POLL_MS: '200',
      KEYSTORE_PASSPHRASE: process.env.KEYSTORE_PASSPHRASE ?? 'demo passphrase for a throw-away data directory',
    });
    app = await createSigillumApp(config, rolesFor(config.roles));
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    const base = await app.getUrl();
    const store = app.get<EventStore>(EVENT_STORE);
    const narrator = new Narrator(store);
    const api = (method: string, url: string, body?: unknown, headers?: Record<string, string>) => call(base, method, url, body, headers);
    const now = new Date();

    process.stdout.write(
      `${bold('Sigillum — a registered letter from sender to recipient, every step certified (patent US8813208)')}\n` +
        `   bus ${config.eventBus.kind}${kafka ? ` (${kafka})` : ''}, store ${config.eventStore.kind}, data in ${dataDir}\n` +
        `   the users' mailboxes are a local SMTP server on 127.0.0.1:${mailbox.port}\n`,
    );
    await narrator.events(500);
    await narrator.skipHistory();

    narrator.title('A processing operator hosted by this processor: specification, keys, certificates, accreditation');
    const operator = await enrolHostedOperator(api, { displayName: 'Acme Processing', steps: ['seal', 'timestamp', 'deliver', 'archive'], level: 'substantial', now });
    narrator.say(`signing certificate serial ${operator.signingCertificate.serialNumber}, TSA certificate serial ${operator.tsaCertificate.serialNumber}`);
    await narrator.events();

    narrator.title('Alice (sender) and Bob (recipient) enrol an e-mail channel and are certified "substantial"');
    const alice = await enrolPerson(api, mailbox, { displayName: 'Alice Martin', email: 'alice.martin@example.org', level: 'substantial', now });
    const bob = await enrolPerson(api, mailbox, { displayName: 'Bob Durand', email: 'bob.durand@example.org', level: 'substantial', now });
    await narrator.events();

    narrator.title('Alice opens a strong session: trust check, one secret in two forms, the code typed back');
    const aliceSession = await openSession(api, mailbox, { userId: alice, counterpartIds: [bob], kind: 'registered' });
    narrator.say(`session ${aliceSession.sessionId} open (code went to ${aliceSession.maskedAddress}; masked here as in any log)`);
    await narrator.events();

    narrator.title('Alice uploads the letter (content store, addressed by SHA-256) and drafts the correspondence');
    const letter = Buffer.from('Dear Bob,\nplease find our notice of termination, effective 1 March.\nAlice\n', 'utf8');
    const uploaded = (await fetch(`${base}/contents`, { method: 'PUT', headers: { ...aliceSession.auth, 'content-type': 'text/plain' }, body: letter }).then((r) => r.json())) as { digest: string; size: number };
    const draft = await api(
      'POST',
      '/drafts',
      { recipientIds: [bob], subject: 'Notice of termination', kind: 'registered', parts: [{ digest: uploaded.digest, name: 'notice.txt', contentType: 'text/plain' }] },
      aliceSession.auth,
    );
    narrator.say(`draft ${draft.draftId}: one part, ${uploaded.size} bytes, sha256 ${uploaded.digest.slice(0, 16)}…`);
    await narrator.events();

    narrator.title('Alice is shown the specimen and validates it: the proof binds specimen, session and time, signed');
    const specimen = await api('POST', `/drafts/${draft.draftId}/specimen`, undefined, aliceSession.auth);
    const validated = await api('POST', `/drafts/${draft.draftId}/validation`, { specimenDigest: specimen.specimenDigest }, aliceSession.auth);
    narrator.say(`specimen ${specimen.specimenDigest.slice(0, 16)}…; proof ${String(validated.proof).slice(0, 24)}…`);
    await narrator.events();

    narrator.title('Alice sends: the delivery gate re-checks sender, recipient and every chain operator now');
    const submissionKey = `demo-${Date.now()}`;
    const sent = await api('POST', `/drafts/${draft.draftId}/sending`, { submissionKey }, aliceSession.auth);
    const again = await api('POST', `/drafts/${draft.draftId}/sending`, { submissionKey }, aliceSession.auth);
    narrator.say(`correspondence ${sent.correspondenceId}: ${sent.status}; sent again with the same key → ${again.correspondenceId === sent.correspondenceId ? 'the same correspondence' : 'ANOTHER ONE (bug)'}`);
    await narrator.events();

    narrator.title('The chain runs: per step a token issued by the certifier, acknowledged and returned by the operator, certified');
    const chain = await until('the processing chain to complete', () => api('GET', `/chains/${sent.correspondenceId}`), (c) => ['completed', 'failed'].includes(c.status));
    for (const step of chain.steps ?? []) narrator.say(`${String(step.step).padEnd(10)} ${step.status}`);
    await narrator.events();

    narrator.title('Bob is notified, opens his own strong session, finds the letter in his inbox and accepts it');
    const bobSession = await openSession(api, mailbox, { userId: bob, counterpartIds: [alice], kind: 'registered' });
    const inbox = await until('the letter in Bob\'s inbox', () => api('GET', '/inbox', undefined, bobSession.auth), (box) => JSON.stringify(box).includes(sent.correspondenceId));
    narrator.say(`inbox: ${JSON.stringify(inbox).includes(sent.correspondenceId) ? 'the letter is there' : 'empty'}`);
    await api('POST', `/correspondences/${sent.correspondenceId}/acceptance`, {}, bobSession.auth);
    const read = await fetch(`${base}/correspondences/${sent.correspondenceId}/parts/${uploaded.digest}`, { headers: bobSession.auth });
    narrator.say(`Bob retrieves the part: HTTP ${read.status}, ${(await read.arrayBuffer()).byteLength} bytes`);
    await narrator.events();

    narrator.title('The evidence chain: EN 319 522 events, canonical JSON, JWS with x5c, each linked to the previous');
    const evidence = await until('the evidence of the handover', () => api('GET', `/evidence/${sent.correspondenceId}`), (e) => JSON.stringify(e).includes('ContentHandover'));
    const ca = await fetch(`${base}/ca/certificate`).then((r) => r.text());
    const records = evidence.records ?? evidence;
    const verdict = verifyEvidenceChain(records, ca.includes('BEGIN CERTIFICATE') ? ca : JSON.parse(ca).certificatePem);
    for (const record of records) narrator.say(`#${record.chainIndex} ${record.eventName}`);
    narrator.say(`offline verification against the CA certificate: ${verdict.valid ? 'VALID' : `INVALID ${JSON.stringify(verdict.problems)}`}`);
    if (!verdict.valid) throw new Error('The evidence chain does not verify');

    process.stdout.write(`\n${bold('Done.')} Every step above is an event in ${config.eventStore.kind}; none carries a code, a credential or a private key.\n`);
  } finally {
    await app?.close();
    await mailbox.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
    else process.stderr.write(`\nThe demo stopped: ${(error as Error).message}\nIf it mentions Kafka, start a broker with \`bash scripts/kafka.sh start\` or unset KAFKA_BROKERS.\n`);
    process.exit(1);
  },
);
