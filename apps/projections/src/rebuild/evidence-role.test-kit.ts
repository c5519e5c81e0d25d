import { Module } from '@nestjs/common';
import {
  CA_CATEGORY,
  CERTIFICATE_CATEGORY,
  CHAIN_CATEGORY,
  CORRESPONDENCE_CATEGORY,
  EVIDENCE_CATEGORY,
  EVIDENCE_LOG_CATEGORY,
  JOB_CATEGORY,
  TRUST_CHECK_CATEGORY,
} from '@sigillum/contracts';
import type { RoleSpec } from '@sigillum/runtime';
// Only tests reach across apps like this: the certifier's evidence part (and its evidence log), without the rest of
// the certifier (whose chain would react to the synthetic facts the tests write), so that the evidence the audit view
// reads is recorded by the real consumer.
import { CertificatesModule } from '../../../certifier/src/certificates/certificates.module';
import { EVIDENCE_CONFIG, type EvidenceConfig } from '../../../certifier/src/evidence/evidence.config';
import { EvidenceConsumer } from '../../../certifier/src/evidence/evidence.consumer';
import { EvidenceController } from '../../../certifier/src/evidence/evidence.controller';
import { EvidenceService } from '../../../certifier/src/evidence/evidence.service';
import { EvidenceLogModule } from '../../../certifier/src/evidence-log/evidence-log.module';
import { certifierSignerProvider } from '../../../certifier/src/signing/certifier-signer';

@Module({
  imports: [CertificatesModule, EvidenceLogModule],
  controllers: [EvidenceConsumer, EvidenceController],
  providers: [
    certifierSignerProvider,
    { provide: EVIDENCE_CONFIG, useValue: { policyId: 'urn:sigillum:policy:evidence:e2e', recordSignatures: 'none' } satisfies EvidenceConfig },
    EvidenceService,
  ],
})
class EvidenceOnlyModule {}

/** The certifier's evidence part as a role: the facts written by the test are relayed as if their writers ran here. */
export const evidenceRole: RoleSpec = {
  role: 'certifier',
  module: EvidenceOnlyModule,
  ownedCategories: [
    CORRESPONDENCE_CATEGORY,
    CHAIN_CATEGORY,
    TRUST_CHECK_CATEGORY,
    JOB_CATEGORY,
    EVIDENCE_CATEGORY,
    EVIDENCE_LOG_CATEGORY,
    CA_CATEGORY,
    CERTIFICATE_CATEGORY,
  ],
  consumes: true,
};
