import { createHash, X509Certificate } from 'node:crypto';
import { signJws, signJwsDetached, verifyJws, verifyJwsDetached } from '@sigillum/crypto';
import { OperatorSigner } from '../operators/operator-signer';
import { createTestPki, SIGNING_KEY_ID, TEST_NOW, testToken, type TestPki } from '../testing-fixtures';
import { performSeal } from './seal.step';

describe('seal step', () => {
  let pki: TestPki;
  beforeAll(() => (pki = createTestPki()));
  afterAll(() => pki.cleanup());

  const at = new Date(TEST_NOW.getTime() + 1_000);

  it('signs { correspondenceId, inputDigest, sealedAt } with the certified key: the JWS names its certificate by x5t#S256 (no x5c) and verifies against the CA with it', () => {
    const token = testToken({ step: 'seal' });
    const output = performSeal(token, pki.signer, at);
    const certificates = [pki.signingCertificate.certificatePem];
    const verified = verifyJws(output.sealJws, { trustedCaPem: pki.ca.caCertificatePem, certificates, expectedAlg: 'EdDSA', at });
    expect(verified.payload).toEqual({ correspondenceId: token.correspondenceId, inputDigest: token.inputDigest, sealedAt: at.toISOString() });
    const x5t = createHash('sha256').update(new X509Certificate(pki.signingCertificate.certificatePem).raw).digest('base64url');
    expect(verified.header).toEqual({ alg: 'EdDSA', kid: SIGNING_KEY_ID, 'x5t#S256': x5t });
    expect(verified.chainPems).toEqual([new X509Certificate(pki.signingCertificate.certificatePem).toString()]);
    // Without the certificate it names, it cannot be verified: resolution is the verifier's, not a guess.
    expect(() => verifyJws(output.sealJws, { trustedCaPem: pki.ca.caCertificatePem, at })).toThrow(/x5t#S256/);
    expect(() => verifyJws(output.sealJws, { trustedCaPem: pki.ca.caCertificatePem, certificates: [pki.tsaCertificate.certificatePem], at })).toThrow(
      expect.objectContaining({ code: 'jws.x5t.unknown' }),
    );
    expect(output.step).toBe('seal');
    expect(output.certificateFingerprint).toBe(createHash('sha256').update(new X509Certificate(pki.signingCertificate.certificatePem).raw).digest('hex'));
    expect(output.certificateFingerprint).toBe(pki.signingCertificate.fingerprint);
  });

  it('a seal over another digest or altered in transit does not verify', () => {
    const output = performSeal(testToken(), pki.signer, at);
    const [header, payload, signature] = output.sealJws.split('.');
    const forged = Buffer.from(
      JSON.stringify({ correspondenceId: testToken().correspondenceId, inputDigest: '0'.repeat(64), sealedAt: at.toISOString() }),
    ).toString('base64url');
    const options = { trustedCaPem: pki.ca.caCertificatePem, certificates: pki.signingCertificate.certificatePem, at };
    expect(() => verifyJws(`${header}.${forged}.${signature}`, options)).toThrow(/signature/);
    expect(() => verifyJws(`${header}.${payload}.${signature}`, options)).not.toThrow();
  });

  it('the operator signer makes byte-for-byte the tokens of signJws / signJwsDetached (header computed once)', () => {
    const options = {
      privateKey: pki.signingKey.privateKey,
      alg: 'EdDSA' as const,
      x5tCertificatePem: pki.signingCertificate.certificatePem,
      kid: SIGNING_KEY_ID,
    };
    const payload = { b: [1, 2, 3], a: 'Zoë', n: 1e21 };
    expect(pki.signer.sign(payload)).toBe(signJws(payload, options));
    expect(pki.signer.signDetached(payload)).toBe(signJwsDetached(payload, options));
    const verifying = { trustedCaPem: pki.ca.caCertificatePem, certificates: pki.signingCertificate.certificatePem, at };
    expect(verifyJwsDetached(pki.signer.signDetached(payload), payload, verifying).payload).toEqual(payload);
  });

  it('refuses to build a signer whose certificate is for another key', () => {
    expect(() => new OperatorSigner(pki.tsaKey.privateKey, pki.signingCertificate.certificatePem, pki.ca.caCertificatePem, 'k')).toThrow();
  });
});
