/**
 * `npm run demo:session`: claim 1 told step by step. Starts Sigillum in this process (embedded, or on Kafka
 * when KAFKA_BROKERS is set) and a local SMTP server standing for the user's mailbox, registers and
 * certifies the parties, opens a session with the code received by e-mail, and prints each step with the
 * events it recorded. The code and the credential are masked in the output, as they would be in any log.
 */
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { LoopbackMailbox } from '@sigillum/channels';
import { ConfigError, loadConfig } from '@sigillum/config';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { rolesFor } from '../roles';

import { bold, call, Narrator } from './narrator';

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-demo-session-'));
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
      KEYSTORE_PASSPHRASE: process.env.KEYSTORE_PASSPHRASE ?? 'demo passphrase for a throw-away data directory',
    });
    app = await createSigillumApp(config, rolesFor(config.roles));
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    const base = await app.getUrl();
    const store = app.get<EventStore>(EVENT_STORE);
    const narrator = new Narrator(store);
    const api = (method: string, url: string, body?: unknown, headers?: Record<string, string>) => call(base, method, url, body, headers);
    const year = new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString();
    const evidence = { method: 'in-person-id-check', reference: 'demo-file-1', verifiedBy: 'certification-officer-1' };

    process.stdout.write(
      `${bold('Sigillum — opening a strongly authenticated session (patent US8813208, claim 1)')}\n` +
        `   bus ${config.eventBus.kind}${kafka ? ` (${kafka})` : ''}, store ${config.eventStore.kind}, data in ${dataDir}\n` +
        `   the user's mailbox is a local SMTP server on 127.0.0.1:${mailbox.port}\n`,
    );
    await narrator.events(500); // the CA and the level policy are established at first start
    await narrator.skipHistory();

    narrator.title('A processing operator registers, declares what it does, and is certified');
    const operator = (await api('POST', '/parties', { kind: 'operator', operatorRole: 'processing', displayName: 'Acme Processing' })).partyId;
    await api('PUT', `/parties/${operator}/specification`, {
      version: 1,
      steps: ['seal', 'timestamp', 'deliver', 'archive'].map((step) => ({ step, parameters: {}, maxDurationSeconds: 600 })),
    });
    const { publicKey } = generateKeyPairSync('ed25519');
    const key = await api('POST', `/parties/${operator}/keys`, { algorithm: 'Ed25519', use: 'signature', publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) });
    await api('POST', `/parties/${operator}/certifications`, { name: 'legalName', level: 'substantial', validUntil: year, evidence });
    await api('POST', `/parties/${operator}/certifications`, { name: 'operatorAccreditation', level: 'substantial', validUntil: year, evidence });
    const certificate = await api('POST', '/certificates', { partyId: operator, keyId: key.keyId, profile: 'signing' });
    narrator.say(`X.509 certificate for its Ed25519 key: serial ${certificate.serialNumber}, issued by ${certificate.issuer}`);
    await narrator.events();

    narrator.title('Alice (sender) and Bob (counterpart) register; Alice enrols her e-mail as second channel');
    const alice = (await api('POST', '/parties', { kind: 'person', displayName: 'Alice Martin' })).partyId;
    const bob = (await api('POST', '/parties', { kind: 'person', displayName: 'Bob Durand' })).partyId;
    const before = mailbox.mails.length;
    const channel = await api('POST', `/parties/${alice}/channels`, { kind: 'email', address: 'alice.martin@example.org' });
    const enrolmentCode = await mailbox.codeFor(channel.channelId, { after: before });
    narrator.say(`a verification code reached ${channel.maskedAddress} by SMTP; Alice types it back`);
    await api('POST', `/parties/${alice}/channels/${channel.channelId}/verification`, { code: enrolmentCode });
    await narrator.events();

    narrator.title('The certifier certifies their identity attributes at level "substantial"');
    for (const party of [alice, bob]) {
      for (const name of ['legalName', 'dateOfBirth']) {
        await api('POST', `/parties/${party}/certifications`, { name, level: 'substantial', validUntil: year, evidence });
      }
    }
    const trust = await api('GET', `/parties/${alice}/trust`);
    narrator.say(`Alice now holds level "${trust.level}" under policy ${trust.policyId}`);
    await narrator.events();

    narrator.title('Alice asks her domicile to open a session for a registered letter to Bob');
    const mailsBefore = mailbox.mails.length;
    const session = await api('POST', '/sessions', { userId: alice, counterpartIds: [bob], correspondenceKind: 'registered' });
    narrator.say(`trust check of Alice, Bob and the chain operator passed; code sent to ${session.channel?.maskedAddress}; session ${session.sessionId}`);
    await narrator.events();

    narrator.title('The code arrives on the second channel; Alice types it into the domicile');
    const code = await mailbox.codeFor(session.sessionId, { after: mailsBefore });
    const mail = mailbox.mails[mailbox.mails.length - 1].text;
    narrator.say(`the mail names the session (${mail.includes(session.sessionId) ? 'yes' : 'NO'}) and carries a ${code.length}-digit code (masked here)`);
    const opened = await api('POST', `/sessions/${session.sessionId}/code`, { code });
    narrator.say(`session open; credential ${opened.credential.slice(0, 4)}… (idle ${opened.idleTimeoutSeconds}s, absolute until ${opened.absoluteExpiresAt})`);
    await narrator.events();

    narrator.title('Alice closes the session');
    await api('DELETE', `/sessions/${session.sessionId}`, undefined, { authorization: `Bearer ${opened.credential}` });
    await narrator.events();

    process.stdout.write(`\n${bold('Done.')} Every step above is an event in ${config.eventStore.kind}; none carries the code, the credential or a private key.\n`);
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
