import { renderOutOfBandNotice } from './notice-render';
import type { AccountChange, AccountChangeNotice, OutOfBandNotice } from './out-of-band.port';
import { formatExpiry, noticeFooter, type RenderedOutOfBandMessage, type RenderOptions, serviceNameOf, SMS_MAX } from './render';

const REFERENCE_PATTERN = /^[\x21-\x7e]{1,100}$/;
/** A masked address: printable ASCII, at most 64 characters, and masked (at least one `*`). */
const MASKED_PATTERN = /^(?=[\x21-\x7e]*\*)[\x21-\x7e]{1,64}$/;
const FINGERPRINT_PATTERN = /^[0-9a-f]{16,128}$/i;
const ALGORITHM_PATTERN = /^[A-Za-z0-9-]{1,20}$/;
const LINE = 70;

const NOUN = { email: 'e-mail address', sms: 'phone number' } as const;
const A_NOUN = { email: 'an e-mail address', sms: 'a phone number' } as const;

/** Words joined into lines of at most LINE characters. */
function wrap(sentence: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of sentence.split(' ')) {
    if (line && line.length + 1 + word.length > LINE) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** `ab12cd34ef56…` → `AB12 CD34 EF56 7890` (the first 16 hex digits, as a person reads them out). */
const shortFingerprint = (fingerprint: string) => (fingerprint.slice(0, 16).toUpperCase().match(/.{4}/g) ?? []).join(' ');

function checkRenderable(notice: AccountChangeNotice): void {
  if (notice.purpose !== 'account-changed') throw new RangeError(`Unknown notice purpose "${String(notice.purpose)}"`);
  if (typeof notice.reference !== 'string' || !REFERENCE_PATTERN.test(notice.reference)) {
    throw new RangeError('The reference must be 1 to 100 printable ASCII characters without spaces');
  }
  const change = notice.change;
  switch (change.what) {
    case 'channel-added':
    case 'channel-verified':
    case 'channel-removed':
      // Never a full address in a notice: only what maskAddress gives.
      if (typeof change.maskedAddress !== 'string' || !MASKED_PATTERN.test(change.maskedAddress))
        throw new RangeError('The channel address of an account notice must be masked');
      if (change.channelKind !== 'email' && change.channelKind !== 'sms') throw new RangeError(`Unknown channel kind "${String(change.channelKind)}"`);
      return;
    case 'key-registered':
    case 'key-revoked':
      if (!ALGORITHM_PATTERN.test(change.algorithm)) throw new RangeError('The key algorithm must be a short name');
      if (!FINGERPRINT_PATTERN.test(change.fingerprint)) throw new RangeError('The key fingerprint must be hexadecimal');
      return;
    case 'renamed':
      return;
    default:
      throw new RangeError(`Unknown account change "${String((change as { what?: unknown }).what)}"`);
  }
}

/** The sentence of the e-mail, the subject and the SMS's words for one change. */
function describe(change: AccountChange, service: string): { sentence: string; subject: string; sms: string; smsWithout?: string } {
  switch (change.what) {
    case 'channel-added':
    case 'channel-verified':
    case 'channel-removed': {
      const noun = NOUN[change.channelKind];
      const masked = change.maskedAddress;
      if (change.what === 'channel-added') {
        return {
          sentence: `A new ${noun}, ${masked}, was added as a second channel of your ${service} account (waiting for its confirmation code)`,
          subject: `${service}: a new ${noun} was added to your account`,
          sms: `new ${noun} ${masked} added to your account`,
          smsWithout: `new ${noun} added to your account`,
        };
      }
      if (change.what === 'channel-verified') {
        return {
          sentence: `A new ${noun}, ${masked}, was confirmed as a second channel of your ${service} account`,
          subject: `${service}: a new ${noun} was confirmed on your account`,
          sms: `new ${noun} ${masked} confirmed on your account`,
          smsWithout: `new ${noun} confirmed on your account`,
        };
      }
      return change.thisChannel
        ? {
            sentence: `This ${noun}, ${masked}, was removed from the second channels of your ${service} account; it will receive no further messages`,
            subject: `${service}: this ${noun} was removed from your account`,
            sms: `this ${noun} was removed from your account`,
          }
        : {
            sentence: `The ${noun} ${masked} was removed from the second channels of your ${service} account`,
            subject: `${service}: ${A_NOUN[change.channelKind]} was removed from your account`,
            sms: `${noun} ${masked} removed from your account`,
            smsWithout: `${A_NOUN[change.channelKind]} was removed from your account`,
          };
    }
    case 'key-registered':
    case 'key-revoked': {
      const key = `${change.algorithm} key ${shortFingerprint(change.fingerprint)}`;
      return change.what === 'key-registered'
        ? {
            sentence: `A new ${key} was registered for your ${service} account`,
            subject: `${service}: a new key was registered for your account`,
            sms: `new key ${shortFingerprint(change.fingerprint)} registered for your account`,
          }
        : {
            sentence: `The ${key} of your ${service} account was revoked`,
            subject: `${service}: a key of your account was revoked`,
            sms: `key ${shortFingerprint(change.fingerprint)} of your account revoked`,
          };
    }
    case 'renamed':
      return {
        sentence: `The name of your ${service} account was changed`,
        subject: `${service}: the name on your account was changed`,
        sms: 'the name on your account was changed',
      };
  }
}

/**
 * Renders the notice a party's other channels receive when its account changes: what changed (masked address, key
 * fingerprint), when, the reference of the change, and what to do if it was not the party — call the operator. Plain
 * English, no link (a look-alike message cannot lure anyone to a fake page), no secret, no full address.
 */
export function renderAccountChangeNotice(notice: AccountChangeNotice, options: RenderOptions = {}): RenderedOutOfBandMessage {
  // The configured name as every notice shows it: one plain, bounded line (it ends in the mail subject).
  const service = serviceNameOf(options);
  checkRenderable(notice);
  const when = formatExpiry(notice.changedAt);
  const described = describe(notice.change, service);
  const text = [
    'Hello,',
    '',
    ...wrap(`${described.sentence} on ${when}.`),
    '',
    'If this was you, there is nothing to do.',
    'If it was not you, contact your operator at once: someone may be',
    'using your account. Do not answer this message.',
    '',
    `Reference: change ${notice.reference}`,
    '',
    ...noticeFooter(service),
  ].join('\n');
  const sms = (words: string) => `${service}: ${words} on ${when}. Not you? Contact your operator at once.`;
  let short = sms(described.sms);
  if (short.length > SMS_MAX && described.smsWithout) short = sms(described.smsWithout);
  if (short.length > SMS_MAX) throw new RangeError(`The SMS notice is ${short.length} characters, more than ${SMS_MAX}: shorten the service name`);
  return { subject: described.subject, text, short };
}

/** Any notice a transport carries: a delivered correspondence, or a change of the account. */
export type AnyOutOfBandNotice = OutOfBandNotice | AccountChangeNotice;

/** Renders either kind of notice (the adapters' one entry point for notices). */
export function renderAnyNotice(notice: AnyOutOfBandNotice, options: RenderOptions = {}): RenderedOutOfBandMessage {
  return notice.purpose === 'account-changed' ? renderAccountChangeNotice(notice, options) : renderOutOfBandNotice(notice, options);
}
