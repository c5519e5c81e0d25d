import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CertificateAuthority,
  CertificateRequestError,
  describeCertificate,
  distinguishedNameToString,
  EXTENDED_KEY_USAGE,
  extendedKeyUsagesOf,
  isClientAuthCertificate,
  isServerName,
} from './ca';
import { generateKeyPair } from './keys';
import { FileKeyStore } from './keystore';

const OPENSSL = '/usr/bin/openssl';
const PASSPHRASE = 'correct horse battery staple';
const now = new Date('2026-11-25T08:00:00.250Z');
const caOptions = { commonName: 'Sigillum Test CA', organisation: 'Sigillum', validityDays: 3650, now };

function openssl(args: string[]): { status: number; out: string } {
  const result = spawnSync(OPENSSL, args, { encoding: 'utf8' });
  return { status: result.status ?? -1, out: `${result.stdout}${result.stderr}` };
}

describe('CertificateAuthority', () => {
  let dir: string;
  let keystore: FileKeyStore;
  let ca: CertificateAuthority;
  let caFile: string;
  const attime = ['-attime', String(Math.floor(now.getTime() / 1000) + 60)];

  function write(name: string, content: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  }

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-ca-'));
    keystore = FileKeyStore.open({ directory: path.join(dir, 'keys'), passphrase: PASSPHRASE });
    const loaded = CertificateAuthority.loadOrCreate(keystore, caOptions);
    expect(loaded.created).toBe(true);
    ca = loaded.ca;
    caFile = write('ca.pem', ca.caCertificatePem);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('the CA itself', () => {
    it('is stable across restarts (same certificate, not created again)', () => {
      const reopened = FileKeyStore.open({ directory: path.join(dir, 'keys'), passphrase: PASSPHRASE });
      const again = CertificateAuthority.loadOrCreate(reopened, { ...caOptions, now: new Date('2027-01-01T00:00:00Z') });
      expect(again.created).toBe(false);
      expect(again.ca.caCertificatePem).toBe(ca.caCertificatePem);
      expect(again.ca.fingerprint).toBe(ca.fingerprint);
      expect(again.ca.caId).toBe(ca.fingerprint.slice(0, 16));
    });

    it('describes itself', () => {
      expect(ca.subject).toBe('CN=Sigillum Test CA,O=Sigillum');
      expect(ca.notBefore).toBe('2026-11-25T08:00:00.000Z');
      expect(ca.notAfter).toBe(new Date(Date.parse('2026-11-25T08:00:00.000Z') + 3650 * 86_400_000).toISOString());
      expect(ca.fingerprint).toBe(new X509Certificate(ca.caCertificatePem).fingerprint256.replace(/:/g, '').toLowerCase());
    });

    it('is a self-signed RSA CA with critical basicConstraints and keyUsage, and an SKI', () => {
      expect(openssl(['verify', ...attime, '-CAfile', caFile, caFile]).status).toBe(0);
      const { out } = openssl(['x509', '-in', caFile, '-noout', '-text']);
      expect(out).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
      expect(out).toMatch(/Public-Key: \(2048 bit\)/);
      expect(out).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
      expect(out).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
      expect(out).toMatch(/X509v3 Subject Key Identifier:/);
      expect(out).toMatch(/Version: 3 \(0x2\)/);
    });

    it('keeps its key in the keystore, encrypted, and its certificate beside it', () => {
      expect(fs.readFileSync(keystore.keyFile('certifier-ca'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      expect(fs.readFileSync(keystore.artifactFile('certifier-ca'), 'utf8')).toBe(ca.caCertificatePem);
    });

    it('refuses a certificate that does not belong to the key', () => {
      const other = FileKeyStore.open({ directory: path.join(dir, 'other-keys'), passphrase: PASSPHRASE });
      other.getOrCreateArtifact('certifier-ca', () => ca.caCertificatePem);
      expect(() => CertificateAuthority.loadOrCreate(other, caOptions)).toThrow(/does not belong to the CA key/);
    });
  });

  describe('issued certificates', () => {
    const subject = { commonName: 'Ada Lovelace', organisationalUnit: 'party-42' };

    it('issues a signing certificate for an RSA key that openssl verifies', () => {
      const key = generateKeyPair('RSA');
      const issued = ca.issue({ subject, publicKeyPem: key.publicKeyPem, profile: 'signing', validityDays: 365, now });
      const leaf = write('rsa-leaf.pem', issued.certificatePem);
      const result = openssl(['verify', ...attime, '-CAfile', caFile, leaf]);
      expect(result).toEqual({ status: 0, out: `${leaf}: OK\n` });
      const { out } = openssl(['x509', '-in', leaf, '-noout', '-text']);
      expect(out).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
      expect(out).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Non Repudiation/);
      expect(out).toMatch(/X509v3 Subject Key Identifier:/);
      expect(out).toMatch(/X509v3 Authority Key Identifier:/);
      expect(out).not.toMatch(/Extended Key Usage/);
      // The certificate carries exactly the key asked for.
      expect(new X509Certificate(issued.certificatePem).publicKey.export({ type: 'spki', format: 'pem' })).toBe(key.publicKeyPem);
    });

    it('issues a signing certificate for an Ed25519 key (TBS built with node-forge asn1) that openssl verifies', () => {
      const key = generateKeyPair('Ed25519');
      const issued = ca.issue({ subject, publicKeyPem: key.publicKeyPem, profile: 'signing', validityDays: 365, now });
      const leaf = write('ed-leaf.pem', issued.certificatePem);
      expect(openssl(['verify', ...attime, '-CAfile', caFile, leaf])).toEqual({ status: 0, out: `${leaf}: OK\n` });
      const { out } = openssl(['x509', '-in', leaf, '-noout', '-text']);
      expect(out).toMatch(/Public Key Algorithm: ED25519/);
      expect(out).toMatch(/Key Usage: critical\s+Digital Signature, Non Repudiation/);
      expect(new X509Certificate(issued.certificatePem).publicKey.export({ type: 'spki', format: 'pem' })).toBe(key.publicKeyPem);
    });

    it('issues a TSA certificate that openssl verifies for the timestampsign purpose', () => {
      const key = generateKeyPair('Ed25519');
      const issued = ca.issue({
        subject: { commonName: 'Sigillum TSA', organisation: 'Sigillum' },
        publicKeyPem: key.publicKeyPem,
        profile: 'tsa',
        validityDays: 365,
        now,
      });
      const leaf = write('tsa-leaf.pem', issued.certificatePem);
      expect(openssl(['verify', ...attime, '-purpose', 'timestampsign', '-CAfile', caFile, leaf])).toEqual({ status: 0, out: `${leaf}: OK\n` });
      const { out } = openssl(['x509', '-in', leaf, '-noout', '-text']);
      expect(out).toMatch(/X509v3 Extended Key Usage: critical\s+Time Stamping/);
      expect(out).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
      // A signing certificate is not good for time-stamping.
      const signing = write('not-tsa.pem', ca.issue({ subject, publicKeyPem: key.publicKeyPem, profile: 'signing', validityDays: 365, now }).certificatePem);
      expect(openssl(['verify', ...attime, '-purpose', 'timestampsign', '-CAfile', caFile, signing]).status).not.toBe(0);
    });

    it('issues an encryption certificate for an X25519 key (keyAgreement) and for an RSA key (keyEncipherment)', () => {
      const x = ca.issue({ subject, publicKeyPem: generateKeyPair('X25519').publicKeyPem, profile: 'encryption', validityDays: 30, now });
      const xFile = write('x-leaf.pem', x.certificatePem);
      expect(openssl(['verify', ...attime, '-CAfile', caFile, xFile]).status).toBe(0);
      const xText = openssl(['x509', '-in', xFile, '-noout', '-text']).out;
      expect(xText).toMatch(/Public Key Algorithm: X25519/);
      expect(xText).toMatch(/Key Usage: critical\s+Key Agreement/);
      const r = ca.issue({ subject, publicKeyPem: generateKeyPair('RSA').publicKeyPem, profile: 'encryption', validityDays: 30, now });
      const rFile = write('r-enc.pem', r.certificatePem);
      expect(openssl(['verify', ...attime, '-CAfile', caFile, rFile]).status).toBe(0);
      expect(openssl(['x509', '-in', rFile, '-noout', '-text']).out).toMatch(/Key Usage: critical\s+Key Encipherment/);
    });

    it('issues TLS client certificates (Ed25519 and RSA) that openssl verifies for the sslclient purpose, and no other profile passes', () => {
      for (const algorithm of ['Ed25519', 'RSA'] as const) {
        const issued = ca.issue({
          subject: { commonName: 'party-id', organisation: 'Acme' },
          publicKeyPem: generateKeyPair(algorithm).publicKeyPem,
          profile: 'client',
          validityDays: 30,
          now,
        });
        const leaf = write(`client-${algorithm}.pem`, issued.certificatePem);
        expect(openssl(['verify', ...attime, '-purpose', 'sslclient', '-CAfile', caFile, leaf])).toEqual({ status: 0, out: `${leaf}: OK\n` });
        expect(openssl(['verify', ...attime, '-purpose', 'sslserver', '-CAfile', caFile, leaf]).status).not.toBe(0);
        const { out } = openssl(['x509', '-in', leaf, '-noout', '-text']);
        expect(out).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
        expect(out).toMatch(/X509v3 Extended Key Usage: \s*TLS Web Client Authentication/);
        expect(issued.subject).toBe('CN=party-id,O=Acme');
        expect(extendedKeyUsagesOf(issued.certificatePem)).toEqual([EXTENDED_KEY_USAGE.clientAuth]);
        expect(isClientAuthCertificate(issued.certificatePem)).toBe(true);
      }
      const tsa = ca.issue({ subject, publicKeyPem: generateKeyPair('Ed25519').publicKeyPem, profile: 'tsa', validityDays: 30, now });
      const signing = ca.issue({ subject, publicKeyPem: generateKeyPair('Ed25519').publicKeyPem, profile: 'signing', validityDays: 30, now });
      expect(isClientAuthCertificate(tsa.certificatePem)).toBe(false);
      expect(isClientAuthCertificate(signing.certificatePem)).toBe(false);
      expect(extendedKeyUsagesOf(signing.certificatePem)).toEqual([]);
      expect(() => extendedKeyUsagesOf('not a certificate')).toThrow(CertificateRequestError);
    });

    it('issues a TLS server certificate with the names as subjectAltName that openssl verifies for sslserver', () => {
      const names = ['localhost', '127.0.0.1', 'gateway.example.org', '::1'];
      const issued = ca.issueServerCertificate({ names, publicKeyPem: generateKeyPair('RSA').publicKeyPem, validityDays: 90, now, organisation: 'Sigillum' });
      const leaf = write('server.pem', issued.certificatePem);
      expect(openssl(['verify', ...attime, '-purpose', 'sslserver', '-CAfile', caFile, leaf])).toEqual({ status: 0, out: `${leaf}: OK\n` });
      expect(openssl(['verify', ...attime, '-purpose', 'sslclient', '-CAfile', caFile, leaf]).status).not.toBe(0);
      for (const [flag, value] of [
        ['-verify_hostname', 'localhost'],
        ['-verify_hostname', 'gateway.example.org'],
        ['-verify_ip', '127.0.0.1'],
        ['-verify_ip', '::1'],
      ]) {
        expect(openssl(['verify', ...attime, '-purpose', 'sslserver', flag, value, '-CAfile', caFile, leaf]).status).toBe(0);
      }
      expect(openssl(['verify', ...attime, '-verify_hostname', 'evil.example.org', '-CAfile', caFile, leaf]).status).not.toBe(0);
      const { out } = openssl(['x509', '-in', leaf, '-noout', '-text']);
      expect(out).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
      expect(out).toMatch(/X509v3 Extended Key Usage: \s*TLS Web Server Authentication/);
      const x509 = new X509Certificate(issued.certificatePem);
      expect(x509.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, DNS:gateway.example.org, IP Address:0:0:0:0:0:0:0:1');
      expect(issued.subject).toBe('CN=localhost,O=Sigillum');
      expect(extendedKeyUsagesOf(issued.certificatePem)).toEqual([EXTENDED_KEY_USAGE.serverAuth]);
      // Ed25519 is allowed (digitalSignature only); X25519 cannot sign a handshake.
      const ed = ca.issueServerCertificate({ names: ['localhost'], publicKeyPem: generateKeyPair('Ed25519').publicKeyPem, validityDays: 1, now });
      expect(openssl(['x509', '-in', write('server-ed.pem', ed.certificatePem), '-noout', '-text']).out).toMatch(/Key Usage: critical\s+Digital Signature\n/);
      const refused = (request: Partial<Parameters<CertificateAuthority['issueServerCertificate']>[0]>): string => {
        try {
          ca.issueServerCertificate({ names: ['localhost'], publicKeyPem: generateKeyPair('RSA').publicKeyPem, validityDays: 1, now, ...request });
        } catch (error) {
          return (error as CertificateRequestError).rule;
        }
        return 'issued';
      };
      expect(refused({ publicKeyPem: generateKeyPair('X25519').publicKeyPem })).toBe('profile.key');
      expect(refused({ names: [] })).toBe('names.count');
      expect(refused({ names: [' ', ''] })).toBe('names.count');
      expect(refused({ names: ['bad name'] })).toBe('names.invalid');
      expect(refused({ names: ['a..b'] })).toBe('names.invalid');
    });

    it('tells server names: DNS names (wildcard on the left), IPv4 and IPv6 addresses', () => {
      for (const name of [
        'localhost',
        'gateway.example.org',
        '*.example.org',
        'a-b.c',
        '127.0.0.1',
        '10.0.0.255',
        '::1',
        '2001:db8::8a2e:370:7334',
        '1:2:3:4:5:6:7:8',
      ]) {
        expect({ name, ok: isServerName(name) }).toEqual({ name, ok: true });
      }
      for (const name of ['', 'bad name', '-a.b', 'a..b', 'a.*.b', 'x'.repeat(64), '1:2:3:4:5:6:7:8:9', '1::2::3', 'http://x', 'a_b']) {
        expect({ name, ok: isServerName(name) }).toEqual({ name, ok: false });
      }
    });

    it('returns the facts of the certificate, matching what openssl and node read', () => {
      const key = generateKeyPair('Ed25519');
      const issued = ca.issue({
        subject: { commonName: 'Dupont, Jeanne', organisation: 'Études & Fils', organisationalUnit: 'Compta' },
        publicKeyPem: key.publicKeyPem,
        profile: 'signing',
        validityDays: 2,
        now,
        serialNumber: '00ABCDEF',
      });
      expect(issued.serialNumber).toBe('abcdef');
      expect(issued.subject).toBe('CN=Dupont\\, Jeanne,OU=Compta,O=Études & Fils');
      expect(issued.issuer).toBe('CN=Sigillum Test CA,O=Sigillum');
      expect(issued.notBefore).toBe('2026-11-25T08:00:00.000Z');
      expect(issued.notAfter).toBe('2026-11-27T08:00:00.000Z');
      const x509 = new X509Certificate(issued.certificatePem);
      expect(issued.fingerprint).toBe(x509.fingerprint256.replace(/:/g, '').toLowerCase());
      expect(x509.serialNumber.toLowerCase()).toBe('abcdef');
      expect(describeCertificate(issued.certificatePem)).toEqual(issued);
      const serial = openssl(['x509', '-in', write('facts.pem', issued.certificatePem), '-noout', '-serial']).out;
      expect(serial.trim()).toBe('serial=ABCDEF');
    });

    it('gives a high serial a sign octet, and random serials differ', () => {
      const key = generateKeyPair('Ed25519').publicKeyPem;
      const high = ca.issue({ subject, publicKeyPem: key, profile: 'signing', validityDays: 1, now, serialNumber: 'ff01' });
      expect(high.serialNumber).toBe('ff01');
      expect(new X509Certificate(high.certificatePem).serialNumber.toLowerCase()).toMatch(/^(00)?ff01$/);
      const a = ca.issue({ subject, publicKeyPem: key, profile: 'signing', validityDays: 1, now });
      const b = ca.issue({ subject, publicKeyPem: key, profile: 'signing', validityDays: 1, now });
      expect(a.serialNumber).toMatch(/^[0-7][0-9a-f]{31}$/);
      expect(a.serialNumber).not.toBe(b.serialNumber);
    });

    it('fails openssl verify for a certificate changed by one byte', () => {
      const issued = ca.issue({ subject, publicKeyPem: generateKeyPair('Ed25519').publicKeyPem, profile: 'signing', validityDays: 365, now });
      const der = new X509Certificate(issued.certificatePem).raw;
      // Flip one byte inside the subject's common name (well inside the TBS, so the DER still parses).
      const at = der.indexOf(Buffer.from('Ada Lovelace'));
      expect(at).toBeGreaterThan(0);
      der[at] ^= 0x01;
      const tampered = `-----BEGIN CERTIFICATE-----\n${der
        .toString('base64')
        .match(/.{1,64}/g)!
        .join('\n')}\n-----END CERTIFICATE-----\n`;
      const file = write('tampered.pem', tampered);
      const result = openssl(['verify', ...attime, '-CAfile', caFile, file]);
      expect(result.status).not.toBe(0);
      expect(result.out).toMatch(/signature failure/i);
      expect(ca.verify(tampered, now).valid).toBe(false);
      expect(ca.verify(tampered, now).reasons).toContain('signature.invalid');
    });

    it('fails openssl verify for a certificate of another CA with the same name', () => {
      const otherStore = FileKeyStore.open({ directory: path.join(dir, 'rogue-keys'), passphrase: PASSPHRASE });
      const rogue = CertificateAuthority.loadOrCreate(otherStore, caOptions).ca;
      expect(rogue.subject).toBe(ca.subject);
      const issued = rogue.issue({ subject, publicKeyPem: generateKeyPair('Ed25519').publicKeyPem, profile: 'signing', validityDays: 365, now });
      const file = write('rogue-leaf.pem', issued.certificatePem);
      expect(openssl(['verify', ...attime, '-CAfile', caFile, file]).status).not.toBe(0);
      expect(ca.verify(issued.certificatePem, now).valid).toBe(false);
    });

    it('verify() checks issuer, signature and validity', () => {
      const issued = ca.issue({ subject, publicKeyPem: generateKeyPair('Ed25519').publicKeyPem, profile: 'signing', validityDays: 10, now });
      expect(ca.verify(issued.certificatePem, now)).toEqual({ valid: true, reasons: [] });
      expect(ca.verify(issued.certificatePem, new Date('2026-12-05T08:00:00.000Z')).valid).toBe(true);
      expect(ca.verify(issued.certificatePem, new Date('2026-12-05T08:00:01.000Z')).reasons).toEqual(['validity.expired']);
      expect(ca.verify(issued.certificatePem, new Date('2026-11-25T07:59:59.000Z')).reasons).toEqual(['validity.not-yet-valid']);
      expect(ca.verify('garbage', now)).toEqual({ valid: false, reasons: ['certificate.unreadable'] });
      expect(ca.verify(ca.caCertificatePem, now).valid).toBe(true);
    });

    it('caps a leaf at the CA certificate end', () => {
      const late = new Date(Date.parse(ca.notAfter) - 10 * 86_400_000);
      const issued = ca.issue({ subject, publicKeyPem: generateKeyPair('Ed25519').publicKeyPem, profile: 'signing', validityDays: 365, now: late });
      expect(issued.notAfter).toBe(ca.notAfter);
    });

    it('refuses bad requests with the rule that failed', () => {
      const ed = generateKeyPair('Ed25519').publicKeyPem;
      const x = generateKeyPair('X25519').publicKeyPem;
      const cases: [Partial<Parameters<CertificateAuthority['issue']>[0]>, string][] = [
        [{ publicKeyPem: x, profile: 'signing' }, 'profile.key'],
        [{ publicKeyPem: x, profile: 'tsa' }, 'profile.key'],
        [{ publicKeyPem: ed, profile: 'encryption' }, 'profile.key'],
        [{ publicKeyPem: x, profile: 'client' }, 'profile.key'],
        [{ publicKeyPem: 'not a key' }, 'publicKey.unsupported'],
        [{ subject: { commonName: '' } }, 'subject.commonName'],
        [{ subject: { commonName: 'x'.repeat(65) } }, 'subject.commonName'],
        [{ subject: { commonName: 'ok', organisation: 'a\nb' } }, 'subject.organisation'],
        [{ validityDays: 0 }, 'validityDays.range'],
        [{ validityDays: 3651 }, 'validityDays.range'],
        [{ serialNumber: 'xyz' }, 'serialNumber.hex'],
        [{ serialNumber: '00' }, 'serialNumber.positive'],
        [{ serialNumber: 'ab'.repeat(21) }, 'serialNumber.length'],
      ];
      for (const [override, rule] of cases) {
        let error: unknown;
        try {
          ca.issue({ subject, publicKeyPem: ed, profile: 'signing', validityDays: 1, now, ...override });
        } catch (caught) {
          error = caught;
        }
        expect(error).toBeInstanceOf(CertificateRequestError);
        expect({ override, rule: (error as CertificateRequestError).rule }).toEqual({ override, rule });
      }
    });
  });

  it('formats names the RFC 4514 way', () => {
    expect(distinguishedNameToString({ commonName: ' #a+b;c<d>e"f\\ ', organisation: 'O' })).toBe('CN=\\ #a\\+b\\;c\\<d\\>e\\"f\\\\\\ ,O=O');
  });

  it('the openssl binary is there', () => {
    expect(execFileSync(OPENSSL, ['version'], { encoding: 'utf8' })).toMatch(/^OpenSSL 3\./);
  });
});
