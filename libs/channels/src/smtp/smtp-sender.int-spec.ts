import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { OutOfBandDeliveryError, OutOfBandUnavailableError } from '../out-of-band.port';
import { captureLogger, rejectionOf, sampleMessage } from '../testing-fixtures';
import { SmtpSender, type SmtpSenderOptions } from './smtp-sender';

interface ReceivedMail {
  readonly from: string;
  readonly to: string[];
  readonly raw: string;
  readonly user?: string;
  readonly secure: boolean;
}

/** A real SMTP server on loopback, port 0, collecting what it receives. */
async function startServer(options: Partial<SMTPServerOptions> = {}): Promise<{ port: number; mails: ReceivedMail[]; stop: () => Promise<void> }> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'relay-user' && auth.password === 's3cret-relay') return callback(null, { user: auth.username });
      return callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          user: session.user as string | undefined,
          secure: session.secure,
        });
        callback();
      });
    },
    ...options,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Splits a raw message into unfolded headers and body. */
function parseMail(raw: string): { headers: Map<string, string>; headerBlock: string; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const headerBlock = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const line of headerBlock.split('\r\n')) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, headerBlock, body: raw.slice(split + 4).replace(/\r\n/g, '\n') };
}

describe('SmtpSender against a real SMTP server', () => {
  const stops: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  async function setup(serverOptions: Partial<SMTPServerOptions>, senderOptions: Partial<SmtpSenderOptions>) {
    const server = await startServer(serverOptions);
    stops.push(server.stop);
    const logger = captureLogger();
    const sender = new SmtpSender({
      host: '127.0.0.1',
      port: server.port,
      secure: false,
      from: 'Sigillum <no-reply@sigillum.example>',
      timeoutMs: 5_000,
      logger,
      clock: () => new Date('2025-06-30T13:55:00.000Z'),
      ...senderOptions,
    });
    stops.push(() => sender.close());
    return { server, sender, logger };
  }

  it('delivers the code in the body only, over STARTTLS with authentication, and logs no secret', async () => {
    const { server, sender, logger } = await setup(
      {},
      { auth: { user: 'relay-user', password: 's3cret-relay' }, tlsRejectUnauthorized: false, requireTls: true },
    );
    const message = sampleMessage();

    const receipt = await sender.send(message);

    expect(server.mails).toHaveLength(1);
    const [mail] = server.mails;
    expect(mail).toMatchObject({ from: 'no-reply@sigillum.example', to: ['jeanne.martin@example.org'], user: 'relay-user', secure: true });
    const { headers, headerBlock, body } = parseMail(mail.raw);
    const code = /^ {4}(\d{6})$/m.exec(body)?.[1];
    expect(code).toBe(message.code);
    expect(body).toContain(`Reference: session ${message.reference}`);
    expect(body).toContain('valid until 2025-06-30 14:05 UTC');
    expect(body).toContain('If you did not ask for this, ignore this message.');
    expect(headers.get('subject')).toBe(`Sigillum: your code to open session ${message.reference}`);
    expect(headers.get('subject')).not.toContain(message.code);
    expect(headerBlock).not.toContain(message.code);
    expect(headers.get('message-id')).toBe(`<${message.messageId}@sigillum.example>`);
    expect(headers.get('x-sigillum-message-id')).toBe(message.messageId);
    expect(headers.get('content-type')).toMatch(/^text\/plain/);

    expect(receipt).toEqual({ transport: 'smtp', acceptedAt: '2025-06-30T13:55:00.000Z', transportReference: `<${message.messageId}@sigillum.example>` });
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toContain(message.messageId);
    expect(logger.lines[0]).toContain('j***@example.org');
    expect(logger.lines[0]).toMatch(/250/);
    const logged = logger.lines.join('\n');
    expect(logged).not.toContain(message.code);
    expect(logged).not.toContain('jeanne.martin');
    expect(logged).not.toContain('s3cret-relay');
  });

  it('sends over a plain connection to a relay without STARTTLS or authentication', async () => {
    const { server, sender } = await setup({ disabledCommands: ['STARTTLS', 'AUTH'] }, {});
    await sender.send(sampleMessage({ purpose: 'channel-verification', reference: 'chan-1' }));
    expect(server.mails).toHaveLength(1);
    expect(server.mails[0].secure).toBe(false);
    expect(parseMail(server.mails[0].raw).headers.get('subject')).toBe('Sigillum: confirm your e-mail address (reference chan-1)');
  });

  it('refuses a self-signed relay certificate by default, with an error that carries no secret', async () => {
    const { server, sender, logger } = await setup({}, {});
    const message = sampleMessage();
    const failure = await rejectionOf<Error>(sender.send(message));
    expect(failure).toBeInstanceOf(OutOfBandDeliveryError);
    expect(failure.message).toMatch(/^The smtp transport could not take the message: 127\.0\.0\.1:\d+: .*certificate/i);
    expect(server.mails).toHaveLength(0);
    for (const text of [failure.message, ...logger.lines]) {
      expect(text).not.toContain(message.code);
      expect(text).not.toContain('jeanne.martin');
    }
  });

  it('refuses wrong credentials with a delivery error', async () => {
    const { sender } = await setup({}, { auth: { user: 'relay-user', password: 'wrong' }, tlsRejectUnauthorized: false });
    await expect(sender.send(sampleMessage())).rejects.toThrow(/EAUTH/);
  });

  it('redacts the code and the address when the relay echoes them in its refusal', async () => {
    const { sender, logger } = await setup(
      {
        disabledCommands: ['STARTTLS'],
        onData(stream, _session, callback) {
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('end', () => {
            const code = /^ {4}(\d{6})\r$/m.exec(Buffer.concat(chunks).toString())?.[1];
            const refusal = Object.assign(new Error(`Policy: refused body containing ${code} for jeanne.martin@example.org`), { responseCode: 554 });
            callback(refusal);
          });
        },
      },
      {},
    );
    const message = sampleMessage();
    const failure = await rejectionOf<Error>(sender.send(message));
    expect(failure).toBeInstanceOf(OutOfBandDeliveryError);
    expect(failure.message).toContain('refused body containing [redacted] for j***@example.org');
    expect([failure.message, ...logger.lines].join('\n')).not.toContain(message.code);
    expect([failure.message, ...logger.lines].join('\n')).not.toContain('jeanne.martin');
  });

  it('serves e-mail only', async () => {
    const { sender } = await setup({}, {});
    expect(sender.supports('email')).toBe(true);
    expect(sender.supports('sms')).toBe(false);
    await expect(sender.send(sampleMessage({ channel: { channelId: 'c', kind: 'sms', address: '+33612345678' } }))).rejects.toThrow(OutOfBandUnavailableError);
  });

  it('check() reports a relay that does not answer', async () => {
    const sender = new SmtpSender({ host: '127.0.0.1', port: 1, secure: false, from: 'a@b.example', timeoutMs: 2_000, logger: captureLogger() });
    stops.push(() => sender.close());
    expect(await sender.check()).toEqual({ up: false, detail: expect.stringMatching(/^SMTP 127\.0\.0\.1:1: .*ECONNREFUSED/) });
  });
});
