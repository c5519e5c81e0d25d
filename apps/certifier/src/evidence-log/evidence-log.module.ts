import { Module } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { SIGILLUM_CONFIG } from '@sigillum/runtime';
import { EvidenceLog } from './evidence-log';
import { EVIDENCE_LOG_CONFIG, loadEvidenceLogConfig } from './evidence-log.config';
import { CertificatesModule } from '../certificates/certificates.module';
import { EvidenceLogController } from './evidence-log.controller';
import { evidenceLogSignerProvider } from './evidence-log.signer';
import { evidenceLogTsaProvider } from './evidence-log.tsa';

/**
 * The evidence transparency log (`evidencelog-<originId>`): every evidence record a leaf, checkpoints signed with
 * key `evidence-log` of the certifier's key store and time-stamped by its own TSA (key `evidence-log-tsa`, certified by
 * its CA); serves checkpoint, tiles, proofs and the verifier key.
 */
@Module({
  imports: [CertificatesModule],
  controllers: [EvidenceLogController],
  providers: [
    { provide: EVIDENCE_LOG_CONFIG, useFactory: (config: SigillumConfig) => loadEvidenceLogConfig(config.env), inject: [SIGILLUM_CONFIG] },
    evidenceLogSignerProvider,
    evidenceLogTsaProvider,
    EvidenceLog,
  ],
  exports: [EvidenceLog],
})
export class EvidenceLogModule {}
