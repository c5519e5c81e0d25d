import { X509Certificate } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { CLOCK, type Clock } from '@sigillum/contracts';
import type { CertificateAuthority, FileKeyStore } from '@sigillum/crypto';
import { KEY_STORE } from '@sigillum/runtime';
import type { TlsMaterialSource } from '@sigillum/runtime/https-listener';
import { CERTIFICATES_OPTIONS, type CertificatesOptions } from './certificates.options';
import { CERTIFICATION_AUTHORITY } from './certification-authority.provider';

/** Keystore entry of the HTTPS listener's key (encrypted PKCS#8) and certificate (`tls-server.pem`). */
export const TLS_SERVER_KEY_NAME = 'tls-server';
/** A server certificate with less than this left is issued again at start-up. */
export const TLS_SERVER_RENEW_BEFORE_DAYS = 30;

const DAY = 86_400_000;

/** Whether `certificatePem` names exactly `names` in its subjectAltName (DNS names by text, addresses by value). */
export function namesExactly(certificate: X509Certificate, names: readonly string[]): boolean {
  const entries = (certificate.subjectAltName ?? '').split(', ').filter(Boolean);
  if (entries.length !== new Set(names.map((name) => name.toLowerCase())).size) return false;
  const dns = new Set(entries.filter((entry) => entry.startsWith('DNS:')).map((entry) => entry.slice(4).toLowerCase()));
  return names.every((name) => dns.has(name.toLowerCase()) || (/^[0-9.:a-f]+$/i.test(name) && certificate.checkIP(name) !== undefined));
}

/**
 * What the HTTPS listener (libs/runtime/src/https-listener.ts) takes from the certifier when it runs in the process:
 * the CA certificate as trust anchor of client certificates, and a TLS server certificate issued by the CA for the
 * configured names. The server key is an RSA-2048 key in the keystore (encrypted at rest under KEYSTORE_PASSPHRASE); the
 * certificate is kept beside it and issued again when it is missing, expires within 30 days, names other hosts, or was
 * issued by another CA or for another key.
 */
@Injectable()
export class TlsServerCredentials implements TlsMaterialSource {
  private readonly log = new Logger('TlsServerCredentials');

  constructor(
    @Inject(KEY_STORE) private readonly keystore: FileKeyStore,
    @Inject(CERTIFICATION_AUTHORITY) private readonly ca: CertificateAuthority,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CERTIFICATES_OPTIONS) private readonly options: CertificatesOptions,
  ) {}

  clientCaCertificatesPem(): string {
    return this.ca.caCertificatePem;
  }

  async serverCredentials(names: readonly string[]): Promise<{ certificatePem: string; privateKeyPem: string }> {
    const pair = this.keystore.getOrCreateKeyPair(TLS_SERVER_KEY_NAME, 'RSA');
    const now = this.clock.now();
    const issue = () =>
      this.ca.issueServerCertificate({
        names,
        publicKeyPem: pair.publicKeyPem,
        validityDays: this.options.defaultValidityDays,
        now,
        organisation: this.options.caOrganisation,
      }).certificatePem;
    const { content, created } = this.keystore.getOrCreateArtifact(TLS_SERVER_KEY_NAME, issue);
    let certificatePem = content;
    if (!created && !this.fits(content, pair.publicKeyPem, names, now)) {
      certificatePem = issue();
      this.keystore.replaceArtifact(TLS_SERVER_KEY_NAME, certificatePem);
      this.log.log(`Issued a new HTTPS server certificate for ${names.join(', ')}`);
    } else if (created) {
      this.log.log(`Issued the HTTPS server certificate for ${names.join(', ')}`);
    }
    // The key leaves the keystore only here, in memory, for the TLS context.
    const privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    return { certificatePem, privateKeyPem };
  }

  private fits(certificatePem: string, publicKeyPem: string, names: readonly string[], now: Date): boolean {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(certificatePem);
    } catch {
      return false;
    }
    if (!this.ca.verify(certificatePem, now).valid) return false;
    if (Date.parse(certificate.validTo) - now.getTime() < TLS_SERVER_RENEW_BEFORE_DAYS * DAY) return false;
    if (certificate.publicKey.export({ type: 'spki', format: 'pem' }).toString() !== publicKeyPem) return false;
    return namesExactly(certificate, names);
  }
}
