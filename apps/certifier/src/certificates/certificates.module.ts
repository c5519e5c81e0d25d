import { type DynamicModule, Module } from '@nestjs/common';
import { CertificatesController } from './certificates.controller';
import { CERTIFICATES_OPTIONS, type CertificatesOptions, DEFAULT_CERTIFICATES_OPTIONS } from './certificates.options';
import { CertificatesService } from './certificates.service';
import { CERTIFICATION_AUTHORITY, certificationAuthorityProvider } from './certification-authority.provider';

/**
 * The certifier's CA: loaded or created at start-up from the keystore (KEY_STORE), recorded in `ca-<caId>`;
 * `POST /certificates`, `GET /certificates/:id`, `GET /ca/certificate`.
 * Needs from the process: KEY_STORE, EVENT_STORE, CLOCK, ID_GENERATOR.
 */
@Module({
  controllers: [CertificatesController],
  providers: [{ provide: CERTIFICATES_OPTIONS, useValue: DEFAULT_CERTIFICATES_OPTIONS }, certificationAuthorityProvider, CertificatesService],
  exports: [CERTIFICATION_AUTHORITY, CertificatesService],
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
