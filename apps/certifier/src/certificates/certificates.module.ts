import { type DynamicModule, Module } from '@nestjs/common';
import { TLS_MATERIAL_SOURCE } from '@sigillum/runtime/https-listener';
import { CertificatesController } from './certificates.controller';
import { CERTIFICATES_OPTIONS, type CertificatesOptions, DEFAULT_CERTIFICATES_OPTIONS } from './certificates.options';
import { CertificatesService } from './certificates.service';
import { CERTIFICATION_AUTHORITY, certificationAuthorityProvider } from './certification-authority.provider';
import { ExpiringCertificatesController } from './expiring-certificates.controller';
import { KnownCertificates } from './known-certificates';
import { CertificateMachineAuthenticator } from './machine-authenticator';
import { RevokedCertificates } from './revoked-certificates';
import { RevokedCertificatesConsumer } from './revoked-certificates.consumer';
import { TlsServerCredentials } from './tls-server-credentials';

/**
 * The certifier's CA: loaded or created at start-up from the keystore (KEY_STORE), recorded in `ca-<caId>`;
 * `POST /certificates`, `GET /certificates/:id`, `POST /certificates/:id/revocation`, `GET /ca/certificate`, and the
 * index of revoked certificates (RevokedCertificates) and of issued ones by fingerprint (KnownCertificates: what an
 * `x5t#S256` names), both fed by the consumer of `sigillum.certificate.events`; the machine
 * authenticator of mutual TLS (client certificates of profile `client`, registered with the AuthenticatorRegistry) and
 * the HTTPS listener's server certificate and trust anchor (TLS_MATERIAL_SOURCE).
 * Needs from the process: KEY_STORE, EVENT_STORE, LOCAL_DB, CLOCK, ID_GENERATOR.
 */
@Module({
  controllers: [CertificatesController, RevokedCertificatesConsumer, ExpiringCertificatesController],
  providers: [
    { provide: CERTIFICATES_OPTIONS, useValue: DEFAULT_CERTIFICATES_OPTIONS },
    certificationAuthorityProvider,
    RevokedCertificates,
    KnownCertificates,
    CertificatesService,
    CertificateMachineAuthenticator,
    TlsServerCredentials,
    { provide: TLS_MATERIAL_SOURCE, useExisting: TlsServerCredentials },
  ],
  exports: [CERTIFICATION_AUTHORITY, CertificatesService, RevokedCertificates, KnownCertificates, CertificateMachineAuthenticator, TLS_MATERIAL_SOURCE],
})
export class CertificatesModule {
  /** The same module with a CA named and timed otherwise. */
  static withOptions(options: Partial<CertificatesOptions>): DynamicModule {
    return {
      module: CertificatesModule,
      providers: [{ provide: CERTIFICATES_OPTIONS, useValue: { ...DEFAULT_CERTIFICATES_OPTIONS, ...options } }],
    };
  }
}
