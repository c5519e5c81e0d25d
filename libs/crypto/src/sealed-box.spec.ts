import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { openSealed, sealableKeyProblem, sealTo, SealedBoxError, type SealedBox } from './sealed-box';

const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string;
const pkcs8 = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;

const x25519 = generateKeyPairSync('x25519');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** Flips one bit of a base64url field. */
function flip(value: string, byte = 0): string {
  const bytes = Buffer.from(value, 'base64url');
  bytes[byte] ^= 0x01;
  return bytes.toString('base64url');
}

describe.each([
  ['X25519', x25519, 'X25519-HKDF-SHA256-A256GCM'],
  ['RSA-2048', rsa, 'RSA-OAEP-256-A256GCM'],
] as const)('sealed box with an %s key', (_name, pair, alg) => {
  const plaintext = JSON.stringify({ code: '042917', text: 'Votre code / your code: 042917 ✓' });

  it('round-trips with and without AAD, from a PEM or a KeyObject, and survives JSON', () => {
    const box = sealTo(pem(pair.publicKey), plaintext, 'message-1');
    expect(box.alg).toBe(alg);
    const overJson = JSON.parse(JSON.stringify(box)) as SealedBox;
    expect(openSealed(pair.privateKey, overJson, 'message-1').toString('utf8')).toBe(plaintext);
    expect(openSealed(pkcs8(pair.privateKey), overJson, 'message-1').toString('utf8')).toBe(plaintext);

    const noAad = sealTo(pair.publicKey, Buffer.from(plaintext));
    expect(openSealed(pair.privateKey, noAad).toString('utf8')).toBe(plaintext);
  });

  it('carries only the fields of its algorithm, base64url, and never the plaintext', () => {
    const box = sealTo(pem(pair.publicKey), plaintext, 'message-1');
    expect(Object.keys(box).sort()).toEqual(
      alg === 'RSA-OAEP-256-A256GCM' ? ['alg', 'ciphertext', 'ek', 'iv', 'tag'] : ['alg', 'ciphertext', 'epk', 'iv', 'tag'],
    );
    for (const [field, value] of Object.entries(box)) if (field !== 'alg') expect(value).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.stringify(box)).not.toContain('042917');
    expect(Buffer.from(box.iv, 'base64url')).toHaveLength(12);
    expect(Buffer.from(box.tag, 'base64url')).toHaveLength(16);
    if (box.epk) expect(Buffer.from(box.epk, 'base64url')).toHaveLength(32);
  });

  it('seals the same plaintext differently every time', () => {
    const [a, b] = [sealTo(pair.publicKey, plaintext), sealTo(pair.publicKey, plaintext)];
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(a.iv).not.toBe(b.iv);
  });

  it('rejects a tampered ciphertext, tag, iv or key field', () => {
    const box = sealTo(pair.publicKey, plaintext, 'message-1');
    const tampered: SealedBox[] = [
      { ...box, ciphertext: flip(box.ciphertext, 3) },
      { ...box, tag: flip(box.tag, 15) },
      { ...box, iv: flip(box.iv) },
      box.epk ? { ...box, epk: flip(box.epk, 5) } : { ...box, ek: flip(box.ek!, 100) },
    ];
    for (const altered of tampered) expect(() => openSealed(pair.privateKey, altered, 'message-1')).toThrow(SealedBoxError);
  });

  it('rejects a wrong or missing AAD, and an AAD the box was not sealed with', () => {
    const box = sealTo(pair.publicKey, plaintext, 'message-1');
    expect(() => openSealed(pair.privateKey, box, 'message-2')).toThrow(/authentication failed/);
    expect(() => openSealed(pair.privateKey, box)).toThrow(/authentication failed/);
    const unbound = sealTo(pair.publicKey, plaintext);
    expect(() => openSealed(pair.privateKey, unbound, 'message-1')).toThrow(/authentication failed/);
  });

  it("does not open with another recipient's key", () => {
    const other = alg === 'RSA-OAEP-256-A256GCM' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('x25519');
    const box = sealTo(pair.publicKey, plaintext);
    expect(() => openSealed(other.privateKey, box)).toThrow(SealedBoxError);
  });
});

describe('sealed box refusals', () => {
  it('refuses an Ed25519 key with a message that says what to register instead', () => {
    const ed = generateKeyPairSync('ed25519');
    expect(() => sealTo(pem(ed.publicKey), 'x')).toThrow(SealedBoxError);
    expect(() => sealTo(pem(ed.publicKey), 'x')).toThrow(/ed25519 key.*Ed25519 key only signs; register an X25519 key/);
    expect(sealableKeyProblem(pem(ed.publicKey))).toMatch(/only signs/);
    expect(sealableKeyProblem(pem(x25519.publicKey))).toBeUndefined();
  });

  it('refuses an RSA key shorter than 2048 bits and text that is not a public key', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => sealTo(small.publicKey, 'x')).toThrow(/1024 bits.*at least 2048/);
    expect(() => sealTo('not a key', 'x')).toThrow(/Cannot read the recipient public key/);
  });

  it('refuses to open with the wrong key type or a public key, and names malformed fields', () => {
    const box = sealTo(x25519.publicKey, 'x');
    expect(() => openSealed(rsa.privateKey, box)).toThrow(/opens with an X25519 private key, not rsa/);
    expect(() => openSealed(x25519.publicKey, box)).toThrow(/not a public key/);
    expect(() => openSealed(x25519.privateKey, { ...box, alg: 'A128CBC' as never })).toThrow(/alg "A128CBC"/);
    expect(() => openSealed(x25519.privateKey, { ...box, iv: 'AAAA' })).toThrow(/iv must be 12 bytes/);
    expect(() => openSealed(x25519.privateKey, { ...box, tag: 'a+b/' })).toThrow(/tag must be a base64url string/);
    expect(() => openSealed(x25519.privateKey, { ...box, epk: undefined })).toThrow(/epk must be 32 bytes/);
  });
});
