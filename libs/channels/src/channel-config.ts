import * as path from 'node:path';

export const EMAIL_TRANSPORTS = ['smtp', 'kafka', 'file', 'none'] as const;
export type EmailTransportKind = (typeof EMAIL_TRANSPORTS)[number];
export const SMS_TRANSPORTS = ['kafka', 'file', 'none'] as const;
export type SmsTransportKind = (typeof SMS_TRANSPORTS)[number];

export interface SmtpSettings {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly auth?: { readonly user: string; readonly password: string };
  readonly from: string;
  readonly tlsRejectUnauthorized: boolean;
}

/** Which transport carries each kind of second-channel message, with its settings. */
export interface ChannelConfig {
  readonly email: EmailTransportKind;
  readonly sms: SmsTransportKind;
  /** Present when `email` is `smtp`. */
  readonly smtp?: SmtpSettings;
  /** Directory of the file transport (always resolved; used when a kind is `file`). */
  readonly fileDir: string;
  /** Party id of the gateway operator; present when a kind uses the `kafka` transport. */
  readonly gatewayPartyId?: string;
}

/** Every variable the channels read, with its default; the README's table is generated from the same facts. */
export const CHANNEL_ENVIRONMENT = {
  OOB_EMAIL_TRANSPORT: { default: 'none', help: 'how e-mail codes leave: smtp | kafka (an e-mail gateway operator) | file (development) | none' },
  OOB_SMS_TRANSPORT: { default: 'none', help: 'how SMS codes leave: kafka (an SMS gateway operator) | file (development) | none' },
  SMTP_HOST: { default: '', help: 'SMTP relay host; required when OOB_EMAIL_TRANSPORT=smtp' },
  SMTP_PORT: { default: '587', help: 'SMTP relay port (587 submission with STARTTLS, 465 with SMTP_SECURE=true)' },
  SMTP_SECURE: { default: 'false', help: 'true: TLS from the first byte (port 465); false: STARTTLS when the relay offers it' },
  SMTP_USER: { default: '', help: 'SMTP login; set together with SMTP_PASSWORD, or neither for a relay without authentication' },
  SMTP_PASSWORD: { default: '', help: 'SMTP password; never logged' },
  SMTP_FROM: { default: '', help: 'sender of the e-mails, "Name <address>" or address; required when OOB_EMAIL_TRANSPORT=smtp' },
  SMTP_TLS_REJECT_UNAUTHORIZED: { default: 'true', help: "check the relay's TLS certificate; false only for a test relay" },
  OOB_GATEWAY_PARTY_ID: {
    default: '',
    help: 'party id of the SMS / e-mail gateway operator (its registered X25519 or RSA encryption key seals the codes); required when a transport is kafka',
  },
  OOB_FILE_DIR: { default: '<DATA_DIR>/outbox', help: 'where the file transport writes one 0600 file per message (holds codes in clear: development only)' },
} as const;

export type ChannelVariable = keyof typeof CHANNEL_ENVIRONMENT;

export class ChannelConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      `Invalid second-channel configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}\n` +
        'Fix the environment variables above and start again.',
    );
    this.name = 'ChannelConfigError';
  }
}

const ADDRESS = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const NAMED_ADDRESS = /^[^<>]*<([^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)>$/;

/**
 * Reads the second-channel settings from the environment. Both kinds default to `none`: the file transport
 * (codes in clear on disk) runs only when asked for. Throws one ChannelConfigError listing every problem.
 */
export function loadChannelConfig(env: NodeJS.ProcessEnv, dataDir: string): ChannelConfig {
  const problems: string[] = [];
  const read = (name: ChannelVariable): string => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? CHANNEL_ENVIRONMENT[name].default : value;
  };
  const oneOf = <T extends string>(name: ChannelVariable, allowed: readonly T[]): T => {
    const value = read(name).toLowerCase() as T;
    if (!allowed.includes(value)) problems.push(`${name}="${read(name)}" must be one of ${allowed.join(', ')}`);
    return value;
  };
  const boolean = (name: ChannelVariable): boolean => {
    const value = read(name).toLowerCase();
    if (value === 'true') return true;
    if (value === 'false') return false;
    problems.push(`${name}="${read(name)}" must be true or false`);
    return CHANNEL_ENVIRONMENT[name].default === 'true';
  };

  const email = oneOf('OOB_EMAIL_TRANSPORT', EMAIL_TRANSPORTS);
  const sms = oneOf('OOB_SMS_TRANSPORT', SMS_TRANSPORTS);
  const fileDir = env.OOB_FILE_DIR?.trim() ? path.resolve(env.OOB_FILE_DIR.trim()) : path.join(path.resolve(dataDir), 'outbox');

  const gatewayPartyId = read('OOB_GATEWAY_PARTY_ID');
  if ((email === 'kafka' || sms === 'kafka') && !gatewayPartyId) {
    problems.push('OOB_GATEWAY_PARTY_ID is required when OOB_EMAIL_TRANSPORT or OOB_SMS_TRANSPORT is kafka: set the party id of the gateway operator');
  }

  let smtp: SmtpSettings | undefined;
  if (email === 'smtp') {
    const host = read('SMTP_HOST');
    if (!host) problems.push('SMTP_HOST is required when OOB_EMAIL_TRANSPORT=smtp: set it to your SMTP relay, e.g. smtp.example.org');
    const rawPort = read('SMTP_PORT');
    const port = Number(rawPort);
    if (!/^\d+$/.test(rawPort) || port < 1 || port > 65535) problems.push(`SMTP_PORT="${rawPort}" must be an integer between 1 and 65535`);
    const secure = boolean('SMTP_SECURE');
    const tlsRejectUnauthorized = boolean('SMTP_TLS_REJECT_UNAUTHORIZED');
    const from = read('SMTP_FROM');
    if (!from) {
      problems.push('SMTP_FROM is required when OOB_EMAIL_TRANSPORT=smtp: set the sender, e.g. "Sigillum <no-reply@example.org>"');
    } else if (!ADDRESS.test(from) && !NAMED_ADDRESS.test(from)) {
      problems.push(`SMTP_FROM="${from}" must be an address (no-reply@example.org) or "Name <no-reply@example.org>"`);
    }
    const user = read('SMTP_USER');
    const password = env.SMTP_PASSWORD ?? '';
    if (user && !password) problems.push('SMTP_PASSWORD is required when SMTP_USER is set');
    if (!user && password) problems.push('SMTP_USER is required when SMTP_PASSWORD is set');
    smtp = { host, port, secure, from, tlsRejectUnauthorized, ...(user && password ? { auth: { user, password } } : {}) };
  }

  if (problems.length > 0) throw new ChannelConfigError(problems);
  const usesKafka = email === 'kafka' || sms === 'kafka';
  return { email, sms, fileDir, ...(smtp ? { smtp } : {}), ...(usesKafka ? { gatewayPartyId } : {}) };
}

/** The configuration as it may be logged: the SMTP password is never shown. */
export function describeChannelConfig(config: ChannelConfig): string {
  const detail = (kind: string): string => {
    if (kind === 'smtp' && config.smtp) {
      const { host, port, secure, auth } = config.smtp;
      return `smtp ${host}:${port}${secure ? ' (TLS)' : ''}${auth ? ` as ${auth.user}` : ''}`;
    }
    if (kind === 'file') return `file ${config.fileDir}`;
    if (kind === 'kafka') return `kafka gateway ${config.gatewayPartyId ?? '(none)'}`;
    return kind;
  };
  return `second channels: e-mail → ${detail(config.email)}; SMS → ${detail(config.sms)}`;
}
