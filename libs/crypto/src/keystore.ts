import { createCipheriv, createDecipheriv, createHash, createPrivateKey, type KeyObject, randomBytes, scryptSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { KeyAlgorithm } from '@sigillum/contracts';
import { algorithmOf, fingerprintOf, generateKeyPair, publicKeyPemOf } from './keys';

/**
 * The process's keys, in one directory (`<dataDir>/keys`, mode 0700, files 0600):
 * - `<name>.key.pem`: a private key as encrypted PKCS#8 PEM (PBES2, AES-256-CBC), readable by
 *   `openssl pkey -in <name>.key.pem -passin pass:…`;
 * - `<name>.secret.json`: a symmetric secret (e.g. an HMAC key) in an AES-256-GCM envelope under a
 *   scrypt-derived key, the entry's name bound as additional data;
 * - `<name>.pem`: a public artefact kept beside the keys (e.g. the CA certificate), not encrypted;
 * - `.keystore.json`: a check value that tells a wrong passphrase at open time.
 * Neither the passphrase nor any key is ever logged or put into an error message.
 */

export const KEYSTORE_PASSPHRASE_ENV = 'KEYSTORE_PASSPHRASE';
export const KEYSTORE_DIRECTORY_NAME = 'keys';
export const GENERATED_PASSPHRASE_FILE = '.passphrase';
const CHECK_FILE = '.keystore.json';
const CHECK_PLAINTEXT = 'sigillum-keystore-check';
const ENVELOPE_VERSION = 1;
const MIN_PASSPHRASE_LENGTH = 8;
/** scrypt cost: N = 2^15, r = 8, p = 1 (~32 MiB, tens of ms): paid once per secret read at start-up. */
const SCRYPT = { N: 1 << 15, r: 8, p: 1 } as const;

export interface KeystoreOptions {
  /** The keys directory itself, e.g. `<dataDir>/keys`. */
  readonly directory: string;
  readonly passphrase: string;
}

export interface StoredKeyPair {
  readonly name: string;
  readonly algorithm: KeyAlgorithm;
  readonly publicKeyPem: string;
  readonly privateKey: KeyObject;
  /** SHA-256 of the SPKI DER, hex. */
  readonly fingerprint: string;
}

export interface StoredSecret {
  /** `<name>#<first 8 hex of SHA-256 of the key>`: names the key in events without revealing it. */
  readonly keyId: string;
  readonly key: Buffer;
}

/** The on-disk form of a symmetric secret. */
interface SecretEnvelope {
  readonly version: number;
  readonly kdf: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly cipher: 'aes-256-gcm';
  readonly salt: string;
  readonly iv: string;
  readonly tag: string;
  readonly ciphertext: string;
}

/** The keystore cannot be used as asked; the message says what to do. Never carries key material. */
export class KeystoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeystoreError';
  }
}

/** The passphrase does not open the keys already in the directory. */
export class KeystorePassphraseError extends KeystoreError {
  constructor(directory: string) {
    super(
      `The keystore passphrase does not open the keys in ${directory}. ` +
        `Set ${KEYSTORE_PASSPHRASE_ENV} to the passphrase these keys were created with, ` +
        `or move the directory ${directory} away to start afresh with new keys (certificates and verifiers made with the old keys will no longer verify).`,
    );
    this.name = 'KeystorePassphraseError';
  }
}

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,99}$/i;

function assertName(name: string): void {
  if (!NAME_PATTERN.test(name) || name.includes('..')) {
    throw new KeystoreError(`Invalid keystore entry name "${name}": use letters, digits, ".", "_" or "-" (at most 100 characters)`);
  }
}

function keyIdOf(name: string, key: Buffer): string {
  return `${name}#${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

/**
 * Writes `content` to `file` only if it does not exist yet, atomically (temp file + hard link), mode 0600.
 * Returns false when another writer got there first; the caller then reads the winner's file.
 */
function createExclusive(file: string, content: string): boolean {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(temp, content, { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

function tightenMode(target: string, mode: number): void {
  try {
    if ((fs.statSync(target).mode & 0o777) !== mode) fs.chmodSync(target, mode);
  } catch {
    // Not ours to change (e.g. a read-only mount): the operator's choice.
  }
}

export class FileKeyStore {
  private readonly pairs = new Map<string, StoredKeyPair>();
  private readonly secrets = new Map<string, StoredSecret>();

  private constructor(
    /** The keys directory. */
    readonly directory: string,
    private readonly passphrase: string,
  ) {}

  /**
   * Opens (creating it, mode 0700, when absent) the keys directory. A wrong passphrase for keys already
   * there fails here with KeystorePassphraseError, before anything is generated.
   */
  static open(options: KeystoreOptions): FileKeyStore {
    const { directory, passphrase } = options;
    if (typeof passphrase !== 'string' || passphrase.length < MIN_PASSPHRASE_LENGTH) {
      throw new KeystoreError(`The keystore passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters; set ${KEYSTORE_PASSPHRASE_ENV} to a longer one`);
    }
    const resolved = path.resolve(directory);
    try {
      fs.mkdirSync(resolved, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new KeystoreError(`Cannot create the keys directory ${resolved}: ${(error as Error).message}. Check the data directory's permissions.`);
    }
    tightenMode(resolved, 0o700);
    const store = new FileKeyStore(resolved, passphrase);
    store.checkPassphrase();
    return store;
  }

  /** Whether an entry (key pair, secret or public artefact) of that name exists. */
  has(name: string): boolean {
    assertName(name);
    return [`${name}.key.pem`, `${name}.secret.json`, `${name}.pem`].some((file) => fs.existsSync(path.join(this.directory, file)));
  }

  /** The key pair stored under `name`, generated and stored encrypted on first use. */
  getOrCreateKeyPair(name: string, algorithm: KeyAlgorithm): StoredKeyPair {
    assertName(name);
    const cached = this.pairs.get(name);
    if (cached) return this.checkAlgorithm(cached, algorithm);
    const file = this.keyFile(name);
    if (!fs.existsSync(file)) {
      const generated = generateKeyPair(algorithm);
      const pem = generated.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: this.passphrase }).toString();
      createExclusive(file, pem);
    }
    const pair = this.checkAlgorithm(this.readKeyPair(name, file), algorithm);
    this.pairs.set(name, pair);
    return pair;
  }

  /** The symmetric secret stored under `name`, `bytes` random bytes generated on first use. */
  getOrCreateSecret(name: string, bytes = 32): StoredSecret {
    assertName(name);
    if (!Number.isInteger(bytes) || bytes < 16 || bytes > 1024) throw new KeystoreError('A secret has 16 to 1024 bytes');
    const cached = this.secrets.get(name);
    if (cached) return cached;
    const file = this.secretFile(name);
    if (!fs.existsSync(file)) createExclusive(file, JSON.stringify(this.seal(name, randomBytes(bytes)), null, 2));
    const secret = this.readSecret(name, file);
    this.secrets.set(name, secret);
    return secret;
  }

  /**
   * Stores a secret given by the operator (e.g. the session verifier key shared by two processes).
   * The same key again is a no-op; a different key under an existing name is refused.
   */
  importSecret(name: string, key: Buffer): StoredSecret {
    assertName(name);
    if (!Buffer.isBuffer(key) || key.length < 16) throw new KeystoreError(`The secret "${name}" to import must have at least 16 bytes`);
    const file = this.secretFile(name);
    if (!createExclusive(file, JSON.stringify(this.seal(name, key), null, 2))) {
      const existing = this.readSecret(name, file);
      if (!existing.key.equals(key)) {
        throw new KeystoreError(
          `The keystore already holds a different secret "${name}" (${existing.keyId}); move ${file} away first if you mean to replace it`,
        );
      }
    }
    const secret = this.readSecret(name, file);
    this.secrets.set(name, secret);
    return secret;
  }

  /** A public artefact kept beside the keys (e.g. a certificate), created by `produce` on first use. */
  getOrCreateArtifact(name: string, produce: () => string): { readonly content: string; readonly created: boolean } {
    assertName(name);
    const file = this.artifactFile(name);
    if (fs.existsSync(file)) return { content: fs.readFileSync(file, 'utf8'), created: false };
    const created = createExclusive(file, produce());
    return { content: fs.readFileSync(file, 'utf8'), created };
  }

  /** Replaces a public artefact (e.g. a certificate issued again after expiry); written atomically. */
  replaceArtifact(name: string, content: string): void {
    const file = this.artifactFile(name);
    const temporary = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, content, { mode: 0o644 });
    fs.renameSync(temporary, file);
  }

  /** Path of a key pair's encrypted PKCS#8 PEM (for operators and tests; the content is encrypted). */
  keyFile(name: string): string {
    assertName(name);
    return path.join(this.directory, `${name}.key.pem`);
  }

  secretFile(name: string): string {
    assertName(name);
    return path.join(this.directory, `${name}.secret.json`);
  }

  artifactFile(name: string): string {
    assertName(name);
    if (name.endsWith('.key')) throw new KeystoreError(`A public artefact's name may not end in ".key" ("${name}"): it would look like a key file`);
    return path.join(this.directory, `${name}.pem`);
  }

  private readKeyPair(name: string, file: string): StoredKeyPair {
    tightenMode(file, 0o600);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: fs.readFileSync(file, 'utf8'), format: 'pem', passphrase: this.passphrase });
    } catch {
      throw new KeystorePassphraseError(this.directory);
    }
    const publicKeyPem = publicKeyPemOf(privateKey);
    return { name, algorithm: algorithmOf(privateKey), publicKeyPem, privateKey, fingerprint: fingerprintOf(publicKeyPem) };
  }

  private checkAlgorithm(pair: StoredKeyPair, algorithm: KeyAlgorithm): StoredKeyPair {
    if (pair.algorithm !== algorithm) {
      throw new KeystoreError(
        `The keystore entry "${pair.name}" holds an ${pair.algorithm} key, not ${algorithm}; use another name or move ${this.keyFile(pair.name)} away`,
      );
    }
    return pair;
  }

  private readSecret(name: string, file: string): StoredSecret {
    tightenMode(file, 0o600);
    let envelope: SecretEnvelope;
    try {
      envelope = JSON.parse(fs.readFileSync(file, 'utf8')) as SecretEnvelope;
    } catch {
      throw new KeystoreError(`The secret file ${file} is not a keystore envelope (invalid JSON); restore it from a backup or move it away`);
    }
    const key = this.open(name, envelope, file);
    return { keyId: keyIdOf(name, key), key };
  }

  private seal(name: string, plaintext: Buffer): SecretEnvelope {
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.derive(salt, SCRYPT), iv);
    cipher.setAAD(Buffer.from(`sigillum-keystore:v${ENVELOPE_VERSION}:${name}`, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      version: ENVELOPE_VERSION,
      kdf: 'scrypt',
      ...SCRYPT,
      cipher: 'aes-256-gcm',
      salt: salt.toString('base64'),
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
  }

  private open(name: string, envelope: SecretEnvelope, file: string): Buffer {
    if (envelope?.version !== ENVELOPE_VERSION || envelope.kdf !== 'scrypt' || envelope.cipher !== 'aes-256-gcm') {
      throw new KeystoreError(`The secret file ${file} has an unknown format (version ${String(envelope?.version)}); upgrade Sigillum or move it away`);
    }
    const { N, r, p } = envelope;
    if (![N, r, p].every(Number.isInteger) || N < 1 << 14 || N > 1 << 20 || r < 1 || r > 32 || p < 1 || p > 16) {
      throw new KeystoreError(`The secret file ${file} has out-of-range scrypt parameters; restore it from a backup or move it away`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.derive(Buffer.from(envelope.salt, 'base64'), { N, r, p }), Buffer.from(envelope.iv, 'base64'));
      decipher.setAAD(Buffer.from(`sigillum-keystore:v${envelope.version}:${name}`, 'utf8'));
      decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(envelope.ciphertext, 'base64')), decipher.final()]);
    } catch {
      throw new KeystorePassphraseError(this.directory);
    }
  }

  private derive(salt: Buffer, params: { N: number; r: number; p: number }): Buffer {
    return scryptSync(this.passphrase, salt, 32, { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 });
  }

  /** Tells a wrong passphrase at open time: by the check file, or (first open of an older directory) by one existing key. */
  private checkPassphrase(): void {
    const checkFile = path.join(this.directory, CHECK_FILE);
    if (fs.existsSync(checkFile)) {
      this.readSecretEnvelopeFile(CHECK_FILE, checkFile);
      return;
    }
    const entries = fs.readdirSync(this.directory);
    const key = entries.find((entry) => entry.endsWith('.key.pem'));
    const secret = entries.find((entry) => entry.endsWith('.secret.json'));
    if (key) this.readKeyPair(key.slice(0, -'.key.pem'.length), path.join(this.directory, key));
    else if (secret) this.readSecret(secret.slice(0, -'.secret.json'.length), path.join(this.directory, secret));
    createExclusive(checkFile, JSON.stringify(this.seal(CHECK_FILE, Buffer.from(CHECK_PLAINTEXT, 'utf8')), null, 2));
  }

  private readSecretEnvelopeFile(name: string, file: string): void {
    let envelope: SecretEnvelope;
    try {
      envelope = JSON.parse(fs.readFileSync(file, 'utf8')) as SecretEnvelope;
    } catch {
      throw new KeystoreError(`The keystore check file ${file} is damaged; delete it (it is re-created from the passphrase at the next start)`);
    }
    if (this.open(name, envelope, file).toString('utf8') !== CHECK_PLAINTEXT) throw new KeystorePassphraseError(this.directory);
  }
}

export interface ResolvedPassphrase {
  readonly passphrase: string;
  /**
   * True when no KEYSTORE_PASSPHRASE was set and the passphrase comes from `<dataDir>/keys/.passphrase`:
   * acceptable for the embedded default only; the caller should warn (without printing it).
   */
  readonly generated: boolean;
  /** Where the passphrase came from, for the warning: the variable name or the file path. */
  readonly source: string;
}

/**
 * The keystore passphrase: KEYSTORE_PASSPHRASE when set; otherwise a random one kept in
 * `<dataDir>/keys/.passphrase` (mode 0600), created on first start.
 */
export function resolveKeystorePassphrase(options: {
  readonly dataDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}): ResolvedPassphrase {
  const fromEnv = options.env[KEYSTORE_PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return { passphrase: fromEnv, generated: false, source: KEYSTORE_PASSPHRASE_ENV };
  const directory = keystoreDirectory(options.dataDir);
  fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
  tightenMode(directory, 0o700);
  const file = path.join(directory, GENERATED_PASSPHRASE_FILE);
  if (!fs.existsSync(file)) createExclusive(file, `${randomBytes(32).toString('base64url')}\n`);
  tightenMode(file, 0o600);
  const passphrase = fs.readFileSync(file, 'utf8').trim();
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) {
    throw new KeystoreError(`The generated passphrase file ${file} is damaged; set ${KEYSTORE_PASSPHRASE_ENV} or restore the file`);
  }
  return { passphrase, generated: true, source: file };
}

/** `<dataDir>/keys`. */
export function keystoreDirectory(dataDir: string): string {
  return path.join(path.resolve(dataDir), KEYSTORE_DIRECTORY_NAME);
}
