import { type SecondChannelKind, toDisplayText } from '@sigillum/contracts';
import type { OutOfBandMessage } from './out-of-band.port';

export interface RenderOptions {
  /** Name of the service as the user knows it; default `Sigillum`. */
  readonly serviceName?: string;
}

/** A message ready to send: `subject` and `text` for e-mail, `short` for SMS (GSM-7 characters, ≤ 160). */
export interface RenderedOutOfBandMessage {
  /** Never contains the code. */
  readonly subject: string;
  /** Plain-text e-mail body; with a service name of up to 10 characters no line exceeds 76 characters. */
  readonly text: string;
  /** One SMS. */
  readonly short: string;
}

/** One SMS, in GSM-7 characters. */
export const SMS_MAX = 160;
/** The longest service name a message shows (longer configured names are cut with an ellipsis). */
export const MAX_SERVICE_NAME = 40;
const CODE_PATTERN = /^[0-9A-Za-z]{4,16}$/;
const REFERENCE_PATTERN = /^[\x21-\x7e]{1,100}$/;

/** The service name as messages show it: configured text, but one plain line all the same (it ends in a mail subject). */
export function serviceNameOf(options: RenderOptions): string {
  return toDisplayText(options.serviceName, MAX_SERVICE_NAME, 'Sigillum');
}

/** The closing lines of every notice: no link, on purpose, and the service's signature. */
export function noticeFooter(service: string): string[] {
  return [`This message has no link on purpose: always open ${service} yourself.`, '', '-- ', service, ''];
}

/**
 * The reference as a short SMS shows it: references longer than 12 characters (session UUIDs) are cut to
 * their first 8, which is enough to tell sessions apart; a screen that asks for the code can show the same.
 */
export function shortReference(reference: string): string {
  return reference.length > 12 ? reference.slice(0, 8) : reference;
}

/** `2025-06-30T14:05:09.000Z` → `2025-06-30 14:05 UTC`. */
export function formatExpiry(expiresAt: string): string {
  const time = new Date(expiresAt);
  if (Number.isNaN(time.getTime())) throw new RangeError(`expiresAt "${expiresAt}" is not an ISO-8601 time`);
  return `${time.toISOString().slice(0, 10)} ${time.toISOString().slice(11, 16)} UTC`;
}

/**
 * Renders the message a user receives over its second channel: what it is for, the reference that tells this
 * request apart from others (the session id), the code, until when it is valid, and what to do if the user did
 * not ask for it. Plain English, no markup. Throws (without the code in the error) on a malformed message.
 */
export function renderOutOfBandMessage(message: OutOfBandMessage, options: RenderOptions = {}): RenderedOutOfBandMessage {
  const service = serviceNameOf(options);
  checkRenderable(message);
  const expiry = formatExpiry(message.expiresAt);
  const { code, reference } = message;
  const channelNoun = message.channel.kind === 'email' ? 'e-mail address' : 'phone number';

  const purpose =
    message.purpose === 'session-code'
      ? {
          subject: `${service}: your code to open session ${reference}`,
          asked: `You asked to open a secure session on ${service}.`,
          action: 'To open it, enter this one-time code on the page that asked for it:',
          referenceLine: `Reference: session ${reference}`,
          sms: `to open session ${shortReference(reference)}`,
        }
      : {
          subject: `${service}: confirm your ${channelNoun} (reference ${reference})`,
          asked: `You asked to use this ${channelNoun} as your second channel on ${service}.`,
          action: 'To confirm it, enter this one-time code on the page that asked for it:',
          referenceLine: `Reference: ${reference}`,
          sms: `to confirm this number (ref ${shortReference(reference)})`,
        };

  const text = [
    'Hello,',
    '',
    purpose.asked,
    purpose.action,
    '',
    `    ${code}`,
    '',
    purpose.referenceLine,
    'The page where you enter the code shows the same reference; if it',
    'does not match, do not use this code.',
    `The code is valid until ${expiry} and works only once.`,
    '',
    'If you did not ask for this, ignore this message. Never give this',
    `code to anyone, not even to ${service} staff.`,
    '',
    '-- ',
    service,
    '',
  ].join('\n');

  const short = `${service} code ${code} ${purpose.sms}. Valid until ${expiry}. Not you? Ignore this message and never share the code.`;
  if (short.length > SMS_MAX) throw new RangeError(`The SMS text is ${short.length} characters, more than ${SMS_MAX}: shorten the service name`);
  return { subject: purpose.subject, text, short };
}

/** The body a transport sends for this kind of channel. */
export function bodyFor(kind: SecondChannelKind, rendered: RenderedOutOfBandMessage): string {
  return kind === 'sms' ? rendered.short : rendered.text;
}

function checkRenderable(message: OutOfBandMessage): void {
  // Never quote the code in these errors: they may be logged.
  if (typeof message.code !== 'string' || !CODE_PATTERN.test(message.code)) {
    throw new RangeError('The one-time code must be 4 to 16 letters or digits');
  }
  if (typeof message.reference !== 'string' || !REFERENCE_PATTERN.test(message.reference)) {
    throw new RangeError('The reference must be 1 to 100 printable ASCII characters without spaces');
  }
  if (message.reference.includes(message.code)) {
    throw new RangeError('The reference contains the one-time code: it would show the code where the code must not appear');
  }
  if (message.purpose !== 'session-code' && message.purpose !== 'channel-verification') {
    throw new RangeError(`Unknown message purpose "${String(message.purpose)}"`);
  }
}
