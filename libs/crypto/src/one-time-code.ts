import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';

/** A uniformly random numeric code of `length` digits (leading zeros allowed). */
export function generateNumericCode(length: number): string {
  if (!Number.isInteger(length) || length < 6 || length > 12) throw new RangeError('A one-time code has 6 to 12 digits');
  let code = '';
  for (let i = 0; i < length; i++) code += String(randomInt(10));
  return code;
}

/**
 * The server-side form of a one-time code: HMAC-SHA256 under `key` of `<bindTo>:<code>`, hex. Bound to a
 * session (or channel) id, it is useless for any other; keyed, it cannot be brute-forced from the log.
 */
export function codeVerifier(key: Buffer, bindTo: string, code: string): string {
  return createHmac('sha256', key).update(`${bindTo}:${code}`, 'utf8').digest('hex');
}

/** Constant-time check of a typed code against its verifier. */
export function verifyCode(key: Buffer, bindTo: string, code: string, verifier: string): boolean {
  const expected = Buffer.from(verifier, 'hex');
  const actual = Buffer.from(codeVerifier(key, bindTo, code), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** An address as the user may be shown it: `j***@example.org`, `+33*******78`. */
export function maskAddress(kind: 'email' | 'sms', address: string): string {
  if (kind === 'email') {
    const at = address.lastIndexOf('@');
    if (at <= 0) return '***';
    return `${address[0]}***${address.slice(at)}`;
  }
  if (address.length <= 5) return '*'.repeat(address.length);
  return `${address.slice(0, 3)}${'*'.repeat(address.length - 5)}${address.slice(-2)}`;
}
