import { generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import * as fc from 'fast-check';
import { signAsync, verifyAsync } from './threadpool';

const ed = generateKeyPairSync('ed25519');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

describe("node:crypto's sign and verify on libuv's threadpool", () => {
  it('signAsync makes the very bytes of the synchronous form for Ed25519 and RSA PKCS#1 v1.5 (both deterministic)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2_000 }), async (bytes) => {
        const data = Buffer.from(bytes);
        expect((await signAsync(null, data, ed.privateKey)).equals(cryptoSign(null, data, ed.privateKey))).toBe(true);
        expect((await signAsync('sha256', data, rsa.privateKey)).equals(cryptoSign('sha256', data, rsa.privateKey))).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('verifyAsync agrees with the synchronous form: true for a good signature, false for altered data or another key', async () => {
    const data = Buffer.from('registered delivery', 'utf8');
    const altered = Buffer.from('registered deliverY', 'utf8');
    const other = generateKeyPairSync('ed25519');
    const edSignature = cryptoSign(null, data, ed.privateKey);
    const rsaSignature = cryptoSign('sha256', data, rsa.privateKey);
    const ecSignature = cryptoSign('sha256', data, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
    await expect(verifyAsync(null, data, ed.publicKey, edSignature)).resolves.toBe(true);
    await expect(verifyAsync(null, altered, ed.publicKey, edSignature)).resolves.toBe(false);
    await expect(verifyAsync(null, data, other.publicKey, edSignature)).resolves.toBe(false);
    await expect(verifyAsync('sha256', data, rsa.publicKey, rsaSignature)).resolves.toBe(true);
    await expect(verifyAsync('sha256', altered, rsa.publicKey, rsaSignature)).resolves.toBe(false);
    await expect(verifyAsync('sha256', data, { key: ec.publicKey, dsaEncoding: 'ieee-p1363' }, ecSignature)).resolves.toBe(true);
    expect(cryptoVerify('sha256', data, { key: ec.publicKey, dsaEncoding: 'ieee-p1363' }, ecSignature)).toBe(true);
  });

  it('rejects (never throws) what node:crypto refuses: a public key to sign with, an unknown digest', async () => {
    const data = Buffer.from('x');
    expect(() => cryptoSign(null, data, ed.publicKey)).toThrow();
    await expect(signAsync(null, data, ed.publicKey)).rejects.toThrow();
    await expect(signAsync('no-such-digest', data, rsa.privateKey)).rejects.toThrow();
    await expect(verifyAsync('no-such-digest', data, rsa.publicKey, Buffer.alloc(256))).rejects.toThrow();
  });
});
