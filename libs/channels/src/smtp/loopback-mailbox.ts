import { SMTPServer } from 'smtp-server';

export interface CaughtMail {
  readonly to: string[];
  readonly raw: string;
  /** The body with quoted-printable soft breaks and escapes decoded. */
  readonly text: string;
}

function decodeQuotedPrintable(raw: string): string {
  return raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Retries `check` until it returns, up to `timeoutMs`. */
async function poll<T>(check: () => T, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return check();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * A real SMTP server on loopback that keeps every mail it accepts, for the demo and the tests: the e-mail
 * second channel goes through nodemailer and SMTP for real, and the reader takes the code out of the mail.
 */
export class LoopbackMailbox {
  readonly mails: CaughtMail[] = [];
  private server?: SMTPServer;
  port = 0;

  async start(): Promise<this> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          this.mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw, text: decodeQuotedPrintable(raw) });
          callback();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server as unknown as { server: { address(): { port: number } } }).server.address().port;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Environment that points the product's e-mail channel at this server. */
  env(): Record<string, string> {
    return {
      OOB_EMAIL_TRANSPORT: 'smtp',
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(this.port),
      SMTP_SECURE: 'false',
      SMTP_FROM: 'Sigillum <no-reply@sigillum.test>',
    };
  }

  /** Waits for the mail that names `reference` (a session or channel id) and returns the code in it; the latest when several. */
  async codeFor(reference: string, options: { after?: number; timeoutMs?: number } = {}): Promise<string> {
    return poll(() => {
      const mails = this.mails.slice(options.after ?? 0).filter((mail) => mail.text.includes(reference));
      const code = mails.length ? /^ {4}(\d{6,12})\s*$/m.exec(mails[mails.length - 1].text)?.[1] : undefined;
      if (!code) throw new Error(`No mail with a code for ${reference} arrived (${this.mails.length} mails received in all)`);
      return code;
    }, options.timeoutMs ?? 15_000);
  }

  /** Every code any caught mail carried: what a leak scan looks for. */
  allCodes(): string[] {
    return this.mails.flatMap((mail) => [...mail.text.matchAll(/^ {4}(\d{6,12})\s*$/gm)].map((m) => m[1]));
  }
}
