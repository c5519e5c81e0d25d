/**
 * Counts the signatures and verifications the process makes through node:crypto, by key type: one-shot
 * crypto.sign / crypto.verify (what jose and the product call), Sign/Verify objects and X509Certificate#verify.
 * Import it before anything else (jose keeps a reference to crypto.sign and crypto.verify when it loads): the
 * functions are wrapped in place, at a cost of a counter increment per call. Signatures made in pure JavaScript
 * (node-forge) are not seen.
 */
// `import x = require()`: the module object itself (an `import *` would wrap a copy).
import crypto = require('node:crypto');

export type CryptoCounts = Record<string, number>;

const counts: CryptoCounts = {};
const bump = (name: string) => (counts[name] = (counts[name] ?? 0) + 1);

function keyType(key: unknown): string {
  if (key instanceof crypto.KeyObject) return key.asymmetricKeyType ?? 'secret';
  if (key && typeof key === 'object' && 'key' in key) return keyType((key as { key: unknown }).key);
  return 'pem';
}

type Mutable = { -readonly [K in keyof typeof crypto]: (typeof crypto)[K] };
const target = crypto as unknown as Mutable;
const originalSign = crypto.sign;
const originalVerify = crypto.verify;
target.sign = function (this: unknown, ...args: unknown[]) {
  bump(`sign ${keyType(args[2])}`);
  return (originalSign as (...a: unknown[]) => unknown).apply(this, args);
} as typeof crypto.sign;
target.verify = function (this: unknown, ...args: unknown[]) {
  bump(`verify ${keyType(args[2])}`);
  return (originalVerify as (...a: unknown[]) => unknown).apply(this, args);
} as typeof crypto.verify;

const signProto = crypto.Sign.prototype as unknown as { sign: (...a: unknown[]) => unknown };
const originalObjectSign = signProto.sign;
signProto.sign = function (this: unknown, ...args: unknown[]) {
  bump(`sign ${keyType(args[0])}`);
  return originalObjectSign.apply(this, args);
};
const verifyProto = crypto.Verify.prototype as unknown as { verify: (...a: unknown[]) => unknown };
const originalObjectVerify = verifyProto.verify;
verifyProto.verify = function (this: unknown, ...args: unknown[]) {
  bump(`verify ${keyType(args[0])}`);
  return originalObjectVerify.apply(this, args);
};
const x509Proto = crypto.X509Certificate.prototype as unknown as { verify: (...a: unknown[]) => unknown };
const originalX509Verify = x509Proto.verify;
x509Proto.verify = function (this: unknown, ...args: unknown[]) {
  bump(`verify ${keyType(args[0])}`);
  return originalX509Verify.apply(this, args);
};

/** A copy of the counts so far. */
export function cryptoCounts(): CryptoCounts {
  return { ...counts };
}

/** The counts made since `before`. */
export function cryptoCountsSince(before: CryptoCounts): CryptoCounts {
  const now = cryptoCounts();
  const since: CryptoCounts = {};
  for (const [name, value] of Object.entries(now)) if (value - (before[name] ?? 0) > 0) since[name] = value - (before[name] ?? 0);
  return since;
}
