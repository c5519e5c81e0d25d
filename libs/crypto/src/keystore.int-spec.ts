import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { signBytes, verifySignature } from './keys';
import { FileKeyStore, KeystoreError, KeystorePassphraseError, keystoreDirectory, resolveKeystorePassphrase } from './keystore';

const OPENSSL = '/usr/bin/openssl';
const PASSPHRASE = 'correct horse battery staple';

function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

describe('FileKeyStore', () => {
  let dataDir: string;
  let directory: string;

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-keystore-'));
    directory = keystoreDirectory(dataDir);
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('creates the directory 0700 and its files 0600', () => {
    const store = FileKeyStore.open({ directory, passphrase: PASSPHRASE });
    store.getOrCreateKeyPair('signer', 'Ed25519');
    store.getOrCreateSecret('hmac');
    expect(mode(directory)).toBe(0o700);
    const files = fs.readdirSync(directory);
    expect(files.sort()).toEqual(['.keystore.json', 'hmac.secret.json', 'signer.key.pem']);
    for (const file of files) expect(mode(path.join(directory, file))).toBe(0o600);
  });

  it('tightens a directory that was left group- or world-readable', () => {
    fs.mkdirSync(directory, { recursive: true, mode: 0o755 });
    fs.chmodSync(directory, 0o755);
    FileKeyStore.open({ directory, passphrase: PASSPHRASE });
    expect(mode(directory)).toBe(0o700);
  });

  it.each(['Ed25519', 'RSA', 'X25519'] as const)('keeps a %s key pair across reopenings', (algorithm) => {
    const first = FileKeyStore.open({ directory, passphrase: PASSPHRASE }).getOrCreateKeyPair('k', algorithm);
    const again = FileKeyStore.open({ directory, passphrase: PASSPHRASE }).getOrCreateKeyPair('k', algorithm);
    expect(again.algorithm).toBe(algorithm);
    expect(again.publicKeyPem).toBe(first.publicKeyPem);
    expect(again.fingerprint).toBe(first.fingerprint);
    if (algorithm !== 'X25519') expect(verifySignature(first.publicKeyPem, 'x', signBytes(again.privateKey, 'x'))).toBe(true);
  });

  it('stores private keys encrypted, never in clear', () => {
    const store = FileKeyStore.open({ directory, passphrase: PASSPHRASE });
    const pair = store.getOrCreateKeyPair('signer', 'Ed25519');
    const pem = fs.readFileSync(store.keyFile('signer'), 'utf8');
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const clear = pair.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
    expect(pem).not.toContain(clear.slice(-40));
  });

  it.each(['Ed25519', 'RSA', 'X25519'] as const)('writes a %s private key that openssl pkey opens with the passphrase', (algorithm) => {
    const store = FileKeyStore.open({ directory, passphrase: PASSPHRASE });
    const pair = store.getOrCreateKeyPair('k', algorithm);
    const publicPem = execFileSync(OPENSSL, ['pkey', '-in', store.keyFile('k'), '-passin', `pass:${PASSPHRASE}`, '-pubout'], {
      encoding: 'utf8',
    });
    expect(publicPem).toBe(pair.publicKeyPem);
    expect(() => execFileSync(OPENSSL, ['pkey', '-in', store.keyFile('k'), '-passin', 'pass:wrong passphrase', '-noout'], { stdio: 'pipe' })).toThrow();
  });

  it('keeps a secret across reopenings, with a keyId that names it without revealing it', () => {
    const first = FileKeyStore.open({ directory, passphrase: PASSPHRASE }).getOrCreateSecret('session-verifier');
    const again = FileKeyStore.open({ directory, passphrase: PASSPHRASE }).getOrCreateSecret('session-verifier');
    expect(first.key).toHaveLength(32);
    expect(again.key.equals(first.key)).toBe(true);
    expect(first.keyId).toBe(`session-verifier#${createHash('sha256').update(first.key).digest('hex').slice(0, 8)}`);
    expect(again.keyId).toBe(first.keyId);
  });

  it('stores a secret in an AES-256-GCM envelope, not in clear', () => {
    const store = FileKeyStore.open({ directory, passphrase: PASSPHRASE });
    const secret = store.getOrCreateSecret('hmac', 48);
    expect(secret.key).toHaveLength(48);
    const envelope = JSON.parse(fs.readFileSync(store.secretFile('hmac'), 'utf8'));
    expect(envelope).toEqual({
      version: 1,
      kdf: 'scrypt',
      N: 32768,
      r: 8,
      p: 1,
      cipher: 'aes-256-gcm',
      salt: expect.any(String),
      iv: expect.any(String),
      tag: expect.any(String),
      ciphertext: expect.any(String),
    });
    const text = fs.readFileSync(store.secretFile('hmac'), 'utf8');
    for (const encoding of ['hex', 'base64', 'base64url'] as const) expect(text).not.toContain(secret.key.toString(encoding));
  });

  it('binds a secret to its name: a file copied under another name does not open', () => {
    const store = FileKeyStore.open({ directory, passphrase: PASSPHRASE });
    store.getOrCreateSecret('a');
    fs.copyFileSync(store.secretFile('a'), store.secretFile('b'));
    expect(() => FileKeyStore.open({ directory, passphrase: PASSPHRASE }).getOrCreateSecret('b')).toThrow(KeystorePassphraseError);
  });

  it('imports a given secret; the same key again is a no-op, another key is refused', () => {
    const store = FileKeyStore.open({ directory, passphrase: PASSPHRASE });
    const key = Buffer.alloc(32, 7);
    const imported = store.importSecret('shared', key);
    expect(imported.key.equals(key)).toBe(true);
    expect(store.importSecret('shared', Buffer.from(key)).keyId).toBe(imported.keyId);
    expect(() => store.importSecret('shared', Buffer.alloc(32, 8))).toThrow(/already holds a different secret "shared"/);
    expect(FileKeyStore.open({ directory, passphrase: PASSPHRASE }).getOrCreateSecret('shared').key.equals(key)).toBe(true);
    expect(() => store.importSecret('short', Buffer.alloc(8))).toThrow(KeystoreError);
  });

  it('tells whether an entry exists', () => {
    const store = FileKeyStore.open({ directory, passphrase: PASSPHRASE });
    expect(store.has('k')).toBe(false);
    store.getOrCreateKeyPair('k', 'Ed25519');
    store.getOrCreateSecret('s');
    expect(store.has('k')).toBe(true);
    expect(store.has('s')).toBe(true);
    expect(store.has('other')).toBe(false);
  });

  it('refuses a name that could escape the directory', () => {
    const store = FileKeyStore.open({ directory, passphrase: PASSPHRASE });
    for (const name of ['../x', 'a/b', '', '.hidden', 'a..b']) expect(() => store.getOrCreateSecret(name)).toThrow(/Invalid keystore entry name/);
  });

  it('refuses the same name with another algorithm', () => {
    const store = FileKeyStore.open({ directory, passphrase: PASSPHRASE });
    store.getOrCreateKeyPair('k', 'Ed25519');
    expect(() => FileKeyStore.open({ directory, passphrase: PASSPHRASE }).getOrCreateKeyPair('k', 'RSA')).toThrow(/holds an Ed25519 key, not RSA/);
  });

  it('fails at open with a wrong passphrase, saying what to do, and changes nothing', () => {
    FileKeyStore.open({ directory, passphrase: PASSPHRASE }).getOrCreateSecret('s');
    const before = fs.readdirSync(directory).sort();
    let error: unknown;
    try {
      FileKeyStore.open({ directory, passphrase: 'another passphrase' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(KeystorePassphraseError);
    const message = (error as Error).message;
    expect(message).toContain('KEYSTORE_PASSPHRASE');
    expect(message).toContain('move the directory');
    expect(message).not.toContain(PASSPHRASE);
    expect(message).not.toContain('another passphrase');
    expect(fs.readdirSync(directory).sort()).toEqual(before);
  });

  it('detects a wrong passphrase on a directory without a check file, from an existing key', () => {
    FileKeyStore.open({ directory, passphrase: PASSPHRASE }).getOrCreateKeyPair('k', 'Ed25519');
    fs.rmSync(path.join(directory, '.keystore.json'));
    expect(() => FileKeyStore.open({ directory, passphrase: 'another passphrase' })).toThrow(KeystorePassphraseError);
    expect(fs.existsSync(path.join(directory, '.keystore.json'))).toBe(false);
    FileKeyStore.open({ directory, passphrase: PASSPHRASE });
    expect(fs.existsSync(path.join(directory, '.keystore.json'))).toBe(true);
  });

  it('refuses a passphrase shorter than 8 characters', () => {
    expect(() => FileKeyStore.open({ directory, passphrase: 'short' })).toThrow(/at least 8 characters/);
  });

  it('creates a public artefact once and keeps it', () => {
    const store = FileKeyStore.open({ directory, passphrase: PASSPHRASE });
    expect(store.getOrCreateArtifact('ca', () => 'first')).toEqual({ content: 'first', created: true });
    expect(store.getOrCreateArtifact('ca', () => 'second')).toEqual({ content: 'first', created: false });
    expect(() => store.getOrCreateArtifact('x.key', () => '')).toThrow(/may not end in ".key"/);
  });
});

describe('resolveKeystorePassphrase', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-passphrase-'))));
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('uses KEYSTORE_PASSPHRASE when set, and writes nothing', () => {
    expect(resolveKeystorePassphrase({ dataDir, env: { KEYSTORE_PASSPHRASE: 'from the environment' } })).toEqual({
      passphrase: 'from the environment',
      generated: false,
      source: 'KEYSTORE_PASSPHRASE',
    });
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('otherwise creates a random passphrase in <dataDir>/keys/.passphrase (0600) and reuses it', () => {
    const first = resolveKeystorePassphrase({ dataDir, env: {} });
    const file = path.join(dataDir, 'keys', '.passphrase');
    expect(first).toEqual({ passphrase: expect.any(String), generated: true, source: file });
    expect(first.passphrase.length).toBeGreaterThanOrEqual(32);
    expect(mode(file)).toBe(0o600);
    expect(mode(path.join(dataDir, 'keys'))).toBe(0o700);
    expect(resolveKeystorePassphrase({ dataDir, env: { KEYSTORE_PASSPHRASE: '' } }).passphrase).toBe(first.passphrase);
    // The generated passphrase opens the keystore beside it.
    const store = FileKeyStore.open({ directory: keystoreDirectory(dataDir), passphrase: first.passphrase });
    store.getOrCreateSecret('s');
  });
});
