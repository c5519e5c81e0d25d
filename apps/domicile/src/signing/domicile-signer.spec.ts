import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { canonicalize, FileKeyStore, JwsError, verifyJws } from '@sigillum/crypto';
import { loadDomicileSigner, VALIDATION_PROOF_TYP } from './domicile-signer';

describe('DomicileSigner', () => {
  let directory: string;
  beforeAll(() => (directory = mkdtempSync(path.join(tmpdir(), 'domicile-signer-'))));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  const open = () => loadDomicileSigner(FileKeyStore.open({ directory, passphrase: 'a test passphrase, not a secret' }));

  it('signs a proof that anyone verifies with the published key alone, and keeps its key across restarts', () => {
    const signer = open();
    const payload = { draftId: 'd-1', sessionId: 's-1', specimenDigest: 'a'.repeat(64), validatedAt: '2025-01-01T00:00:00.000Z' };
    const proof = signer.sign(payload);

    const verified = verifyJws(proof, { publicKey: signer.published.publicKeyPem, expectedAlg: 'EdDSA' });
    expect(verified.payloadText).toBe(canonicalize(payload));
    expect(verified.header).toMatchObject({ alg: 'EdDSA', kid: signer.keyId, typ: VALIDATION_PROOF_TYP });
    expect(signer.published.jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: signer.keyId });
    expect(signer.keyId).toMatch(/^[0-9a-f]{64}$/);
    expect(open().keyId).toBe(signer.keyId);
  });

  it('signAsync (the signature on the threadpool) makes the very proof sign makes', async () => {
    const signer = open();
    const payload = { draftId: 'd-2', sessionId: 's-2', specimenDigest: 'b'.repeat(64), validatedAt: '2025-01-01T00:00:01.000Z' };
    await expect(signer.signAsync(payload)).resolves.toBe(signer.sign(payload));
    await expect(signer.signAsync(payload, 'JOSE')).resolves.toBe(signer.sign(payload, 'JOSE'));
  });

  it('refuses a proof whose payload was altered', () => {
    const signer = open();
    const [header, , signature] = signer.sign({ draftId: 'd-1' }).split('.');
    const forged = `${header}.${Buffer.from(canonicalize({ draftId: 'd-2' })).toString('base64url')}.${signature}`;
    expect(() => signer.verify(forged)).toThrow(JwsError);
  });
});
