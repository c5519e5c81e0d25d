import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import type { KeyAlgorithm } from '@sigillum/contracts';

/** The key algorithms this product generates, registers and certifies. */
export const SUPPORTED_KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['Ed25519', 'RSA', 'X25519'];

/** RSA modulus length of every RSA key this product generates. */
export const RSA_MODULUS_BITS = 2048;

/** A freshly generated key pair; the private key stays a KeyObject and is never serialised in clear. */
export interface GeneratedKeyPair {
  readonly algorithm: KeyAlgorithm;
  /** SubjectPublicKeyInfo, PEM. */
  readonly publicKeyPem: string;
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
  /** SHA-256 of the SPKI DER, lowercase hex. */
  readonly fingerprint: string;
}

/** A key whose algorithm the product does not support, or text that is not a public key at all. */
export class UnsupportedKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedKeyError';
  }
}

const ALGORITHM_OF_NODE_TYPE: Readonly<Record<string, KeyAlgorithm>> = { ed25519: 'Ed25519', rsa: 'RSA', x25519: 'X25519' };

/** Generates an Ed25519, RSA-2048 or X25519 key pair with node:crypto. */
export function generateKeyPair(algorithm: KeyAlgorithm): GeneratedKeyPair {
  let pair: { publicKey: KeyObject; privateKey: KeyObject };
  switch (algorithm) {
    case 'Ed25519':
      pair = generateKeyPairSync('ed25519');
      break;
    case 'X25519':
      pair = generateKeyPairSync('x25519');
      break;
    case 'RSA':
      pair = generateKeyPairSync('rsa', { modulusLength: RSA_MODULUS_BITS, publicExponent: 0x10001 });
      break;
    default:
      throw new UnsupportedKeyError(`Unsupported key algorithm "${String(algorithm)}"; use one of ${SUPPORTED_KEY_ALGORITHMS.join(', ')}`);
  }
  const publicKeyPem = publicKeyPemOf(pair.publicKey);
  return { algorithm, publicKeyPem, publicKey: pair.publicKey, privateKey: pair.privateKey, fingerprint: fingerprintOf(pair.publicKey) };
}

/** A public key object from SPKI PEM (or a KeyObject, returned as its public half). Throws UnsupportedKeyError on anything else. */
export function toPublicKey(key: string | KeyObject): KeyObject {
  if (typeof key !== 'string') return key.type === 'private' ? createPublicKey(key) : key;
  if (!/-----BEGIN PUBLIC KEY-----/.test(key)) {
    throw new UnsupportedKeyError('Expected a public key as SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----")');
  }
  try {
    return createPublicKey({ key, format: 'pem' });
  } catch {
    throw new UnsupportedKeyError('The PEM text is not a readable SubjectPublicKeyInfo public key');
  }
}

/** SubjectPublicKeyInfo PEM of a public key, or of the public half of a private key. */
export function publicKeyPemOf(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/** SubjectPublicKeyInfo DER. */
export function spkiDerOf(key: string | KeyObject): Buffer {
  return toPublicKey(key).export({ type: 'spki', format: 'der' });
}

/** SHA-256 of the SubjectPublicKeyInfo DER, lowercase hex: the key's stable identity across formats. */
export function fingerprintOf(publicKey: string | KeyObject): string {
  return createHash('sha256').update(spkiDerOf(publicKey)).digest('hex');
}

/** 'Ed25519' | 'RSA' | 'X25519', or UnsupportedKeyError naming what was found. */
export function algorithmOf(key: string | KeyObject): KeyAlgorithm {
  const object = typeof key === 'string' ? toPublicKey(key) : key;
  const type = object.asymmetricKeyType ?? 'unknown';
  const algorithm = ALGORITHM_OF_NODE_TYPE[type];
  if (!algorithm) {
    throw new UnsupportedKeyError(`Unsupported key type "${type}"; use an ${SUPPORTED_KEY_ALGORITHMS.join(', ')} key`);
  }
  return algorithm;
}

/** A private key object from PEM (optionally encrypted) or a KeyObject. */
export function toPrivateKey(key: string | KeyObject, passphrase?: string): KeyObject {
  if (typeof key !== 'string') return key;
  return createPrivateKey(passphrase === undefined ? { key, format: 'pem' } : { key, format: 'pem', passphrase });
}

function digestFor(algorithm: KeyAlgorithm): string | null {
  switch (algorithm) {
    case 'Ed25519':
      return null;
    case 'RSA':
      return 'sha256';
    case 'X25519':
      throw new UnsupportedKeyError('An X25519 key is for key agreement only; sign with an Ed25519 or RSA key');
    default:
      throw new UnsupportedKeyError(`Unsupported key algorithm "${String(algorithm)}"`);
  }
}

/** Signs `data`: Ed25519 (pure EdDSA) or RSA PKCS#1 v1.5 with SHA-256. */
export function signBytes(privateKey: KeyObject, data: Buffer | string): Buffer {
  return cryptoSign(digestFor(algorithmOf(privateKey)), typeof data === 'string' ? Buffer.from(data, 'utf8') : data, privateKey);
}

/** Verifies a signature made by signBytes; false (never a throw) for a wrong key, data or signature. */
export function verifySignature(publicKey: string | KeyObject, data: Buffer | string, signature: Buffer): boolean {
  const key = toPublicKey(publicKey);
  const digest = digestFor(algorithmOf(key));
  try {
    return cryptoVerify(digest, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, key, signature);
  } catch {
    return false;
  }
}
