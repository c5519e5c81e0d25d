import { Module } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { SIGILLUM_CONFIG } from '@sigillum/runtime';
import { EvidenceLog } from './evidence-log';
import { EVIDENCE_LOG_CONFIG, loadEvidenceLogConfig } from './evidence-log.config';
import { EvidenceLogController } from './evidence-log.controller';
import { evidenceLogSignerProvider } from './evidence-log.signer';

/**
 * The evidence transparency log (`evidencelog-<originId>`): every evidence record a leaf, checkpoints signed with
 * key `evidence-log` of the certifier's key store; serves checkpoint, tiles, proofs and the verifier key.
 */
@Module({
  controllers: [EvidenceLogController],
  providers: [
    { provide: EVIDENCE_LOG_CONFIG, useFactory: (config: SigillumConfig) => loadEvidenceLogConfig(config.env), inject: [SIGILLUM_CONFIG] },
    evidenceLogSignerProvider,
    EvidenceLog,
  ],
  exports: [EvidenceLog],
})
export class EvidenceLogModule {}
