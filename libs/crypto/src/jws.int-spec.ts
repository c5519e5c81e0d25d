import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CertificateAuthority } from './ca';
import { generateKeyPair, type GeneratedKeyPair } from './keys';
import { FileKeyStore } from './keystore';
import { JwsError, signJws, verifyJws, type JwsAlgorithm } from './jws';

const OPENSSL = '/usr/bin/openssl';
const PASSPHRASE = 'correct horse battery staple';
const now = new Date('2026-11-25T08:00:00.000Z');

function openssl(args: string[]): { status: number; out: string } {
  const result = spawnSync(OPENSSL, args, { encoding: 'utf8' });
  return { status: result.status ?? -1, out: `${result.stdout}${result.stderr}` };
}

function derBase64(pem: string): string {
  return new X509Certificate(pem).raw.toString('base64');
}

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(JwsError);
    return (error as JwsError).code;
  }
  throw new Error('expected a JwsError');
}

describe('JWS with an x5c chain from the Sigillum CA, checked by openssl', () => {
  let dir: string;
  let ca: CertificateAuthority;
  let caFile: string;
  const signers: Partial<Record<'EdDSA' | 'RS256', { key: GeneratedKeyPair; certificatePem: string }>> = {};
  const evidence = {
    EvidenceIdentifier: 'ev-1',
    ERDSEventId: 'http://uri.etsi.org/19522/Event/ContentHandover',
    EventTime: '2026-11-26T10:00:00Z',
    reasons: [],
  };

  function write(name: string, content: string | Buffer): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  }

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-jws-'));
    const keystore = FileKeyStore.open({ directory: path.join(dir, 'keys'), passphrase: PASSPHRASE });
    ca = CertificateAuthority.loadOrCreate(keystore, { commonName: 'Sigillum Test CA', organisation: 'Sigillum', validityDays: 3650, now }).ca;
    caFile = write('ca.pem', ca.caCertificatePem);
    for (const [alg, algorithm] of [
      ['EdDSA', 'Ed25519'],
      ['RS256', 'RSA'],
    ] as const) {
      const key = generateKeyPair(algorithm);
      const issued = ca.issue({
        subject: { commonName: `Evidence signer ${alg}`, organisation: 'Sigillum' },
        publicKeyPem: key.publicKeyPem,
        profile: 'signing',
        validityDays: 365,
        now,
      });
      signers[alg] = { key, certificatePem: issued.certificatePem };
    }
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each<'EdDSA' | 'RS256'>(['EdDSA', 'RS256'])('a %s token verifies here with the chain, and with openssl (signature and certificate)', (alg) => {
    const signer = signers[alg]!;
    const token = signJws(evidence, {
      privateKey: signer.key.privateKey,
      alg,
      x5c: [derBase64(signer.certificatePem), derBase64(ca.caCertificatePem)],
      kid: alg,
    });
    const at = new Date('2026-12-01T00:00:00Z');
    const verified = verifyJws(token, { trustedCaPem: ca.caCertificatePem, expectedAlg: alg, at });
    expect(verified.payload).toEqual(evidence);
    expect(verified.signerCertificatePem).toBe(signer.certificatePem);
    expect(verified.chainPems).toEqual([signer.certificatePem, ca.caCertificatePem]);

    // openssl: the leaf of x5c chains to the CA...
    const [h, p, s] = token.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { x5c: string[] };
    const leafFile = write(`${alg}-leaf.der`, Buffer.from(header.x5c[0], 'base64'));
    const leafPem = openssl(['x509', '-inform', 'DER', '-in', leafFile]);
    expect(leafPem.status).toBe(0);
    const leafPemFile = write(`${alg}-leaf.pem`, leafPem.out);
    expect(openssl(['verify', '-attime', String(at.getTime() / 1000), '-CAfile', caFile, leafPemFile]).status).toBe(0);
    // ...and its public key verifies the signature over the signing input.
    const pubFile = write(`${alg}-pub.pem`, openssl(['x509', '-in', leafPemFile, '-noout', '-pubkey']).out);
    const inputFile = write(`${alg}-input.bin`, `${h}.${p}`);
    const sigFile = write(`${alg}-sig.bin`, Buffer.from(s, 'base64url'));
    const check =
      alg === 'EdDSA'
        ? openssl(['pkeyutl', '-verify', '-pubin', '-inkey', pubFile, '-rawin', '-in', inputFile, '-sigfile', sigFile])
        : openssl(['dgst', '-sha256', '-verify', pubFile, '-signature', sigFile, inputFile]);
    expect(check).toEqual({ status: 0, out: expect.stringMatching(/Signature Verified Successfully|Verified OK/) });

    // A changed signing input fails openssl too.
    const tamperedInput = write(
      `${alg}-input-tampered.bin`,
      `${h}.${Buffer.from(JSON.stringify({ ...evidence, EventTime: '2026-11-26T10:00:01Z' })).toString('base64url')}`,
    );
    const bad =
      alg === 'EdDSA'
        ? openssl(['pkeyutl', '-verify', '-pubin', '-inkey', pubFile, '-rawin', '-in', tamperedInput, '-sigfile', sigFile])
        : openssl(['dgst', '-sha256', '-verify', pubFile, '-signature', sigFile, tamperedInput]);
    expect(bad.status).not.toBe(0);
  });

  it('an ES256 token verifies with openssl dgst once R‖S is DER-encoded', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const token = signJws(evidence, { privateKey, alg: 'ES256' });
    const [h, p, s] = token.split('.');
    const raw = Buffer.from(s, 'base64url');
    const integer = (bytes: Buffer): Buffer => {
      let trimmed = bytes;
      while (trimmed.length > 1 && trimmed[0] === 0 && trimmed[1] < 0x80) trimmed = trimmed.subarray(1);
      if (trimmed[0] >= 0x80) trimmed = Buffer.concat([Buffer.from([0]), trimmed]);
      return Buffer.concat([Buffer.from([0x02, trimmed.length]), trimmed]);
    };
    const body = Buffer.concat([integer(raw.subarray(0, 32)), integer(raw.subarray(32))]);
    const der = Buffer.concat([Buffer.from([0x30, body.length]), body]);
    const pubFile = write('es-pub.pem', publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const result = openssl(['dgst', '-sha256', '-verify', pubFile, '-signature', write('es-sig.der', der), write('es-input.bin', `${h}.${p}`)]);
    expect(result).toEqual({ status: 0, out: 'Verified OK\n' });
  });

  it('a leaf-only x5c verifies against the trusted CA', () => {
    const signer = signers.EdDSA!;
    const token = signJws(evidence, { privateKey: signer.key.privateKey, alg: 'EdDSA', x5c: [derBase64(signer.certificatePem)] });
    expect(verifyJws(token, { trustedCaPem: [ca.caCertificatePem], at: now }).signerCertificatePem).toBe(signer.certificatePem);
  });

  it('a token naming its certificate by x5t#S256 verifies given the certificate; the thumbprint is what openssl computes', () => {
    const signer = signers.EdDSA!;
    const token = signJws(evidence, { privateKey: signer.key.privateKey, alg: 'EdDSA', x5tCertificatePem: signer.certificatePem, kid: 'ed' });
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as Record<string, unknown>;
    expect(header.x5c).toBeUndefined();
    // openssl's SHA-256 fingerprint of the DER, re-encoded base64url, is the header's x5t#S256 (RFC 7515 §4.1.8).
    const fingerprint = openssl(['x509', '-in', write('x5t-leaf.pem', signer.certificatePem), '-noout', '-fingerprint', '-sha256']).out;
    const hex = /=([0-9A-F:]+)/.exec(fingerprint)![1].replace(/:/g, '');
    expect(header['x5t#S256']).toBe(Buffer.from(hex, 'hex').toString('base64url'));
    const verified = verifyJws(token, { trustedCaPem: ca.caCertificatePem, certificates: [signers.RS256!.certificatePem, signer.certificatePem], at: now });
    expect(verified.payload).toEqual(evidence);
    expect(verified.signerCertificatePem).toBe(signer.certificatePem);
    expect(codeOf(() => verifyJws(token, { trustedCaPem: ca.caCertificatePem, at: now }))).toBe('jws.x5t.unresolved');
    expect(codeOf(() => verifyJws(token, { trustedCaPem: ca.caCertificatePem, certificates: signers.RS256!.certificatePem, at: now }))).toBe('jws.x5t.unknown');
    const otherStore = FileKeyStore.open({ directory: path.join(dir, 'x5t-other-keys'), passphrase: PASSPHRASE });
    const other = CertificateAuthority.loadOrCreate(otherStore, { commonName: 'Other CA', organisation: 'Other', validityDays: 3650, now }).ca;
    expect(codeOf(() => verifyJws(token, { trustedCaPem: other.caCertificatePem, certificates: signer.certificatePem, at: now }))).toBe('jws.chain.untrusted');
    expect(codeOf(() => signJws(evidence, { privateKey: signer.key.privateKey, alg: 'EdDSA', x5tCertificatePem: signers.RS256!.certificatePem }))).toBe(
      'jws.x5t.key-mismatch',
    );
  });

  it('refuses a chain to another CA, a certificate outside its validity, and a missing trust anchor', () => {
    const signer = signers.EdDSA!;
    const token = signJws(evidence, { privateKey: signer.key.privateKey, alg: 'EdDSA' as JwsAlgorithm, x5c: [derBase64(signer.certificatePem)] });
    const otherStore = FileKeyStore.open({ directory: path.join(dir, 'other-keys'), passphrase: PASSPHRASE });
    const other = CertificateAuthority.loadOrCreate(otherStore, { commonName: 'Sigillum Test CA', organisation: 'Sigillum', validityDays: 3650, now }).ca;
    expect(codeOf(() => verifyJws(token, { trustedCaPem: other.caCertificatePem, at: now }))).toBe('jws.chain.untrusted');
    expect(codeOf(() => verifyJws(token, { trustedCaPem: ca.caCertificatePem, at: new Date('2027-11-26T08:00:00Z') }))).toBe('jws.certificate.expired');
    expect(codeOf(() => verifyJws(token, { trustedCaPem: ca.caCertificatePem, at: new Date('2026-11-25T07:59:59Z') }))).toBe('jws.certificate.not-yet-valid');
    expect(codeOf(() => verifyJws(token, {}))).toBe('jws.trust-anchor.missing');
    expect(codeOf(() => verifyJws(token, { trustedCaPem: 'not a pem' }))).toBe('jws.trust-anchor.unreadable');
    // Pinning the key: the leaf must carry it.
    expect(verifyJws(token, { publicKey: signer.key.publicKeyPem }).payload).toEqual(evidence);
    expect(codeOf(() => verifyJws(token, { publicKey: signers.RS256!.key.publicKeyPem }))).toBe('jws.key.mismatch');
  });

  it('refuses to sign with a certificate for another key, and a token whose x5c leaf was swapped', () => {
    const ed = signers.EdDSA!;
    const rsa = signers.RS256!;
    expect(codeOf(() => signJws(evidence, { privateKey: ed.key.privateKey, alg: 'EdDSA', x5c: [derBase64(rsa.certificatePem)] }))).toBe('jws.x5c.key-mismatch');
    expect(codeOf(() => signJws(evidence, { privateKey: ed.key.privateKey, alg: 'EdDSA', x5c: ['not base64!'] }))).toBe('jws.x5c.invalid');
    // Another Ed25519 signer, certified by the same CA: its certificate in the header does not verify the first signer's signature.
    const intruderKey = generateKeyPair('Ed25519');
    const intruder = ca.issue({ subject: { commonName: 'Intruder' }, publicKeyPem: intruderKey.publicKeyPem, profile: 'signing', validityDays: 365, now });
    const token = signJws(evidence, { privateKey: ed.key.privateKey, alg: 'EdDSA', x5c: [derBase64(ed.certificatePem)] });
    const [, p, s] = token.split('.');
    const swappedHeader = Buffer.from(JSON.stringify({ alg: 'EdDSA', x5c: [derBase64(intruder.certificatePem)] })).toString('base64url');
    expect(codeOf(() => verifyJws(`${swappedHeader}.${p}.${s}`, { trustedCaPem: ca.caCertificatePem, at: now }))).toBe('jws.signature.invalid');
  });
});
