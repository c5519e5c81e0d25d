import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OutOfBandDeliveryError, OutOfBandUnavailableError } from '../out-of-band.port';
import { captureLogger, rejectionOf, sampleMessage } from '../testing-fixtures';
import { FileSender } from './file-sender';

describe('FileSender (real files)', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-outbox-'));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const clock = () => new Date('2025-06-30T13:55:00.123Z');

  it('writes one 0600 file per message, in a 0700 directory it creates, and logs only the path', async () => {
    const directory = path.join(root, 'var', 'outbox');
    const logger = captureLogger();
    const sender = new FileSender({ directory, logger, clock });
    const message = sampleMessage();

    const receipt = await sender.send(message);

    const file = path.join(directory, `2025-06-30T13-55-00.123Z-${message.messageId}.txt`);
    expect(receipt).toEqual({ transport: 'file', acceptedAt: '2025-06-30T13:55:00.123Z', transportReference: file });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(directory).mode & 0o777).toBe(0o700);
    const content = fs.readFileSync(file, 'utf8');
    expect(content.startsWith(`To: jeanne.martin@example.org\nSubject: Sigillum: your code to open session ${message.reference}\n`)).toBe(true);
    expect(content).toMatch(/^ {4}739164$/m);
    expect(content).toContain('If you did not ask for this, ignore this message.');
    expect(logger.lines).toEqual([`log out-of-band message written to ${file}`]);
    expect(logger.lines.join('\n')).not.toContain(message.code);
  });

  it('writes SMS as the short text', async () => {
    const sender = new FileSender({ directory: path.join(root, 'sms'), logger: captureLogger(), clock });
    const receipt = await sender.send(sampleMessage({ channel: { channelId: 'c', kind: 'sms', address: '+33612345678' } }));
    const content = fs.readFileSync(receipt.transportReference!, 'utf8');
    expect(content).toContain('To: +33612345678\nChannel: SMS\n');
    expect(content).toContain('Sigillum code 739164 to open session 3f2a1b2c.');
  });

  it('never overwrites: the same message at the same instant is a delivery error naming the file', async () => {
    const logger = captureLogger();
    const sender = new FileSender({ directory: path.join(root, 'twice'), logger, clock });
    await sender.send(sampleMessage());
    const failure = await rejectionOf<Error>(sender.send(sampleMessage()));
    expect(failure).toBeInstanceOf(OutOfBandDeliveryError);
    expect(failure.message).toMatch(/cannot write .*twice.*EEXIST/);
    expect([failure.message, ...logger.lines].join('\n')).not.toContain('739164');
  });

  it('creates the directory again when it was removed after the first message (0700, the next file 0600)', async () => {
    const directory = path.join(root, 'removed');
    let at = Date.parse('2025-06-30T13:55:00.123Z');
    const sender = new FileSender({ directory, logger: captureLogger(), clock: () => new Date(at++) });
    await sender.send(sampleMessage());
    fs.rmSync(directory, { recursive: true });
    const receipt = await sender.send(sampleMessage());
    expect(fs.statSync(directory).mode & 0o777).toBe(0o700);
    expect(fs.statSync(receipt.transportReference!).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(directory)).toHaveLength(1);
  });

  it('keeps a message id from escaping the directory', async () => {
    const directory = path.join(root, 'escape');
    const sender = new FileSender({ directory, logger: captureLogger(), clock });
    const receipt = await sender.send(sampleMessage({ messageId: '../../etc/passwd' }));
    expect(path.dirname(receipt.transportReference!)).toBe(directory);
    expect(path.basename(receipt.transportReference!)).toBe('2025-06-30T13-55-00.123Z-.._.._etc_passwd.txt');
  });

  it('serves only the configured kinds', async () => {
    const sender = new FileSender({ directory: path.join(root, 'email-only'), kinds: ['email'], logger: captureLogger() });
    expect(sender.supports('email')).toBe(true);
    expect(sender.supports('sms')).toBe(false);
    await expect(sender.send(sampleMessage({ channel: { channelId: 'c', kind: 'sms', address: '+33612345678' } }))).rejects.toThrow(OutOfBandUnavailableError);
  });
});
