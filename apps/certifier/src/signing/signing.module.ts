import { Module } from '@nestjs/common';
import { CertificatesModule } from '../certificates/certificates.module';
import { CERTIFIER_SIGNER, certifierSignerProvider } from './certifier-signer';

/** The certifier's signing key (`certifier` in KEY_STORE, certified by its CA): CERTIFIER_SIGNER, for chains and evidence. */
@Module({
  imports: [CertificatesModule],
  providers: [certifierSignerProvider],
  exports: [CERTIFIER_SIGNER],
})
export class SigningModule {}
