import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A staff credential as its holder sends it: `sgst_<credentialId>_<secret>`, the secret 256 random bits in base64url.
 * Only the SHA-256 of the secret is recorded; a 256-bit secret needs no slow hash (nothing to guess).
 */
const PREFIX = 'sgst_';
const TOKEN = /^sgst_([0-9a-z-]{1,64})_([A-Za-z0-9_-]{43})$/;

export interface ParsedStaffToken {
  readonly credentialId: string;
  readonly secret: string;
}

export const looksLikeStaffToken = (token: string): boolean => token.startsWith(PREFIX);

export function parseStaffToken(token: string): ParsedStaffToken | null {
  const match = TOKEN.exec(token);
  return match ? { credentialId: match[1], secret: match[2] } : null;
}

export function newStaffToken(credentialId: string): { token: string; secretDigest: string } {
  const secret = randomBytes(32).toString('base64url');
  return { token: `${PREFIX}${credentialId}_${secret}`, secretDigest: digestOfSecret(secret) };
}

export function digestOfSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of the presented secret with the recorded digest. */
export function secretMatches(secret: string, recordedDigest: string): boolean {
  const expected = Buffer.from(recordedDigest, 'hex');
  const actual = Buffer.from(digestOfSecret(secret), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
