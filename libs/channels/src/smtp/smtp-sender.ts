import { maskAddress } from '@sigillum/crypto/one-time-code';
import type { SecondChannelKind } from '@sigillum/contracts';
import { createTransport, type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { defaultChannelLogger, redactSecret, type ChannelLogger } from '../channel-logger';
import { type AnyOutOfBandNotice, renderAnyNotice } from '../account-notice-render';
import { OutOfBandDeliveryError, OutOfBandUnavailableError, type OutOfBandMessage, type OutOfBandReceipt, type OutOfBandSender } from '../out-of-band.port';
import { renderOutOfBandMessage } from '../render';

export interface SmtpSenderOptions {
  readonly host: string;
  readonly port: number;
  /** true: TLS from the first byte (port 465); false: plain, upgraded with STARTTLS when the server offers it. */
  readonly secure: boolean;
  /** Omit for a relay that does not authenticate. */
  readonly auth?: { readonly user: string; readonly password: string };
  /** Envelope and header sender, `name <address>` or `address`. */
  readonly from: string;
  /** Check the server certificate; default true. Turn off only for a test relay with a self-signed certificate. */
  readonly tlsRejectUnauthorized?: boolean;
  /** Refuse to send unless the connection is TLS (secure, or STARTTLS succeeded); default false. */
  readonly requireTls?: boolean;
  /** Connection, greeting and socket timeouts, ms; default 10 000. */
  readonly timeoutMs?: number;
  readonly serviceName?: string;
  readonly logger?: ChannelLogger;
  readonly clock?: () => Date;
}

/**
 * Sends e-mail second-channel messages through an SMTP relay (nodemailer). The code is in the body only —
 * never in the subject, a header or a log line. Logs the message id, the masked address and the relay's answer.
 */
export class SmtpSender implements OutOfBandSender {
  static readonly transportName = 'smtp';
  private readonly transporter: Transporter<SMTPTransport.SentMessageInfo>;
  private readonly logger: ChannelLogger;
  private readonly clock: () => Date;
  private readonly fromDomain: string;

  constructor(private readonly options: SmtpSenderOptions) {
    this.logger = options.logger ?? defaultChannelLogger('SmtpSender');
    this.clock = options.clock ?? (() => new Date());
    this.fromDomain = /@([^>\s]+)>?\s*$/.exec(options.from)?.[1] ?? 'sigillum.invalid';
    const timeout = options.timeoutMs ?? 10_000;
    this.transporter = createTransport({
      host: options.host,
      port: options.port,
      secure: options.secure,
      requireTLS: options.requireTls ?? false,
      auth: options.auth ? { user: options.auth.user, pass: options.auth.password } : undefined,
      tls: { rejectUnauthorized: options.tlsRejectUnauthorized ?? true },
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
      debug: false,
    });
  }

  supports(kind: SecondChannelKind): boolean {
    return kind === 'email';
  }

  async send(message: OutOfBandMessage): Promise<OutOfBandReceipt> {
    const rendered = renderOutOfBandMessage(message, { serviceName: this.options.serviceName });
    return this.deliver('out-of-band message', message, rendered, {}, (text) => redactSecret(text, message.code));
  }

  /** Sends a notice (no code) by e-mail; same envelope, headers and logging as a code message. */
  async notify(notice: AnyOutOfBandNotice): Promise<OutOfBandReceipt> {
    const rendered = renderAnyNotice(notice, { serviceName: this.options.serviceName });
    return this.deliver('notice', notice, rendered, { 'X-Sigillum-Reference': notice.reference }, (text) => text);
  }

  /**
   * One e-mail to `item.channel`: what the relay answers, or an OutOfBandDeliveryError saying why not. Neither the
   * address nor (through `redact`) a code ever reaches the logs or the error.
   */
  private async deliver(
    what: string,
    item: { readonly messageId: string; readonly channel: { readonly kind: SecondChannelKind; readonly address: string } },
    rendered: { readonly subject: string; readonly text: string },
    extraHeaders: Record<string, string>,
    redact: (text: string) => string,
  ): Promise<OutOfBandReceipt> {
    const { kind, address } = item.channel;
    if (kind !== 'email') throw new OutOfBandUnavailableError(kind, 'the SMTP transport sends e-mail only');
    const masked = maskAddress('email', address);
    const clean = (text: string) => redact(text).split(address).join(masked);
    let info: SMTPTransport.SentMessageInfo;
    try {
      info = await this.transporter.sendMail({
        from: this.options.from,
        to: { name: '', address },
        subject: rendered.subject,
        text: rendered.text,
        messageId: `<${item.messageId}@${this.fromDomain}>`,
        headers: { 'X-Sigillum-Message-Id': item.messageId, ...extraHeaders, 'Auto-Submitted': 'auto-generated' },
        disableFileAccess: true,
        disableUrlAccess: true,
      });
    } catch (error) {
      const err = error as Error & { code?: string; responseCode?: number };
      const detail = clean([err.code, err.responseCode, err.message].filter((part) => part !== undefined).join(' '));
      this.logger.warn(`${what} ${item.messageId} to ${masked}: SMTP ${this.options.host}:${this.options.port} failed: ${detail}`);
      throw new OutOfBandDeliveryError(SmtpSender.transportName, `${this.options.host}:${this.options.port}: ${detail}`);
    }
    const response = clean(String(info.response ?? ''));
    if (info.rejected.length > 0 || info.accepted.length === 0) {
      this.logger.warn(`${what} ${item.messageId} to ${masked}: SMTP relay refused the recipient: ${response}`);
      throw new OutOfBandDeliveryError(SmtpSender.transportName, `the relay refused the recipient ${masked}: ${response}`);
    }
    this.logger.log(`${what} ${item.messageId} to ${masked} accepted by SMTP ${info.messageId}: ${response}`);
    return { transport: SmtpSender.transportName, acceptedAt: this.clock().toISOString(), transportReference: info.messageId };
  }

  /** Checks that the relay answers and accepts the credentials; resolves to a reason when it does not. */
  async check(): Promise<{ up: boolean; detail?: string }> {
    try {
      await this.transporter.verify();
      return { up: true };
    } catch (error) {
      return { up: false, detail: `SMTP ${this.options.host}:${this.options.port}: ${(error as Error).message}` };
    }
  }

  close(): void {
    this.transporter.close();
  }
}
