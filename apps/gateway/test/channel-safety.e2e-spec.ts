import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { createSigillumApp } from '@sigillum/runtime';
import { type CaughtMail, eventually, MailCatcher, MovableClock } from '@sigillum/testing';
import request from 'supertest';
// The test drives the directory and the certifier through their services, not their routes: the routes' access
// rules (party session or registrar staff) are another part of issue #8 and do not change what is tested here.
import { AttributesController } from '../../certifier/src/attributes/attributes.controller';
import type { CertifyAttributeBody } from '../../certifier/src/attributes/attributes.dto';
import { OperatorIndex } from '../../certifier/src/trust-check/operator-index';
import { AccountNotices } from '../../directory/src/party/account-notices';
import { PartyService } from '../../directory/src/party/party.service';
import { rolesFor } from '../src/roles';

/**
 * Issue #8, the tester's attack: someone who can act on Bob's account adds and verifies an e-mail address of their
 * own, then asks for a session in Bob's name. With the channel cooling period (CHANNEL_COOLING_HOURS, 24 by default)
 * the session code still goes to Bob's own, older channel until the new one has stood for a day; meanwhile every
 * change is told to Bob's channel (masked address, no secret). Every role in one process, real SMTP (loopback
 * mailbox), the clock moved by the test.
 */
describe('party channel safety: cooling period and change notices (embedded bus, real SMTP)', () => {
  let app: INestApplication;
  let dataDir: string;
  const mail = new MailCatcher();
  const clock = new MovableClock();
  const HOUR = 3600_000;

  const BOB = 'bob@example.org';
  const MALLORY = 'mallory@evil.example';

  const http = () => request(app.getHttpServer());
  const parties = () => app.get(PartyService);

  beforeAll(async () => {
    await mail.start();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-channel-safety-'));
    const config = loadConfig({
      ...mail.env(),
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'error',
      SESSION_REQUEST_WAIT_MS: '10000',
      SESSION_CODES_PER_USER_PER_HOUR: '100',
      SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: '1000',
      TIMER_POLL_MS: '50',
      KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret',
    });
    app = await createSigillumApp(config, rolesFor(config.roles), { clock });
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
  }, 90_000);

  afterAll(async () => {
    await app?.close();
    await mail.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  //////// What the enrolment desk and the certification officer do (through the services: see the note above).

  const certify = (partyId: string, name: string) =>
    app.get(AttributesController).certify(
      partyId,
      {
        name,
        level: 'substantial',
        validUntil: new Date(clock.now().getTime() + 365 * 24 * HOUR).toISOString(),
        evidence: { method: 'in-person-id-check', reference: 'file-42', verifiedBy: 'officer-7' },
      } as CertifyAttributeBody,
      undefined,
    );

  async function person(displayName: string): Promise<string> {
    const { partyId } = await parties().register({ kind: 'person', displayName });
    await certify(partyId, 'legalName');
    await certify(partyId, 'dateOfBirth');
    return partyId;
  }

  /** Enrols and verifies an e-mail channel with the code from that mailbox, as its holder would. */
  async function verifiedEmail(partyId: string, address: string): Promise<string> {
    const before = mail.mails.length;
    const { channelId } = await parties().enrolChannel(partyId, 'email', address);
    const code = await mail.codeFor(channelId, { after: before });
    await parties().verifyChannel(partyId, channelId, code);
    return channelId;
  }

  /** POST /sessions (a public route) and the mail that carried the code: to whom it went. */
  async function sessionCodeGoesTo(userId: string, counterpartId: string): Promise<{ to: string[]; maskedAddress: string }> {
    const before = mail.mails.length;
    const response = await http()
      .post('/sessions')
      .send({ userId, counterpartIds: [counterpartId], correspondenceKind: 'registered' });
    expect(response.status).toBe(201);
    const sessionId = response.body.sessionId as string;
    await mail.codeFor(sessionId, { after: before });
    const carried = mail.mails.slice(before).filter((m) => m.text.includes(sessionId));
    expect(carried).toHaveLength(1);
    return { to: carried[0].to, maskedAddress: response.body.channel.maskedAddress as string };
  }

  const mailsTo = (address: string, after = 0): CaughtMail[] => mail.mails.slice(after).filter((m) => m.to.includes(address));
  const subjectOf = (m: CaughtMail) => /^Subject: (.*)$/m.exec(m.raw)?.[1] ?? '';

  let carol: string;

  beforeAll(async () => {
    // A processing operator for every step of `registered`, and a counterpart.
    const { partyId: operator } = await parties().register({ kind: 'operator', operatorRole: 'processing', displayName: 'Sealing & Archiving Co' });
    await parties().registerSpecification(operator, {
      version: 1,
      steps: ['seal', 'timestamp', 'deliver', 'archive'].map((step) => ({ step: step as 'seal', parameters: {}, maxDurationSeconds: 600 })),
    });
    const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await parties().registerKey(operator, 'Ed25519', 'signature', pem);
    await certify(operator, 'legalName');
    await certify(operator, 'operatorAccreditation');
    await eventually(async () => expect(app.get(OperatorIndex).candidates('seal')).toContain(operator), 30_000);
    carol = await person('Carol Counterpart');
  }, 120_000);

  it('keeps the session code on the old channel while a new one cools, tells the old channel, then uses the new one once it settled', async () => {
    const bob = await person('Bob Victim');
    await verifiedEmail(bob, BOB);
    // Bob enrolled long ago: his channel has stood for more than the cooling period.
    clock.advance(30 * HOUR);
    expect((await sessionCodeGoesTo(bob, carol)).to).toEqual([BOB]);

    // The attack: a channel of the attacker's, verified with the code from the attacker's own mailbox.
    const beforeAttack = mail.mails.length;
    await verifiedEmail(bob, MALLORY);

    // (a) The next session code still goes to Bob's own channel, not to the attacker.
    const during = await sessionCodeGoesTo(bob, carol);
    expect(during.to).toEqual([BOB]);
    expect(during.maskedAddress).toBe('b***@example.org');

    // (b) Bob's channel was told of the addition and of its confirmation: masked address, no code, no link.
    await eventually(async () => {
      const subjects = mailsTo(BOB, beforeAttack)
        .map(subjectOf)
        .filter((s) => s.includes('your account'));
      expect(subjects).toEqual(['Sigillum: a new e-mail address was added to your account', 'Sigillum: a new e-mail address was confirmed on your account']);
    }, 15_000);
    for (const notice of mailsTo(BOB, beforeAttack).filter((m) => subjectOf(m).includes('your account'))) {
      expect(notice.text).toContain('m***@evil.example');
      expect(notice.text).not.toContain(MALLORY);
      expect(notice.text).toContain('contact your operator');
      expect(notice.text).not.toMatch(/^ {4}\d{6,12}\s*$/m);
      expect(notice.text).not.toMatch(/https?:/);
    }
    // The attacker's own mailbox got its verification code, and no notice and no session code.
    expect(mailsTo(MALLORY, beforeAttack).map(subjectOf)).toEqual([expect.stringContaining('confirm your e-mail address')]);
    expect(
      app
        .get(AccountNotices)
        .noticesOf(bob)
        .map((n) => [n.what, n.status]),
    ).toEqual([
      ['channel-added', 'sent'],
      ['channel-verified', 'sent'],
    ]);

    // Just before the end of the cooling period: still Bob's channel. After it: the newest settled channel.
    clock.advance(24 * HOUR - 60_000);
    expect((await sessionCodeGoesTo(bob, carol)).to).toEqual([BOB]);
    clock.advance(2 * 60_000);
    expect((await sessionCodeGoesTo(bob, carol)).to).toEqual([MALLORY]);
  }, 120_000);

  it('does not hand the codes to a new channel when the old one is removed first; the removed channel is told', async () => {
    const dave = await person('Dave Victim');
    const daveMail = 'dave@example.org';
    const daveChannel = await verifiedEmail(dave, daveMail);
    clock.advance(30 * HOUR);

    const before = mail.mails.length;
    await parties().removeChannel({ partyId: dave, channelId: daveChannel });
    await verifiedEmail(dave, MALLORY);

    const denied = await http()
      .post('/sessions')
      .send({ userId: dave, counterpartIds: [carol], correspondenceKind: 'registered' });
    expect(denied.status).toBe(403);
    expect(denied.body.reasons).toEqual(expect.arrayContaining([expect.objectContaining({ rule: 'channel.cooling', partyId: dave })]));
    expect(mailsTo(MALLORY, before).map(subjectOf)).toEqual([expect.stringContaining('confirm your e-mail address')]);

    await eventually(async () => {
      const told = mailsTo(daveMail, before).map(subjectOf);
      expect(told).toEqual(['Sigillum: this e-mail address was removed from your account']);
    }, 15_000);

    // Once the new channel has stood for the cooling period, it is the party's channel.
    clock.advance(24 * HOUR + 60_000);
    expect((await sessionCodeGoesTo(dave, carol)).to).toEqual([MALLORY]);
  }, 120_000);
});
