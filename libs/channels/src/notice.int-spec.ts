import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileSender } from './file/file-sender';
import { plainName, renderOutOfBandNotice } from './notice-render';
import { OutOfBandDeliveryError, type OutOfBandNotice, type OutOfBandSender, OutOfBandUnavailableError } from './out-of-band.port';
import { RoutingOutOfBandSender } from './routing-sender';
import { LoopbackMailbox } from './smtp/loopback-mailbox';
import { SmtpSender } from './smtp/smtp-sender';
import { captureLogger, rejectionOf, sampleMessage } from './testing-fixtures';

function sampleNotice(overrides: Partial<OutOfBandNotice> = {}): OutOfBandNotice {
  return {
    messageId: 'notice-0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5',
    partyId: 'party-9',
    channel: { channelId: 'chan-9', kind: 'email', address: 'bob.recipient@example.org' },
    purpose: 'correspondence-delivered',
    reference: '7d1e2f30-4152-4637-8495-a6b7c8d9e0f1',
    senderName: 'Alice Sender',
    correspondenceKind: 'registered-ack',
    consignment: 'consent',
    acceptBy: '2025-07-15T09:30:00.000Z',
    ...overrides,
  };
}

describe('notices of delivered correspondence over the second channel', () => {
  describe('rendering', () => {
    it('names the sender, the reference and the end of the window, and has no link', () => {
      const rendered = renderOutOfBandNotice(sampleNotice());
      expect(rendered.subject).toBe('Sigillum: a registered-ack correspondence for you (reference 7d1e2f30-4152-4637-8495-a6b7c8d9e0f1)');
      expect(rendered.text).toContain('A registered-ack correspondence from Alice Sender');
      expect(rendered.text).toContain('Reference: correspondence 7d1e2f30-4152-4637-8495-a6b7c8d9e0f1');
      expect(rendered.text).toContain('Answer by: 2025-07-15 09:30 UTC');
      expect(rendered.text).toContain('handed over to you once you accept it');
      expect(rendered.text).not.toMatch(/https?:\/\//);
      for (const line of rendered.text.split('\n')) expect(line.length).toBeLessThanOrEqual(76);
      expect(rendered.short.length).toBeLessThanOrEqual(160);
      expect(rendered.short).toContain('7d1e2f30');
    });

    it('says the content is available in basic mode', () => {
      expect(renderOutOfBandNotice(sampleNotice({ consignment: 'basic' })).text).toContain('Its content is available to you now');
    });

    it('flattens a hostile sender name to one short line, and keeps the SMS within 160 characters', () => {
      const hostile = `Mallory\r\nBcc: everyone@example.org\n${'x'.repeat(400)}`;
      expect(plainName(hostile)).not.toMatch(/[\r\n]/);
      expect(plainName(hostile).length).toBeLessThanOrEqual(80);
      const rendered = renderOutOfBandNotice(sampleNotice({ senderName: hostile }));
      expect(rendered.text).not.toContain('\r');
      expect(rendered.text).not.toMatch(/^Bcc:/m);
      expect(rendered.short.length).toBeLessThanOrEqual(160);
    });

    it('refuses a malformed reference', () => {
      expect(() => renderOutOfBandNotice(sampleNotice({ reference: 'two words' }))).toThrow(RangeError);
    });
  });

  describe('SmtpSender.notify (real loopback SMTP server)', () => {
    const mailbox = new LoopbackMailbox();
    beforeAll(() => mailbox.start());
    afterAll(() => mailbox.stop());

    it('mails the notice to the recipient, logging only the masked address', async () => {
      const logger = captureLogger();
      const sender = new SmtpSender({ host: '127.0.0.1', port: mailbox.port, secure: false, from: 'Sigillum <no-reply@sigillum.test>', logger });
      try {
        const receipt = await sender.notify(sampleNotice());
        expect(receipt.transport).toBe('smtp');
        const mail = mailbox.mails[mailbox.mails.length - 1];
        expect(mail.to).toEqual(['bob.recipient@example.org']);
        expect(mail.text).toContain('Reference: correspondence 7d1e2f30-4152-4637-8495-a6b7c8d9e0f1');
        expect(mail.text).toMatch(/^X-Sigillum-Reference: 7d1e2f30-4152-4637-8495-a6b7c8d9e0f1/m);
        expect(logger.lines.join('\n')).not.toContain('bob.recipient@example.org');
      } finally {
        sender.close();
      }
    });

    it('refuses an SMS notice (e-mail only) and reports an unreachable relay as a delivery error', async () => {
      const sender = new SmtpSender({ host: '127.0.0.1', port: 1, secure: false, from: 'no-reply@sigillum.test', logger: captureLogger(), timeoutMs: 2000 });
      try {
        expect(await rejectionOf(sender.notify(sampleNotice({ channel: { channelId: 'c', kind: 'sms', address: '+33612345678' } })))).toBeInstanceOf(
          OutOfBandUnavailableError,
        );
        const failed = await rejectionOf(sender.notify(sampleNotice()));
        expect(failed).toBeInstanceOf(OutOfBandDeliveryError);
        expect(failed.message).not.toContain('bob.recipient@example.org');
      } finally {
        sender.close();
      }
    });
  });

  describe('FileSender.notify (real files)', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-notices-'));
    afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
    const clock = () => new Date('2025-06-30T13:55:00.123Z');

    it('writes the e-mail notice to its own 0600 file', async () => {
      const logger = captureLogger();
      const sender = new FileSender({ directory: path.join(root, 'outbox'), logger, clock });
      const receipt = await sender.notify(sampleNotice());
      const content = fs.readFileSync(receipt.transportReference!, 'utf8');
      expect(fs.statSync(receipt.transportReference!).mode & 0o777).toBe(0o600);
      expect(content.startsWith('To: bob.recipient@example.org\nSubject: Sigillum: a registered-ack correspondence for you')).toBe(true);
      expect(content).toContain('Answer by: 2025-07-15 09:30 UTC');
      expect(logger.lines).toEqual([`log notice written to ${receipt.transportReference}`]);
    });

    it('writes an SMS notice as the short text, and refuses a kind it is not configured for', async () => {
      const sms = new FileSender({ directory: path.join(root, 'sms'), kinds: ['sms'], logger: captureLogger(), clock });
      const receipt = await sms.notify(sampleNotice({ channel: { channelId: 'c', kind: 'sms', address: '+33612345678' } }));
      expect(fs.readFileSync(receipt.transportReference!, 'utf8')).toContain('Channel: SMS\nMessage-Id: notice-');
      expect(await rejectionOf(sms.notify(sampleNotice()))).toBeInstanceOf(OutOfBandUnavailableError);
    });
  });

  describe('RoutingOutOfBandSender.notify', () => {
    it('routes by kind, and refuses a transport that cannot carry notices or a kind without transport', async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-route-notices-'));
      try {
        const codesOnly: OutOfBandSender = { supports: (kind) => kind === 'sms', send: async () => ({ transport: 'codes-only', acceptedAt: '' }) };
        const routing = new RoutingOutOfBandSender({ email: new FileSender({ directory: root, kinds: ['email'], logger: captureLogger() }), sms: codesOnly });
        expect((await routing.notify(sampleNotice())).transport).toBe('file');
        const sms = sampleNotice({ channel: { channelId: 'c', kind: 'sms', address: '+33612345678' } });
        expect((await rejectionOf(routing.notify(sms))).message).toContain('cannot carry notices');
        expect(await rejectionOf(new RoutingOutOfBandSender({}).notify(sampleNotice()))).toBeInstanceOf(OutOfBandUnavailableError);
        // Codes still go as before.
        expect((await routing.send(sampleMessage({ channel: { channelId: 'c', kind: 'sms', address: '+33612345678' } }))).transport).toBe('codes-only');
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    });
  });
});
