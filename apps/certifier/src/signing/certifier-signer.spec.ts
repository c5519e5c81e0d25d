import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CertificateAuthority, FileKeyStore } from '@sigillum/crypto';
import { type CertifierSigner, loadCertifierSigner } from './certifier-signer';

const now = new Date('2026-06-01T12:00:00.000Z');
const token = { tokenId: 't-1', operatorId: 'o-1', step: 'seal', inputDigest: 'a'.repeat(64), names: ['Zoë', '😀'] };

describe("CertifierSigner's async forms (the Ed25519 signature on libuv's threadpool)", () => {
  let dir: string;
  let signer: CertifierSigner;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-certifier-signer-'));
    const keystore = FileKeyStore.open({ directory: dir, passphrase: 'certifier signer spec passphrase, not a secret' });
    const { ca } = CertificateAuthority.loadOrCreate(keystore, { commonName: 'Certifier CA', organisation: 'Sigillum', validityDays: 3650, now });
    signer = loadCertifierSigner(keystore, ca, { now: () => now });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('make the very JWS of the synchronous forms (x5c and x5t#S256, embedded and detached), which verify', async () => {
    await expect(signer.signAsync(token)).resolves.toBe(signer.sign(token));
    await expect(signer.signByReferenceAsync(token, 'sigillum-evidence+jws')).resolves.toBe(signer.signByReference(token, 'sigillum-evidence+jws'));
    await expect(signer.signDetachedAsync(token)).resolves.toBe(signer.signDetached(token));
    await expect(signer.signDetachedByReferenceAsync(token)).resolves.toBe(signer.signDetachedByReference(token));
    expect(signer.verify(await signer.signAsync(token), now).payload).toEqual(token);
    expect(signer.verifyDetached(await signer.signDetachedAsync(token), token, now).header.kid).toBe(signer.keyId);
  });
});
