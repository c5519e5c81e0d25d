import * as path from 'node:path';
import { Module } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { SIGILLUM_CONFIG } from '@sigillum/runtime';
import { HealthChecksModule } from '@sigillum/runtime/health-checks';
import { EvidenceLog } from './evidence-log';
import { EVIDENCE_LOG_CONFIG, loadEvidenceLogConfig } from './evidence-log.config';
import { CertificatesModule } from '../certificates/certificates.module';
import { EvidenceLogController } from './evidence-log.controller';
import { evidenceLogSignerProvider } from './evidence-log.signer';
import { evidenceLogTsaProvider } from './evidence-log.tsa';
import { EvidenceLogIntegrity } from './log-integrity.service';

/**
 * The evidence transparency log (`evidencelog-<originId>`): every evidence record a leaf, checkpoints signed with
 * key `evidence-log` of the certifier's key store and time-stamped by its own TSA (key `evidence-log-tsa`, certified by
 * its CA); serves checkpoint, tiles, proofs and the verifier key; checks the store against every signed checkpoint
 * (GET /evidence-log/integrity, and `evidence-log` in GET /health).
 */
@Module({
  imports: [CertificatesModule, HealthChecksModule],
  controllers: [EvidenceLogController],
  providers: [
    {
      provide: EVIDENCE_LOG_CONFIG,
      useFactory: (config: SigillumConfig) => ({ ...loadEvidenceLogConfig(config.env), entriesDir: path.join(config.dataDir, 'evidence-log') }),
      inject: [SIGILLUM_CONFIG],
    },
    evidenceLogSignerProvider,
    evidenceLogTsaProvider,
    EvidenceLog,
    EvidenceLogIntegrity,
  ],
  exports: [EvidenceLog, EvidenceLogIntegrity],
})
export class EvidenceLogModule {}
