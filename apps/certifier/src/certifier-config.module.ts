import { Module } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { SIGILLUM_CONFIG } from '@sigillum/runtime';
import { CERTIFIER_CONFIG, loadCertifierConfig } from './certifier.config';

/** The certifier's settings (CERTIFIER_CONFIG), read once from the process environment. */
@Module({
  providers: [{ provide: CERTIFIER_CONFIG, useFactory: (config: SigillumConfig) => loadCertifierConfig(config.env), inject: [SIGILLUM_CONFIG] }],
  exports: [CERTIFIER_CONFIG],
})
export class CertifierConfigModule {}
