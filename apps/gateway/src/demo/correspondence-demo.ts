/**
 * `npm run demo`: the whole story of a registered letter. Starts Sigillum in this process (embedded, or on Kafka
 * when KAFKA_BROKERS is set) and a local SMTP server standing for the users' mailboxes. Everyone acts as themselves:
 * the admin (first-start credential) issues staff credentials and enrols a processing operator hosted by the
 * processor; registrar-1 certifies it and enrols a sender and a recipient; the sender opens a strong session,
 * drafts, is shown the specimen, validates it and sends; every step's certification token is issued, acknowledged,
 * returned and certified while ops-1 watches the chain; the recipient opens its own session and accepts; auditor-1
 * reads the evidence chain, which anyone verifies offline against the public CA certificate.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { verifyEvidenceChain } from '@sigillum/evidence';
import { runDemo, staffOf } from './narrator';
import { issueStaffCredential, STAFF_SUBJECTS as who } from './staff';
import { enrolHostedOperator, enrolPerson, openSession, until } from './story';

runDemo({
  title: 'Sigillum — a registered letter from sender to recipient, every step certified (patent US8813208)',
  env: { TIMER_POLL_MS: '200' },
  story: async (demo) => {
    const { base, api, mailbox, narrator } = demo;
    const now = new Date();
    const { admin, registrar, ops, auditor } = await staffOf(demo);

    narrator.title(`The admin enrols a processing operator hosted by this processor; ${who.registrar} certifies its accreditation`);
    const operator = await enrolHostedOperator(
      { admin, registrar },
      { displayName: 'Acme Processing', steps: ['seal', 'timestamp', 'deliver', 'archive'], level: 'substantial', now },
    );
    narrator.say('the admin: party, specification, keys made by the processor (only public keys leave it), X.509 certificates from the CA');
    narrator.say(`signing certificate serial ${operator.signingCertificate.serialNumber}, TSA certificate serial ${operator.tsaCertificate.serialNumber}`);
    narrator.say(`${who.registrar}: legal name and operator accreditation certified "substantial"`);
    await narrator.events();

    narrator.title(`${who.registrar} enrols Alice (sender) and Bob (recipient): e-mail channel verified, identity certified "substantial"`);
    const alice = await enrolPerson(registrar, mailbox, { displayName: 'Alice Martin', email: 'alice.martin@example.org', level: 'substantial', now });
    const bob = await enrolPerson(registrar, mailbox, { displayName: 'Bob Durand', email: 'bob.durand@example.org', level: 'substantial', now });
    narrator.say(`each reads the code sent to the new address and hands it to ${who.registrar}, who types it back`);
    await narrator.events();

    narrator.title('Alice opens a strong session: trust check, one secret in two forms, the code typed back');
    narrator.say('her client is anonymous until then; from now on she sends the session credential and the session id');
    const aliceSession = await openSession(api, mailbox, { userId: alice, counterpartIds: [bob], kind: 'registered' });
    narrator.say(`session ${aliceSession.sessionId} open (code went to ${aliceSession.maskedAddress}; masked here as in any log)`);
    await narrator.events();

    narrator.title('Alice uploads the letter (content store, addressed by SHA-256) and drafts the correspondence');
    const letter = Buffer.from('Dear Bob,\nplease find our notice of termination, effective 1 March.\nAlice\n', 'utf8');
    const uploaded = (await fetch(`${base}/contents`, { method: 'PUT', headers: { ...aliceSession.auth, 'content-type': 'text/plain' }, body: letter }).then(
      (r) => r.json(),
    )) as { digest: string; size: number };
    const draft = await api(
      'POST',
      '/drafts',
      {
        recipientIds: [bob],
        subject: 'Notice of termination',
        kind: 'registered',
        parts: [{ digest: uploaded.digest, name: 'notice.txt', contentType: 'text/plain' }],
      },
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
    narrator.say(
      `correspondence ${sent.correspondenceId}: ${sent.status}; sent again with the same key → ${again.correspondenceId === sent.correspondenceId ? 'the same correspondence' : 'ANOTHER ONE (bug)'}`,
    );
    await narrator.events();

    narrator.title(`The chain runs: per step a token issued by the certifier, acknowledged and returned by the operator, certified (${who.ops} watches)`);
    const chain = await until(
      'the processing chain to complete',
      () => ops('GET', `/chains/${sent.correspondenceId}`),
      (c: { status: string; steps?: { step: string; status: string }[] }) => ['completed', 'failed'].includes(c.status),
    );
    for (const step of chain.steps ?? []) narrator.say(`${String(step.step).padEnd(10)} ${step.status}`);
    await narrator.events();

    narrator.title('Bob is notified, opens his own strong session, finds the letter in his inbox and accepts it');
    const bobSession = await openSession(api, mailbox, { userId: bob, counterpartIds: [alice], kind: 'registered' });
    const inbox = await until(
      "the letter in Bob's inbox",
      () => api('GET', '/inbox', undefined, bobSession.auth),
      (box: unknown) => JSON.stringify(box).includes(sent.correspondenceId),
    );
    narrator.say(`inbox: ${JSON.stringify(inbox).includes(sent.correspondenceId) ? 'the letter is there' : 'empty'}`);
    await api('POST', `/correspondences/${sent.correspondenceId}/acceptance`, {}, bobSession.auth);
    const read = await fetch(`${base}/correspondences/${sent.correspondenceId}/parts/${uploaded.digest}`, { headers: bobSession.auth });
    narrator.say(`Bob retrieves the part: HTTP ${read.status}, ${(await read.arrayBuffer()).byteLength} bytes`);
    await narrator.events();

    narrator.title(`${who.auditor} reads the evidence chain: EN 319 522 events, canonical JSON, each linked to the previous, each a leaf of the evidence log`);
    const evidence = await until(
      'the evidence of the handover',
      () => auditor('GET', `/evidence/${sent.correspondenceId}`),
      (e: { signingCertificate: string; records: { chainIndex: number; eventName: string }[] }) => JSON.stringify(e).includes('ContentHandover'),
    );
    const ca = await fetch(`${base}/ca/certificate`).then((r) => r.text());
    const verdict = verifyEvidenceChain(evidence.records, ca, { certificates: [evidence.signingCertificate] });
    for (const record of evidence.records) narrator.say(`#${record.chainIndex} ${record.eventName}`);
    narrator.say(
      `offline check of the chain (digests and links; records signed on their own: ${verdict.records.filter((r) => r.signed).length}): ${verdict.valid ? 'VALID' : `INVALID ${JSON.stringify(verdict.problems)}`}`,
    );
    if (!verdict.valid) throw new Error('The evidence chain does not verify');
    await narrator.events(1_500); // the evidence log's checkpoint of these records
    const onServer = await until(
      "the log's checkpoint over the records",
      () => auditor('GET', `/evidence/${sent.correspondenceId}/verification`),
      (v: { valid: boolean; log: { pending: number; covered: number; checkpoint: { treeSize: number } | null } }) => v.log.pending === 0,
    );
    narrator.say(
      `the certifier's verification, chain and log: ${onServer.valid ? 'VALID' : 'INVALID'} (${onServer.log.covered} records included under the checkpoint of size ${onServer.log.checkpoint?.treeSize})`,
    );

    narrator.title("A regulator exports the correspondence with the regulator's kit and verifies the bundle offline");
    const regulatorToken = await issueStaffCredential(admin, 'regulator-1', ['auditor']);
    const bundle = path.join(os.tmpdir(), `sigillum-demo-bundle-${sent.correspondenceId}.json`);
    try {
      const exported = await audit(['export', '--server', base, '--correspondence', sent.correspondenceId, '--out', bundle], regulatorToken);
      narrator.say(`npm run audit -- export … → exit ${exported.code}: ${lastLine(exported.stdout)}`);
      const verified = await audit(['verify', bundle]);
      narrator.say(`npm run audit -- verify ${path.basename(bundle)} → exit ${verified.code}: ${lastLine(verified.stdout)}`);
      if (verified.code !== 0) throw new Error(`The exported bundle does not verify:\n${verified.stdout}${verified.stderr}`);
      // One byte of one record changed in the bundle, as a forger (or a bad disk) would.
      const text = fs.readFileSync(bundle, 'utf8');
      const parsed = JSON.parse(text) as { correspondences: { records: { record: Record<string, unknown> }[] }[] };
      const victim = parsed.correspondences[0].records[1].record;
      const field = Object.keys(victim).find((key) => typeof victim[key] === 'string' && (victim[key] as string).length > 0)!;
      const value = victim[field] as string;
      victim[field] = `${value[0] === 'x' ? 'y' : 'x'}${value.slice(1)}`;
      fs.writeFileSync(bundle, JSON.stringify(parsed, null, text.includes('\n  ') ? 2 : undefined));
      const tampered = await audit(['verify', bundle]);
      narrator.say(
        `one byte flipped, verify again → exit ${tampered.code}: ${
          tampered.stdout
            .split('\n')
            .find((line) => line.trim().startsWith('-'))
            ?.trim() ?? lastLine(tampered.stdout)
        }`,
      );
      if (tampered.code === 0) throw new Error('A tampered bundle verified as valid');
    } finally {
      fs.rmSync(bundle, { force: true });
    }

    narrator.title(`Prometheus scrapes GET /metrics with an ops credential: this letter in the figures`);
    const scraper = await issueStaffCredential(admin, 'prometheus', ['ops']);
    const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${scraper}` } }).then((r) => r.text());
    const shown = metrics
      .split('\n')
      .filter((line) =>
        /^sigillum_(deliveries_total|step_duration_seconds_(sum|count)|deadline_misses_total|codes_sent_total|dead_letters_total)\b/.test(line),
      );
    for (const line of shown) narrator.say(line);
    if (shown.length === 0) narrator.say('(none in this process: with the roles in separate processes, each serves its own /metrics)');
  },
});

/** The regulator's CLI (scripts/audit) as a regulator runs it: a separate process, its exit code and output. */
function audit(args: string[], token?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const root = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../../..' : '../../../..');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', path.join(root, 'scripts/register-paths.js'), path.join(root, 'dist/scripts/audit/main.js'), ...args],
      { cwd: root, env: { ...process.env, ...(token ? { SIGILLUM_TOKEN: token } : {}) }, timeout: 120_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

const lastLine = (text: string) => text.trim().split('\n').pop() ?? '';
