import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CertificateAuthority, FileKeyStore } from '@sigillum/crypto';
import { MovableClock } from '@sigillum/testing';
import { DEFAULT_CERTIFICATES_OPTIONS } from './certificates.options';
import { namesExactly, TLS_SERVER_KEY_NAME, TlsServerCredentials } from './tls-server-credentials';

const DAY_MS = 86_400_000;

describe('TlsServerCredentials (the HTTPS listener certificate issued by the process CA)', () => {
  let dir: string;
  let keystore: FileKeyStore;
  let ca: CertificateAuthority;
  const clock = new MovableClock();
  let credentials: TlsServerCredentials;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-tls-server-'));
    keystore = FileKeyStore.open({ directory: path.join(dir, 'keys'), passphrase: 'integration passphrase' });
    ca = CertificateAuthority.loadOrCreate(keystore, {
      commonName: 'Sigillum Certifier CA',
      organisation: 'Sigillum',
      validityDays: 3650,
      now: clock.now(),
    }).ca;
    credentials = new TlsServerCredentials(keystore, ca, clock, DEFAULT_CERTIFICATES_OPTIONS);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lends the CA certificate as the trust anchor of client certificates', () => {
    expect(credentials.clientCaCertificatesPem()).toBe(ca.caCertificatePem);
  });

  it('issues a server certificate for the names, its key kept encrypted in the keystore, the certificate beside it', async () => {
    const { certificatePem, privateKeyPem } = await credentials.serverCredentials(['localhost', '127.0.0.1']);
    const x509 = new X509Certificate(certificatePem);
    expect(x509.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(x509.checkIssued(new X509Certificate(ca.caCertificatePem))).toBe(true);
    expect(x509.checkPrivateKey(createPrivateKey(privateKeyPem))).toBe(true);
    expect(ca.verify(certificatePem, clock.now()).valid).toBe(true);
    expect(fs.readFileSync(keystore.keyFile(TLS_SERVER_KEY_NAME), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    expect(fs.readFileSync(keystore.artifactFile(TLS_SERVER_KEY_NAME), 'utf8')).toBe(certificatePem);
    expect(namesExactly(x509, ['localhost', '127.0.0.1'])).toBe(true);
    expect(namesExactly(x509, ['LOCALHOST', '127.0.0.1'])).toBe(true);
    expect(namesExactly(x509, ['localhost'])).toBe(false);
    expect(namesExactly(x509, ['localhost', '127.0.0.2'])).toBe(false);
  });

  it('keeps the certificate across restarts while it fits, and issues it again when the names change or its end nears', async () => {
    const first = (await credentials.serverCredentials(['localhost', '127.0.0.1'])).certificatePem;
    const restarted = new TlsServerCredentials(
      FileKeyStore.open({ directory: path.join(dir, 'keys'), passphrase: 'integration passphrase' }),
      ca,
      clock,
      DEFAULT_CERTIFICATES_OPTIONS,
    );
    expect((await restarted.serverCredentials(['127.0.0.1', 'localhost'])).certificatePem).toBe(first);

    const renamed = (await restarted.serverCredentials(['gateway.example.org', '::1'])).certificatePem;
    expect(renamed).not.toBe(first);
    expect(new X509Certificate(renamed).subjectAltName).toBe('DNS:gateway.example.org, IP Address:0:0:0:0:0:0:0:1');
    expect((await restarted.serverCredentials(['gateway.example.org', '::1'])).certificatePem).toBe(renamed);

    clock.advance((DEFAULT_CERTIFICATES_OPTIONS.defaultValidityDays - 29) * DAY_MS); // 29 days left: within the renewal margin
    const renewed = (await restarted.serverCredentials(['gateway.example.org', '::1'])).certificatePem;
    expect(renewed).not.toBe(renamed);
    expect(Date.parse(new X509Certificate(renewed).validTo)).toBeGreaterThan(clock.now().getTime() + 300 * DAY_MS);
    // Same key throughout: only the certificate changes.
    expect(new X509Certificate(renewed).publicKey.export({ type: 'spki', format: 'pem' })).toBe(
      new X509Certificate(first).publicKey.export({ type: 'spki', format: 'pem' }),
    );
  });

  it('replaces a certificate that is unreadable or of another CA', async () => {
    keystore.replaceArtifact(TLS_SERVER_KEY_NAME, 'garbage');
    const fresh = (await credentials.serverCredentials(['localhost'])).certificatePem;
    expect(new X509Certificate(fresh).checkIssued(new X509Certificate(ca.caCertificatePem))).toBe(true);
  });
});
