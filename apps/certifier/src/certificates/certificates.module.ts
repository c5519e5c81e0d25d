import { type DynamicModule, Module } from '@nestjs/common';
import { CertificatesController } from './certificates.controller';
import { CERTIFICATES_OPTIONS, type CertificatesOptions, DEFAULT_CERTIFICATES_OPTIONS } from './certificates.options';
import { CertificatesService } from './certificates.service';
import { CERTIFICATION_AUTHORITY, certificationAuthorityProvider } from './certification-authority.provider';
import { RevokedCertificates } from './revoked-certificates';
import { RevokedCertificatesConsumer } from './revoked-certificates.consumer';

/**
 * The certifier's CA: loaded or created at start-up from the keystore (KEY_STORE), recorded in `ca-<caId>`;
 * `POST /certificates`, `GET /certificates/:id`, `POST /certificates/:id/revocation`, `GET /ca/certificate`, and the
 * index of revoked certificates (RevokedCertificates, fed by the consumer of `sigillum.certificate.events`).
 * Needs from the process: KEY_STORE, EVENT_STORE, LOCAL_DB, CLOCK, ID_GENERATOR.
 */
@Module({
  controllers: [CertificatesController, RevokedCertificatesConsumer],
  providers: [{ provide: CERTIFICATES_OPTIONS, useValue: DEFAULT_CERTIFICATES_OPTIONS }, certificationAuthorityProvider, RevokedCertificates, CertificatesService],
  exports: [CERTIFICATION_AUTHORITY, CertificatesService, RevokedCertificates],
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
