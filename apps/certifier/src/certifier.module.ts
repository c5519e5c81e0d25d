import { Module } from '@nestjs/common';
import { AttributesModule } from './attributes/attributes.module';
import { CertificatesModule } from './certificates/certificates.module';
import { ChainModule } from './chain/chain.module';
import { CertifierConfigModule } from './certifier-config.module';
import { EvidenceModule } from './evidence/evidence.module';
import { EvidenceLogModule } from './evidence-log/evidence-log.module';
import { PolicyModule } from './policy/policy.module';
import { SessionSecretModule } from './session-secret/session-secret.module';
import { SigningModule } from './signing/signing.module';
import { TrustStateModule } from './state/trust-state.module';
import { TrustCheckModule } from './trust-check/trust-check.module';

/**
 * The certifier role, one module per feature: certified attributes and levels under a versioned policy, trust
 * checks, the one-time session secret, processing chains, evidence and its transparency log, the signing key and
 * the CA (CertificatesModule). Needs from the process: EVENT_STORE, LOCAL_DB, CLOCK, ID_GENERATOR, KEY_STORE,
 * DURABLE_TIMERS (RuntimeModule), SESSION_VERIFIER_KEY and OUT_OF_BAND_SENDER.
 */
@Module({
  imports: [
    CertifierConfigModule,
    CertificatesModule,
    SigningModule,
    TrustStateModule,
    PolicyModule,
    AttributesModule,
    TrustCheckModule,
    SessionSecretModule,
    ChainModule,
    EvidenceLogModule,
    EvidenceModule,
  ],
  // What the role offers the process it runs in: CERTIFIER_SIGNER, CERTIFIER_CONFIG, TrustStateReader, LevelPolicyService, TrustCheckService.
  exports: [SigningModule, CertifierConfigModule, TrustStateModule, PolicyModule, TrustCheckModule],
})
export class CertifierModule {}
