import { createHash, X509Certificate } from 'node:crypto';
import Database from 'better-sqlite3';
import { CA_CATEGORY, type RecordedEvent, streamIdOf } from '@sigillum/contracts';
import { signJwsDetached } from '@sigillum/crypto';
import { loadCertifierSigner } from '../../../certifier/src/signing/certifier-signer';
import { createTestPki, TEST_NOW, testToken, type TestPki } from '../testing-fixtures';
import { CertifierCertificates, x5tOfFingerprint } from './certifier-certificates';
import { CertifierTokenVerifier } from './token-verifier';

const fingerprintOf = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

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

  it('problemAsync (the cached Ed25519 verification on the threadpool) answers as problem, call for call, cached header or not', async () => {
    const certifier = loadCertifierSigner(pki.keystore, pki.ca, { now: () => TEST_NOW });
    const anchors = [pki.ca.caCertificatePem];
    const signature = await certifier.signDetachedAsync(token);
    expect(signature).toBe(certifier.signDetached(token));
    const [header, , sig] = signature.split('.');
    const flipped = Buffer.from(sig, 'base64url');
    flipped[10] ^= 0x01;
    const foreign = loadCertifierSigner(other.keystore, other.ca, { now: () => TEST_NOW });
    const later = new Date(TEST_NOW.getTime() + 3 * 365 * 86_400_000);
    const calls: [unknown, unknown, Date][] = [
      [signature, token, at],
      [signature, { ...token }, at],
      [signature, { ...token, inputDigest: '0'.repeat(64) }, at],
      [signature, { ...token, extra: 1 }, at],
      [`${header}..${flipped.toString('base64url')}`, token, at],
      [`${header}..!!`, token, at],
      [signature, token, later],
      [foreign.signDetached(token), token, at],
      [pki.signer.sign(token), token, at],
      [42, token, at],
    ];
    const synchronous = new CertifierTokenVerifier();
    const threadpool = new CertifierTokenVerifier();
    const answers = calls.map(([jws, payload, moment]) => synchronous.problem(jws, payload, anchors, moment));
    expect(answers.filter((answer) => answer === undefined)).toHaveLength(2);
    for (const [index, [jws, payload, moment]] of calls.entries())
      await expect(threadpool.problemAsync(jws, payload, anchors, moment)).resolves.toBe(answers[index]);
    // And a tampered token on a fresh verifier (full path), and under a header verified already (cached path).
    await expect(new CertifierTokenVerifier().problemAsync(signature, calls[2][1], anchors, at)).resolves.toMatch(/jws.signature.invalid/);
    await expect(threadpool.problemAsync(signature, calls[2][1], anchors, at)).resolves.toMatch(/does not verify/);
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

  describe('naming the certificate by x5t#S256 (CertifierSigningCertificateIssued)', () => {
    /** A CertifierCertificates over an in-memory LOCAL_DB and a store holding `ca-<caId>` with these events. */
    function certificatesWith(events: { type: string; data: unknown }[] = []) {
      const reads: string[] = [];
      const store = {
        readStream: async (streamId: string) => {
          reads.push(streamId);
          return streamId === streamIdOf(CA_CATEGORY, pki.ca.caId) ? events.map((event) => ({ event }) as unknown as RecordedEvent) : [];
        },
      };
      return { certificates: new CertifierCertificates(new Database(':memory:'), store, () => [pki.ca.caId]), reads };
    }
    const recorded = (pem: string) => ({
      type: 'CertifierSigningCertificateIssued',
      data: {
        caId: pki.ca.caId,
        keyId: 'a'.repeat(64),
        serialNumber: '01',
        subject: 'CN=Sigillum certifier signing, O=Sigillum',
        certificatePem: pem,
        fingerprint: fingerprintOf(pem),
        notBefore: TEST_NOW.toISOString(),
        notAfter: new Date(TEST_NOW.getTime() + 800 * 86_400_000).toISOString(),
        recordedAt: TEST_NOW.toISOString(),
      },
    });

    it('accepts a token naming a recorded certificate, as it accepts x5c, and keeps refusing every change', async () => {
      const certifier = loadCertifierSigner(pki.keystore, pki.ca, { now: () => TEST_NOW });
      const { certificates } = certificatesWith();
      expect(certificates.record(pki.ca.caId, certifier.certificatePem, certifier.certificateFingerprint, TEST_NOW.toISOString())).toBe(true);
      expect(certificates.record(pki.ca.caId, certifier.certificatePem, certifier.certificateFingerprint, TEST_NOW.toISOString())).toBe(false);
      const verifier = new CertifierTokenVerifier(certificates);
      const anchors = [pki.ca.caCertificatePem];
      const signature = certifier.signDetachedByReference(token);
      expect(signature).not.toContain(certifier.x5c[0].slice(0, 40));
      await verifier.learn(signature);
      expect(verifier.problem(signature, token, anchors, at)).toBeUndefined();
      expect(verifier.problem(signature, { ...token }, anchors, at)).toBeUndefined();
      const tampered = { ...token, inputDigest: '0'.repeat(64) };
      expect(verifier.problem(signature, tampered, anchors, at)).toMatch(/does not verify/);
      expect(new CertifierTokenVerifier(certificates).problem(signature, tampered, anchors, at)).toMatch(/jws.signature.invalid/);
      // Older tokens (x5c) stay accepted by the same verifier.
      expect(verifier.problem(certifier.signDetached(token), token, anchors, at)).toBeUndefined();
      // Another CA as the only anchor: the recorded certificate does not lead to it.
      expect(new CertifierTokenVerifier(certificates).problem(signature, token, [other.ca.caCertificatePem], at)).toMatch(/jws.chain.untrusted/);
      // Validity of the certificate (cached or not) still bounds it.
      const later = new Date(TEST_NOW.getTime() + 3 * 365 * 86_400_000);
      expect(verifier.problem(signature, token, anchors, later)).toMatch(/expired/);
      expect(new CertifierTokenVerifier(certificates).problem(signature, token, anchors, later)).toMatch(/expired/);
    });

    it('refuses a thumbprint the certifier never recorded (jws.x5t.unknown, not a crash) and an operator certificate named by thumbprint', async () => {
      const certifier = loadCertifierSigner(pki.keystore, pki.ca, { now: () => TEST_NOW });
      const { certificates, reads } = certificatesWith();
      const verifier = new CertifierTokenVerifier(certificates);
      const signature = certifier.signDetachedByReference(token);
      await verifier.learn(signature);
      expect(reads).toEqual([streamIdOf(CA_CATEGORY, pki.ca.caId)]);
      expect(verifier.problem(signature, token, [pki.ca.caCertificatePem], at)).toMatch(/^jws.x5t.unknown: .*x5t#S256/);
      await verifier.learn(signature); // looked for again at most once a second
      expect(reads).toHaveLength(1);
      expect(new CertifierTokenVerifier().problem(signature, token, [pki.ca.caCertificatePem], at)).toMatch(/jws.x5t.unknown/);
      // An operator's certificate recorded as if it were the certifier's: the subject still refuses it.
      const operatorPem = pki.signingCertificate.certificatePem;
      certificates.record(pki.ca.caId, operatorPem, fingerprintOf(operatorPem), TEST_NOW.toISOString());
      const byOperator = signJwsDetached(token, { privateKey: pki.signingKey.privateKey, alg: 'EdDSA', x5tCertificatePem: operatorPem });
      expect(verifier.problem(byOperator, token, [pki.ca.caCertificatePem], at)).toMatch(/not by the certifier's signing certificate/);
      expect(() => certificates.record(pki.ca.caId, operatorPem, 'f'.repeat(64), TEST_NOW.toISOString())).toThrow(/fingerprint/);
    });

    it('learns a certificate recorded on the CA stream but not consumed yet (the token topic ran ahead), once, from LOCAL_DB after a restart', async () => {
      const certifier = loadCertifierSigner(pki.keystore, pki.ca, { now: () => TEST_NOW });
      const db = new Database(':memory:');
      const events = [
        { type: 'CertificationAuthorityEstablished', data: {} },
        recorded(certifier.certificatePem),
        { type: 'CertifierSigningCertificateIssued', data: { bad: 1 } },
      ];
      let reads = 0;
      const store = {
        readStream: async () => {
          reads++;
          return events.map((event) => ({ event }) as unknown as RecordedEvent);
        },
      };
      const certificates = new CertifierCertificates(db, store, () => [pki.ca.caId]);
      const verifier = new CertifierTokenVerifier(certificates);
      const signature = certifier.signDetachedByReference(token);
      await verifier.learn(signature);
      expect(reads).toBe(1);
      expect(verifier.problem(signature, token, [pki.ca.caCertificatePem], at)).toBeUndefined();
      await verifier.learn(signature); // known (and its header verified): no read
      expect(reads).toBe(1);
      const x5t = x5tOfFingerprint(certifier.certificateFingerprint);
      expect(new CertifierCertificates(db, store, () => []).certificatePemOf(x5t)).toBe(certifier.certificatePem);
    });
  });
});
