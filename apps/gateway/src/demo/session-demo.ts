/**
 * `npm run demo:session`: claim 1 told step by step. Starts Sigillum in this process (embedded, or on Kafka
 * when KAFKA_BROKERS is set) and a local SMTP server standing for the user's mailbox, registers and
 * certifies the parties, opens a session with the code received by e-mail, and prints each step with the
 * events it recorded. The code and the credential are masked in the output, as they would be in any log.
 */
import { generateKeyPairSync } from 'node:crypto';
import { runDemo } from './narrator';
import { DEMO_EVIDENCE as evidence } from './story';

runDemo({
  title: 'Sigillum — opening a strongly authenticated session (patent US8813208, claim 1)',
  story: async ({ api, mailbox, narrator }) => {
    const year = new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString();

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

  },
});
