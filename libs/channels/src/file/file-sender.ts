import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { SecondChannelKind } from '@sigillum/contracts';
import { defaultChannelLogger, redactSecret, type ChannelLogger } from '../channel-logger';
import { type AnyOutOfBandNotice, renderAnyNotice } from '../account-notice-render';
import { OutOfBandDeliveryError, OutOfBandUnavailableError, type OutOfBandMessage, type OutOfBandReceipt, type OutOfBandSender } from '../out-of-band.port';
import { renderOutOfBandMessage } from '../render';

export interface FileSenderOptions {
  /** Where the message files go, e.g. `<DATA_DIR>/outbox`; created (0700) when missing. */
  readonly directory: string;
  /** Kinds of channel this sender takes; default both. */
  readonly kinds?: readonly SecondChannelKind[];
  readonly serviceName?: string;
  readonly logger?: ChannelLogger;
  readonly clock?: () => Date;
}

/**
 * Development channel of the embedded default: instead of sending, writes each message to its own file
 * `<directory>/<time>-<messageId>.txt` (mode 0600, directory 0700), exactly as the user would receive it.
 * Only for a developer's machine or a demo: the files hold the codes in clear. Logs the file path only.
 */
export class FileSender implements OutOfBandSender {
  static readonly transportName = 'file';
  private readonly kinds: ReadonlySet<SecondChannelKind>;
  private readonly logger: ChannelLogger;
  private readonly clock: () => Date;
  /** The directory was created (or found) by this sender: later writes only create it again if it went away. */
  private directoryMade = false;

  constructor(private readonly options: FileSenderOptions) {
    this.kinds = new Set(options.kinds ?? ['email', 'sms']);
    this.logger = options.logger ?? defaultChannelLogger('FileSender');
    this.clock = options.clock ?? (() => new Date());
  }

  /**
   * Creates `file` (0600 whatever the umask; never over an existing one) in the directory, which is created (0700) at the
   * first write and again if it was removed since (a file that cannot be opened for want of it): not asked for at every
   * message, one call to the threadpool fewer per code sent.
   */
  private async writeNew(file: string, content: string): Promise<void> {
    const open = () => fsp.open(file, 'wx', 0o600);
    const makeDirectory = () => fsp.mkdir(this.options.directory, { recursive: true, mode: 0o700 });
    if (!this.directoryMade) {
      await makeDirectory();
      this.directoryMade = true;
    }
    const handle = await open().catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
      await makeDirectory();
      return open();
    });
    try {
      await handle.chmod(0o600);
      await handle.writeFile(content, 'utf8');
    } finally {
      await handle.close();
    }
  }

  supports(kind: SecondChannelKind): boolean {
    return this.kinds.has(kind);
  }

  async send(message: OutOfBandMessage): Promise<OutOfBandReceipt> {
    const { kind, address } = message.channel;
    if (!this.kinds.has(kind)) throw new OutOfBandUnavailableError(kind, `the file transport is not configured for ${kind}`);
    const rendered = renderOutOfBandMessage(message, { serviceName: this.options.serviceName });
    const now = this.clock();
    const safeId = message.messageId.replace(/[^A-Za-z0-9._-]/g, '_');
    const file = path.join(this.options.directory, `${now.toISOString().replace(/:/g, '-')}-${safeId}.txt`);
    const content =
      kind === 'email'
        ? [`To: ${address}`, `Subject: ${rendered.subject}`, `Message-Id: ${message.messageId}`, '', rendered.text].join('\n')
        : [`To: ${address}`, 'Channel: SMS', `Message-Id: ${message.messageId}`, '', rendered.short, ''].join('\n');
    try {
      await this.writeNew(file, content);
    } catch (error) {
      const detail = redactSecret((error as Error).message, message.code);
      this.logger.warn(`out-of-band message could not be written to ${file}: ${detail}`);
      throw new OutOfBandDeliveryError(FileSender.transportName, `cannot write ${file}: ${detail}`);
    }
    this.logger.log(`out-of-band message written to ${file}`);
    return { transport: FileSender.transportName, acceptedAt: now.toISOString(), transportReference: file };
  }

  /** Writes a notice (no code) to its own file, exactly as the recipient would receive it. */
  async notify(notice: AnyOutOfBandNotice): Promise<OutOfBandReceipt> {
    const { kind, address } = notice.channel;
    if (!this.kinds.has(kind)) throw new OutOfBandUnavailableError(kind, `the file transport is not configured for ${kind}`);
    const rendered = renderAnyNotice(notice, { serviceName: this.options.serviceName });
    const now = this.clock();
    const safeId = notice.messageId.replace(/[^A-Za-z0-9._-]/g, '_');
    const file = path.join(this.options.directory, `${now.toISOString().replace(/:/g, '-')}-${safeId}.txt`);
    const content =
      kind === 'email'
        ? [`To: ${address}`, `Subject: ${rendered.subject}`, `Message-Id: ${notice.messageId}`, '', rendered.text].join('\n')
        : [`To: ${address}`, 'Channel: SMS', `Message-Id: ${notice.messageId}`, '', rendered.short, ''].join('\n');
    try {
      await this.writeNew(file, content);
    } catch (error) {
      const detail = (error as Error).message;
      this.logger.warn(`notice could not be written to ${file}: ${detail}`);
      throw new OutOfBandDeliveryError(FileSender.transportName, `cannot write ${file}: ${detail}`);
    }
    this.logger.log(`notice written to ${file}`);
    return { transport: FileSender.transportName, acceptedAt: now.toISOString(), transportReference: file };
  }
}
