import { signJwsDetached } from '@sigillum/crypto';
import { loadCertifierSigner } from '../../../certifier/src/signing/certifier-signer';
import { createTestPki, TEST_NOW, testToken, type TestPki } from '../testing-fixtures';
import { CertifierTokenVerifier } from './token-verifier';

describe("the certifier's token signature, as the processor checks it", () => {
  let pki: TestPki;
  let other: TestPki;
  beforeAll(() => {
    pki = createTestPki();
    other = createTestPki();
  });
  afterAll(() => {
    pki.cleanup();
    other.cleanup();
  });

  const at = new Date(TEST_NOW.getTime() + 1_000);
  const token = testToken();

  it('accepts the certifier signer over the exact token, again from its cache, and refuses any change', () => {
    const certifier = loadCertifierSigner(pki.keystore, pki.ca, { now: () => TEST_NOW });
    const anchors = [pki.ca.caCertificatePem];
    const signature = certifier.signDetached(token);
    const verifier = new CertifierTokenVerifier();
    expect(verifier.problem(signature, token, anchors, at)).toBeUndefined();
    expect(verifier.problem(signature, { ...token }, anchors, at)).toBeUndefined(); // cached header: one Ed25519 verification
    // Tampered after a verified token under the same header (cache path) and on a fresh verifier (full path).
    const tampered = { ...token, inputDigest: '0'.repeat(64) };
    expect(verifier.problem(signature, tampered, anchors, at)).toMatch(/does not verify/);
    expect(new CertifierTokenVerifier().problem(signature, tampered, anchors, at)).toMatch(/jws.signature.invalid/);
    expect(verifier.problem(signature, { ...token, extra: 1 }, anchors, at)).toMatch(/does not verify/);
    const [header, , sig] = signature.split('.');
    // One bit of the signature flipped (not a textual edit: the last base64url characters carry padding bits).
    const flipped = Buffer.from(sig, 'base64url');
    flipped[10] ^= 0x01;
    expect(verifier.problem(`${header}..${flipped.toString('base64url')}`, token, anchors, at)).toBeDefined();
    expect(verifier.problem(`${header}..!!`, token, anchors, at)).toMatch(/base64url/);
    // The cache keeps the chain's validity: after the certificates expire the full check refuses.
    expect(verifier.problem(signature, token, anchors, new Date(TEST_NOW.getTime() + 3 * 365 * 86_400_000))).toMatch(/expired/);
  });

  it("refuses an operator's own valid certificate (not the certifier's), another CA, and what is not a detached JWS", () => {
    const verifier = new CertifierTokenVerifier();
    const anchors = [pki.ca.caCertificatePem];
    const byOperator = signJwsDetached(token, { privateKey: pki.signingKey.privateKey, alg: 'EdDSA', x5c: pki.signer.x5c });
    expect(verifier.problem(byOperator, token, anchors, at)).toMatch(/not by the certifier's signing certificate/);
    const foreign = loadCertifierSigner(other.keystore, other.ca, { now: () => TEST_NOW });
    expect(verifier.problem(foreign.signDetached(token), token, anchors, at)).toMatch(/jws.chain.untrusted/);
    expect(verifier.problem(pki.signer.sign(token), token, anchors, at)).toMatch(/detached/);
    expect(verifier.problem(42, token, anchors, at)).toMatch(/string/);
  });
});
