import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';

/**
 * c2sp.org/signed-note with Ed25519 signatures (signature type 0x01):
 *
 *     <text ending in \n>
 *     <blank line>
 *     — <key name> base64(4-byte key ID || 64-byte signature)
 *
 * key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]; a verifier key is the text
 * `<name>+<hex key ID>+base64(0x01 || public key)`. Ed25519 (RFC 8032) is deterministic, so a note signed twice
 * with the same key is byte-identical.
 */

export const ED25519_SIGNATURE_TYPE = 0x01;
/** U+2014 EM DASH and a space: how every signature line begins. */
export const SIGNATURE_LINE_PREFIX = '\u2014 ';
/** Notes with more signatures are refused (the spec requires accepting at least 16). */
export const MAX_SIGNATURES = 100;

export class NoteFormatError extends Error {
  constructor(message: string) {
    super(`Malformed note: ${message}`);
    this.name = 'NoteFormatError';
  }
}

export class NoteVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoteVerificationError';
  }
}

const UNICODE_SPACE = /\s|\p{Zs}/u;

/** A key name: non-empty, no Unicode space, no plus. */
export function isKeyName(name: string): boolean {
  return name.length > 0 && !UNICODE_SPACE.test(name) && !name.includes('+') && !/[\u0000-\u001f\u007f]/.test(name);
}

function checkKeyName(name: string): void {
  if (!isKeyName(name)) throw new NoteFormatError(`key name "${name}" must be non-empty, without spaces or "+"`);
}

/** The 4-byte key ID of an Ed25519 key of this name. */
export function ed25519KeyId(name: string, publicKey: Uint8Array): Buffer {
  checkKeyName(name);
  if (publicKey.length !== 32) throw new NoteFormatError('an Ed25519 public key is 32 bytes');
  return createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, ED25519_SIGNATURE_TYPE]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

/** The raw 32-byte public key of an Ed25519 KeyObject (public or private). */
export function rawEd25519PublicKey(key: KeyObject): Buffer {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new TypeError('an Ed25519 key is required');
  const jwk = publicKey.export({ format: 'jwk' });
  return Buffer.from(jwk.x as string, 'base64url');
}

/** The Ed25519 public KeyObject of a raw 32-byte key. */
export function ed25519PublicKeyOf(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The Ed25519 private KeyObject of a 32-byte seed (RFC 8032 private key). */
export function ed25519PrivateKeyOfSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new TypeError('an Ed25519 seed is 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** The verifier key text of an Ed25519 key: `<name>+<hex key ID>+<base64(0x01 || public key)>`. */
export function ed25519VerifierKey(name: string, publicKey: Uint8Array): string {
  const id = ed25519KeyId(name, publicKey);
  return `${name}+${id.toString('hex')}+${Buffer.concat([Buffer.from([ED25519_SIGNATURE_TYPE]), publicKey]).toString('base64')}`;
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: Buffer;
  sign(text: Uint8Array): Buffer;
  /** The same signature made off the event loop (node:crypto's callback form, on libuv's threadpool); signNoteAsync falls back to `sign`. */
  signAsync?(text: Uint8Array): Promise<Buffer>;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: Buffer;
  readonly publicKey: Buffer;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

/** A signer of notes with an Ed25519 private key. */
export function ed25519NoteSigner(name: string, privateKey: KeyObject): NoteSigner {
  const publicKey = rawEd25519PublicKey(privateKey);
  const keyId = ed25519KeyId(name, publicKey);
  return {
    name,
    keyId,
    sign: (text) => cryptoSign(null, text, privateKey),
    signAsync: (text) =>
      new Promise<Buffer>((resolve, reject) => {
        try {
          cryptoSign(null, text, privateKey, (error, signature) => (error ? reject(error) : resolve(signature)));
        } catch (error) {
          reject(error);
        }
      }),
  };
}

/** The verifier of a verifier key text; throws NoteFormatError for anything but a well-formed Ed25519 vkey. */
export function parseVerifierKey(vkey: string): NoteVerifier {
  // The name and the hex key ID hold no "+"; the base64 key may.
  const match = /^([^+]*)\+([^+]*)\+(.*)$/s.exec(vkey);
  if (!match) throw new NoteFormatError('a verifier key is <name>+<hex key ID>+<base64 key>');
  const [, name, hexId, encoded] = match;
  checkKeyName(name);
  if (!/^[0-9a-f]{8}$/.test(hexId)) throw new NoteFormatError('the key ID must be 8 lowercase hex digits');
  const key = Buffer.from(encoded, 'base64');
  if (key.toString('base64') !== encoded || key.length === 0) throw new NoteFormatError('the key is not standard base64');
  if (key[0] !== ED25519_SIGNATURE_TYPE)
    throw new NoteFormatError(`signature type 0x${key[0].toString(16).padStart(2, '0')} is not supported (Ed25519 is 0x01)`);
  if (key.length !== 33) throw new NoteFormatError('an Ed25519 verifier key holds 32 bytes of key');
  const publicKey = key.subarray(1);
  const keyId = ed25519KeyId(name, publicKey);
  if (keyId.toString('hex') !== hexId) throw new NoteFormatError('the key ID does not match the name and key');
  const keyObject = ed25519PublicKeyOf(publicKey);
  return { name, keyId, publicKey, verify: (text, signature) => signature.length === 64 && cryptoVerify(null, text, keyObject, signature) };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteFormatError('the text must end with a newline');
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new NoteFormatError('the text holds a control character other than newline');
  if (LONE_SURROGATE.test(text)) throw new NoteFormatError('the text is not valid Unicode (lone surrogate)');
}

function signatureLine(signer: NoteSigner, signature: Buffer): string {
  return `${SIGNATURE_LINE_PREFIX}${signer.name} ${Buffer.concat([signer.keyId, signature]).toString('base64')}\n`;
}

function checkSigners(text: string, signers: readonly NoteSigner[]): void {
  checkText(text);
  if (signers.length === 0) throw new NoteFormatError('at least one signer is required');
  for (const signer of signers) checkKeyName(signer.name);
}

/** The signed note: the text, a blank line, one signature line per signer. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  checkSigners(text, signers);
  const bytes = Buffer.from(text, 'utf8');
  return `${text}\n${signers.map((signer) => signatureLine(signer, signer.sign(bytes))).join('')}`;
}

/** signNote with each signature made by the signer's `signAsync` when it has one (off the event loop): the same note. */
export async function signNoteAsync(text: string, signers: readonly NoteSigner[]): Promise<string> {
  checkSigners(text, signers);
  const bytes = Buffer.from(text, 'utf8');
  const signatures = await Promise.all(signers.map((signer) => (signer.signAsync ? signer.signAsync(bytes) : signer.sign(bytes))));
  return `${text}\n${signers.map((signer, index) => signatureLine(signer, signatures[index])).join('')}`;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyId: Buffer;
  /** The signature bytes after the key ID. */
  readonly signature: Buffer;
}

export interface OpenedNote {
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
  /** The signatures made by the given verifiers' keys, all verified. */
  readonly verifiedBy: readonly NoteVerifier[];
}

/** Splits a signed note into its text and signature lines, strictly (no verification). */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (!note.endsWith('\n')) throw new NoteFormatError('a note ends with a newline');
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw new NoteFormatError('the note holds a control character other than newline');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new NoteFormatError('no blank line separates the text from the signatures');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteFormatError(`more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line) => {
    if (!line.startsWith(SIGNATURE_LINE_PREFIX)) throw new NoteFormatError('a signature line begins with "\u2014 "');
    const rest = line.slice(SIGNATURE_LINE_PREFIX.length);
    const space = rest.lastIndexOf(' ');
    if (space <= 0) throw new NoteFormatError('a signature line is "\u2014 <name> <base64>"');
    const name = rest.slice(0, space);
    const encoded = rest.slice(space + 1);
    checkKeyName(name);
    const bytes = Buffer.from(encoded, 'base64');
    if (bytes.length < 5 || bytes.toString('base64') !== encoded)
      throw new NoteFormatError(`the signature of ${name} is not base64 of a key ID and a signature`);
    return { name, keyId: bytes.subarray(0, 4), signature: bytes.subarray(4) };
  });
  return { text, signatures };
}

/**
 * Opens a signed note with the trusted verifiers: signatures of unknown keys (name and key ID) are ignored; a
 * signature of a known key that does not verify rejects the note; so does a note no known key signed.
 */
export function openNote(note: string, verifiers: readonly NoteVerifier[]): OpenedNote {
  const { text, signatures } = parseNote(note);
  const bytes = Buffer.from(text, 'utf8');
  const verifiedBy: NoteVerifier[] = [];
  for (const signature of signatures) {
    const verifier = verifiers.find((candidate) => candidate.name === signature.name && candidate.keyId.equals(signature.keyId));
    if (!verifier) continue;
    if (!verifier.verify(bytes, signature.signature)) throw new NoteVerificationError(`the signature of ${signature.name} does not verify`);
    if (!verifiedBy.includes(verifier)) verifiedBy.push(verifier);
  }
  if (verifiedBy.length === 0) throw new NoteVerificationError('no signature of a trusted key on the note');
  return { text, signatures, verifiedBy };
}
