import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

/**
 * Sealed boxes: a message encrypted to one recipient's public key, that only the holder of the matching
 * private key can open. Used to carry a one-time code across Kafka to an SMS / e-mail gateway operator.
 *
 * Two algorithms, chosen by the recipient's key type:
 *
 * - `X25519-HKDF-SHA256-A256GCM` (X25519 key): a fresh ephemeral X25519 key pair per box; the shared
 *   secret `X25519(ephemeral private, recipient public)` goes through HKDF-SHA256 with salt = the 32 raw
 *   bytes of the ephemeral public key and info = `sigillum/sealed-box/v1`, giving a 32-byte AES key;
 *   the plaintext is encrypted with AES-256-GCM (12-byte random IV, 16-byte tag). `epk` = ephemeral public
 *   key, raw 32 bytes.
 * - `RSA-OAEP-256-A256GCM` (RSA key, 2048 bits or more): a random 32-byte AES key, wrapped with RSA-OAEP
 *   (SHA-256 for both the OAEP hash and MGF1); the plaintext is encrypted with AES-256-GCM as above.
 *   `ek` = the wrapped key.
 *
 * When `aad` is given its UTF-8 bytes are the GCM additional authenticated data: the box opens only with
 * the same `aad` (bind it to the message id so a box cannot be replayed inside another message).
 * Every binary field is base64url without padding, so the box is JSON-safe.
 */
export const SEALED_BOX_ALGORITHMS = ['X25519-HKDF-SHA256-A256GCM', 'RSA-OAEP-256-A256GCM'] as const;
export type SealedBoxAlgorithm = (typeof SEALED_BOX_ALGORITHMS)[number];

export interface SealedBox {
  readonly alg: SealedBoxAlgorithm;
  /** X25519 only: the ephemeral public key, 32 raw bytes, base64url. */
  readonly epk?: string;
  /** RSA only: the AES key wrapped with RSA-OAEP-SHA256, base64url. */
  readonly ek?: string;
  /** AES-GCM IV, 12 bytes, base64url. */
  readonly iv: string;
  /** AES-GCM tag, 16 bytes, base64url. */
  readonly tag: string;
  readonly ciphertext: string;
}

/** HKDF `info` of the X25519 variant; part of the format, never change it without a new `alg`. */
export const SEALED_BOX_HKDF_INFO = 'sigillum/sealed-box/v1';
const MIN_RSA_BITS = 2048;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** A box that cannot be opened (wrong key, wrong AAD, tampered or malformed) or a key that cannot seal. */
export class SealedBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealedBoxError';
  }
}

/** Encrypts `plaintext` to the holder of the private key matching `recipientPublicKey` (SPKI PEM or KeyObject). */
export function sealTo(recipientPublicKey: string | KeyObject, plaintext: Buffer | string, aad?: string): SealedBox {
  const recipient = toPublicKey(recipientPublicKey);
  const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  switch (recipient.asymmetricKeyType) {
    case 'x25519': {
      const ephemeral = generateKeyPairSync('x25519');
      const epk = rawX25519PublicKey(ephemeral.publicKey);
      const key = deriveX25519Key(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient }), epk);
      return { alg: 'X25519-HKDF-SHA256-A256GCM', epk: b64(epk), ...encryptGcm(key, data, aad) };
    }
    case 'rsa': {
      const bits = recipient.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < MIN_RSA_BITS) {
        throw new SealedBoxError(`Cannot seal to an RSA key of ${bits} bits: register an RSA key of at least ${MIN_RSA_BITS} bits or an X25519 key.`);
      }
      const key = randomBytes(KEY_BYTES);
      const ek = publicEncrypt({ key: recipient, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, key);
      return { alg: 'RSA-OAEP-256-A256GCM', ek: b64(ek), ...encryptGcm(key, data, aad) };
    }
    default:
      throw new SealedBoxError(
        `Cannot seal to a ${recipient.asymmetricKeyType ?? 'unknown'} key: sealed boxes need an encryption key, ` +
          `X25519 or RSA (${MIN_RSA_BITS} bits or more). An Ed25519 key only signs; register an X25519 key with use "encryption".`,
      );
  }
}

/** Opens a box sealed with `sealTo`; throws SealedBoxError when the key, the AAD or any byte of the box is wrong. */
export function openSealed(recipientPrivateKey: KeyObject | string, box: SealedBox, aad?: string): Buffer {
  const privateKey = typeof recipientPrivateKey === 'string' ? createPrivateKey(recipientPrivateKey) : recipientPrivateKey;
  if (privateKey.type !== 'private') throw new SealedBoxError('openSealed needs the recipient private key, not a public key.');
  const parts = parseBox(box);
  let key: Buffer;
  if (parts.alg === 'X25519-HKDF-SHA256-A256GCM') {
    if (privateKey.asymmetricKeyType !== 'x25519')
      throw new SealedBoxError(`A ${parts.alg} box opens with an X25519 private key, not ${privateKey.asymmetricKeyType}.`);
    if (!parts.epk || parts.epk.length !== 32) throw new SealedBoxError('Malformed sealed box: epk must be 32 bytes.');
    const ephemeral = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64(parts.epk) }, format: 'jwk' });
    key = deriveX25519Key(diffieHellman({ privateKey, publicKey: ephemeral }), parts.epk);
  } else {
    if (privateKey.asymmetricKeyType !== 'rsa')
      throw new SealedBoxError(`A ${parts.alg} box opens with an RSA private key, not ${privateKey.asymmetricKeyType}.`);
    if (!parts.ek) throw new SealedBoxError('Malformed sealed box: ek is missing.');
    try {
      key = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, parts.ek);
    } catch {
      throw new SealedBoxError('Cannot open the sealed box: the wrapped key does not decrypt with this private key.');
    }
    if (key.length !== KEY_BYTES) throw new SealedBoxError('Cannot open the sealed box: the wrapped key has the wrong length.');
  }
  const decipher = createDecipheriv('aes-256-gcm', key, parts.iv, { authTagLength: TAG_BYTES });
  if (aad !== undefined) decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(parts.tag);
  try {
    return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]);
  } catch {
    throw new SealedBoxError('Cannot open the sealed box: authentication failed (wrong key, wrong AAD, or the box was altered).');
  }
}

/** Whether a key (PEM or KeyObject) can receive sealed boxes; the reason when it cannot. */
export function sealableKeyProblem(publicKey: string | KeyObject): string | undefined {
  try {
    sealTo(publicKey, Buffer.alloc(0));
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function toPublicKey(key: string | KeyObject): KeyObject {
  if (typeof key !== 'string') {
    if (key.type === 'secret') throw new SealedBoxError('Cannot seal to a secret key: give the recipient public key.');
    return key.type === 'private' ? createPublicKey(key) : key;
  }
  try {
    return createPublicKey(key);
  } catch (error) {
    throw new SealedBoxError(`Cannot read the recipient public key (expected an SPKI PEM): ${(error as Error).message}`);
  }
}

function rawX25519PublicKey(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  return Buffer.from(jwk.x as string, 'base64url');
}

function deriveX25519Key(sharedSecret: Buffer, epk: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', sharedSecret, epk, SEALED_BOX_HKDF_INFO, KEY_BYTES));
}

function encryptGcm(key: Buffer, plaintext: Buffer, aad: string | undefined): Pick<SealedBox, 'iv' | 'tag' | 'ciphertext'> {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  if (aad !== undefined) cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv: b64(iv), tag: b64(cipher.getAuthTag()), ciphertext: b64(ciphertext) };
}

interface BoxParts {
  alg: SealedBoxAlgorithm;
  epk?: Buffer;
  ek?: Buffer;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

function parseBox(box: SealedBox): BoxParts {
  if (!box || typeof box !== 'object') throw new SealedBoxError('Malformed sealed box: expected an object.');
  if (!SEALED_BOX_ALGORITHMS.includes(box.alg)) {
    throw new SealedBoxError(`Malformed sealed box: alg "${String(box.alg)}" is not one of ${SEALED_BOX_ALGORITHMS.join(', ')}.`);
  }
  const bytes = (field: 'epk' | 'ek' | 'iv' | 'tag' | 'ciphertext', required: boolean): Buffer | undefined => {
    const value = box[field];
    if (value === undefined && !required) return undefined;
    if (typeof value !== 'string' || !/^[A-Za-z0-9_-]*$/.test(value)) {
      throw new SealedBoxError(`Malformed sealed box: ${field} must be a base64url string.`);
    }
    return Buffer.from(value, 'base64url');
  };
  const iv = bytes('iv', true)!;
  const tag = bytes('tag', true)!;
  if (iv.length !== IV_BYTES) throw new SealedBoxError(`Malformed sealed box: iv must be ${IV_BYTES} bytes.`);
  if (tag.length !== TAG_BYTES) throw new SealedBoxError(`Malformed sealed box: tag must be ${TAG_BYTES} bytes.`);
  return { alg: box.alg, epk: bytes('epk', false), ek: bytes('ek', false), iv, tag, ciphertext: bytes('ciphertext', true)! };
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64url');
}
