import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { algorithmOf, fingerprintOf, generateKeyPair, publicKeyPemOf, signBytes, spkiDerOf, UnsupportedKeyError, verifySignature } from './keys';

describe('keys', () => {
  const ed = generateKeyPair('Ed25519');
  const rsa = generateKeyPair('RSA');
  const x = generateKeyPair('X25519');

  it.each([
    ['Ed25519', ed],
    ['RSA', rsa],
    ['X25519', x],
  ] as const)('generates %s pairs with an SPKI PEM and its SHA-256 fingerprint', (algorithm, pair) => {
    expect(pair.algorithm).toBe(algorithm);
    expect(pair.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
    const der = createPublicKey(pair.publicKeyPem).export({ type: 'spki', format: 'der' });
    expect(pair.fingerprint).toBe(createHash('sha256').update(der).digest('hex'));
    expect(fingerprintOf(pair.publicKeyPem)).toBe(pair.fingerprint);
    expect(fingerprintOf(pair.privateKey)).toBe(pair.fingerprint);
    expect(algorithmOf(pair.publicKeyPem)).toBe(algorithm);
    expect(publicKeyPemOf(pair.privateKey)).toBe(pair.publicKeyPem);
    expect(spkiDerOf(pair.publicKeyPem).equals(der)).toBe(true);
  });

  it('makes RSA keys of 2048 bits', () => {
    expect(rsa.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('refuses what is not an SPKI public key, with a clear error', () => {
    expect(() => algorithmOf('hello')).toThrow(UnsupportedKeyError);
    expect(() => algorithmOf('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')).toThrow(/not a readable/);
  });

  it('refuses an unsupported key type, naming it', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => algorithmOf(pem)).toThrow(/Unsupported key type "ec"/);
  });

  it.each([
    ['Ed25519', ed],
    ['RSA', rsa],
  ] as const)('signs and verifies with %s; a changed byte or another key fails', (_name, pair) => {
    const data = Buffer.from('evidence #1');
    const signature = signBytes(pair.privateKey, data);
    expect(verifySignature(pair.publicKeyPem, data, signature)).toBe(true);
    expect(verifySignature(pair.publicKey, 'evidence #1', signature)).toBe(true);
    expect(verifySignature(pair.publicKeyPem, Buffer.from('evidence #2'), signature)).toBe(false);
    const other = generateKeyPair(pair.algorithm);
    expect(verifySignature(other.publicKeyPem, data, signature)).toBe(false);
    expect(verifySignature(pair.publicKeyPem, data, Buffer.from('garbage'))).toBe(false);
  });

  it('refuses to sign with an X25519 key', () => {
    expect(() => signBytes(x.privateKey, 'data')).toThrow(/key agreement only/);
  });
});
