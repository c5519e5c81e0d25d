import { toDisplayText } from '@sigillum/contracts';
import type { OutOfBandNotice } from './out-of-band.port';
import { formatExpiry, noticeFooter, type RenderedOutOfBandMessage, type RenderOptions, serviceNameOf, shortReference, SMS_MAX } from './render';

const REFERENCE_PATTERN = /^[\x21-\x7e]{1,100}$/;

/**
 * A display name as a notice may quote it: one line (no CR/LF can reach a mail header), no control or bidirectional
 * control characters, no lone surrogate, at most `max` UTF-16 units with an ellipsis. The HTTP API refuses such
 * names now, but events recorded before hold them as they were typed: they are made plain here, when shown.
 */
export function plainName(name: string, max = 80): string {
  return toDisplayText(name, max, 'a sender');
}

/**
 * Renders the notice a recipient receives when a correspondence reaches its inbox: who sent it, its reference,
 * until when to answer, what consent mode means, and how to read it — open the service as usual (no link, so a
 * look-alike message cannot lure anyone to a fake page). Plain English, no content of the correspondence.
 */
export function renderOutOfBandNotice(notice: OutOfBandNotice, options: RenderOptions = {}): RenderedOutOfBandMessage {
  const service = serviceNameOf(options);
  if (typeof notice.reference !== 'string' || !REFERENCE_PATTERN.test(notice.reference)) {
    throw new RangeError('The reference must be 1 to 100 printable ASCII characters without spaces');
  }
  if (notice.purpose !== 'correspondence-delivered') throw new RangeError(`Unknown notice purpose "${String(notice.purpose)}"`);
  const answerBy = formatExpiry(notice.acceptBy);
  const sender = plainName(notice.senderName);
  const kind = toDisplayText(notice.correspondenceKind, 40, 'new');
  const consent =
    notice.consignment === 'consent'
      ? ['Its content will be handed over to you once you accept it.']
      : ['Its content is available to you now; please also say whether you', 'accept it.'];

  const text = [
    'Hello,',
    '',
    `A ${kind} correspondence from ${sender}`,
    `was delivered to your ${service} inbox.`,
    '',
    `Reference: correspondence ${notice.reference}`,
    `Answer by: ${answerBy}`,
    '',
    ...consent,
    `To read it, open a session on ${service} as you usually do, then`,
    'accept or refuse it in your inbox. If you do not answer in time,',
    'the expiry of the acceptance window is recorded as evidence.',
    '',
    ...noticeFooter(service),
  ].join('\n');

  const subject = `${service}: a ${kind} correspondence for you (reference ${notice.reference})`;
  const fixed = `${service}: correspondence ${shortReference(notice.reference)} from  is in your inbox. Answer by ${answerBy}.`;
  const short = `${service}: correspondence ${shortReference(notice.reference)} from ${plainName(sender, Math.max(8, SMS_MAX - fixed.length))} is in your inbox. Answer by ${answerBy}.`;
  if (short.length > SMS_MAX) throw new RangeError(`The SMS notice is ${short.length} characters, more than ${SMS_MAX}: shorten the service name`);
  return { subject, text, short };
}
