/**
 * `npm run demo:session`: claim 1 told step by step. Starts Sigillum in this process (embedded, or on Kafka
 * when KAFKA_BROKERS is set) and a local SMTP server standing for the user's mailbox. The admin (first-start
 * credential) issues staff credentials and registers a processing operator; registrar-1 enrols and certifies the
 * parties; Alice, anonymous until then, opens a session with the code received by e-mail and closes it with its
 * credential. Each step is printed with the events it recorded; the code and the credential are masked in the
 * output, as they would be in any log.
 */
import { generateKeyPairSync } from 'node:crypto';
import { runDemo, staffOf } from './narrator';
import { STAFF_SUBJECTS as who } from './staff';
import { DEMO_EVIDENCE as evidence } from './story';

runDemo({
  title: 'Sigillum — opening a strongly authenticated session (patent US8813208, claim 1)',
  story: async (demo) => {
    const { api, mailbox, narrator } = demo;
    const year = new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString();
    const { admin, registrar } = await staffOf(demo);

    narrator.title(`The admin registers a processing operator, what it does and its key; ${who.registrar} certifies it`);
    const operator = (await admin('POST', '/parties', { kind: 'operator', operatorRole: 'processing', displayName: 'Acme Processing' })).partyId;
    await admin('PUT', `/parties/${operator}/specification`, {
      version: 1,
      steps: ['seal', 'timestamp', 'deliver', 'archive'].map((step) => ({ step, parameters: {}, maxDurationSeconds: 600 })),
    });
    const { publicKey } = generateKeyPairSync('ed25519');
    const key = await admin('POST', `/parties/${operator}/keys`, {
      algorithm: 'Ed25519',
      use: 'signature',
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
    });
    await registrar('POST', `/parties/${operator}/certifications`, { name: 'legalName', level: 'substantial', validUntil: year, evidence });
    await registrar('POST', `/parties/${operator}/certifications`, { name: 'operatorAccreditation', level: 'substantial', validUntil: year, evidence });
    const certificate = await admin('POST', '/certificates', { partyId: operator, keyId: key.keyId, profile: 'signing' });
    narrator.say(`the admin has the CA issue an X.509 certificate for its Ed25519 key: serial ${certificate.serialNumber}, issued by ${certificate.issuer}`);
    narrator.say(`${who.registrar} certifies its legal name and its accreditation as an operator, "substantial"`);
    await narrator.events();

    narrator.title(`${who.registrar} registers Alice (sender) and Bob (counterpart), and enrols Alice's e-mail as her second channel`);
    const alice = (await registrar('POST', '/parties', { kind: 'person', displayName: 'Alice Martin' })).partyId;
    const bob = (await registrar('POST', '/parties', { kind: 'person', displayName: 'Bob Durand' })).partyId;
    const before = mailbox.mails.length;
    const channel = await registrar('POST', `/parties/${alice}/channels`, { kind: 'email', address: 'alice.martin@example.org' });
    const enrolmentCode = await mailbox.codeFor(channel.channelId, { after: before });
    narrator.say(`a verification code reached ${channel.maskedAddress} by SMTP; Alice reads it to ${who.registrar}, who types it back`);
    await registrar('POST', `/parties/${alice}/channels/${channel.channelId}/verification`, { code: enrolmentCode });
    await narrator.events();

    narrator.title(`${who.registrar} certifies their identity attributes at level "substantial"`);
    for (const party of [alice, bob]) {
      for (const name of ['legalName', 'dateOfBirth']) {
        await registrar('POST', `/parties/${party}/certifications`, { name, level: 'substantial', validUntil: year, evidence });
      }
    }
    const trust = await registrar('GET', `/parties/${alice}/trust`);
    narrator.say(`Alice now holds level "${trust.level}" under policy ${trust.policyId}`);
    await narrator.events();

    narrator.title('Alice asks her domicile to open a session for a registered letter to Bob');
    narrator.say('her client is anonymous: opening a session is how a party authenticates');
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

    narrator.title('Alice closes the session, authenticated by it');
    await api('DELETE', `/sessions/${session.sessionId}`, undefined, { authorization: `Bearer ${opened.credential}`, 'x-sigillum-session': session.sessionId });
    const closed = await api('GET', `/sessions/${session.sessionId}`);
    const after = await fetch(`${demo.base}/inbox`, { headers: { authorization: `Bearer ${opened.credential}`, 'x-sigillum-session': session.sessionId } });
    narrator.say(`session ${closed.status}; its credential is refused from now on (GET /inbox → HTTP ${after.status})`);
    await narrator.events();
  },
});
