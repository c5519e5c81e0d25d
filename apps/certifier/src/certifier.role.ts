import {
  ATTRIBUTES_CATEGORY,
  CA_CATEGORY,
  CERTIFICATE_CATEGORY,
  CHAIN_CATEGORY,
  EVIDENCE_CATEGORY,
  EVIDENCE_LOG_CATEGORY,
  LEVEL_POLICY_CATEGORY,
  SESSION_SECRET_CATEGORY,
  TRUST_CHECK_CATEGORY,
} from '@sigillum/contracts';
import type { RoleSpec } from '@sigillum/runtime';
import { CertifierModule } from './certifier.module';

export const certifierRole: RoleSpec = {
  role: 'certifier',
  module: CertifierModule,
  ownedCategories: [
    ATTRIBUTES_CATEGORY,
    LEVEL_POLICY_CATEGORY,
    TRUST_CHECK_CATEGORY,
    SESSION_SECRET_CATEGORY,
    CERTIFICATE_CATEGORY,
    CA_CATEGORY,
    CHAIN_CATEGORY,
    EVIDENCE_CATEGORY,
    EVIDENCE_LOG_CATEGORY,
  ],
  consumes: true,
};
