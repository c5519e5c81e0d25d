import { Module } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { SIGILLUM_CONFIG } from '@sigillum/runtime';
import { CertificatesModule } from '../certificates/certificates.module';
import { EvidenceLogModule } from '../evidence-log/evidence-log.module';
import { SigningModule } from '../signing/signing.module';
import { EVIDENCE_CONFIG, loadEvidenceConfig } from './evidence.config';
import { EvidenceConsumer } from './evidence.consumer';
import { EvidenceController } from './evidence.controller';
import { EvidenceService } from './evidence.service';

/**
 * Evidence of correspondences (`evidence-<correspondenceId>`): consumes the correspondence and chain topics,
 * serves `GET /evidence/:correspondenceId` and its verification. Signs with the SigningModule's CERTIFIER_SIGNER.
 */
@Module({
  imports: [SigningModule, EvidenceLogModule, CertificatesModule],
  controllers: [EvidenceConsumer, EvidenceController],
  providers: [{ provide: EVIDENCE_CONFIG, useFactory: (config: SigillumConfig) => loadEvidenceConfig(config.env), inject: [SIGILLUM_CONFIG] }, EvidenceService],
  exports: [EvidenceService],
})
export class EvidenceModule {}
