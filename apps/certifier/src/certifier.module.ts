import { Module } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { SIGILLUM_CONFIG } from '@sigillum/runtime';
import { AttributesController } from './attributes/attributes.controller';
import { CertificatesModule } from './certificates/certificates.module';
import { CHAIN_CONFIG, loadChainConfig } from './chain/chain.config';
import { ChainConsumer } from './chain/chain.consumer';
import { ChainController } from './chain/chain.controller';
import { ChainDeadlines } from './chain/chain.deadlines';
import { ChainService } from './chain/chain.service';
import { CERTIFIER_CONFIG, loadCertifierConfig } from './certifier.config';
import { EvidenceModule } from './evidence/evidence.module';
import { EvidenceLogModule } from './evidence-log/evidence-log.module';
import { LevelPolicyController } from './policy/level-policy.controller';
import { LevelPolicyService } from './policy/level-policy.service';
import { SessionSecretConsumer } from './session-secret/session-secret.consumer';
import { SessionSecretHandler } from './session-secret/session-secret.handler';
import { certifierSignerProvider, CERTIFIER_SIGNER } from './signing/certifier-signer';
import { TrustStateReader } from './state/trust-state.reader';
import { OperatorIndex } from './trust-check/operator-index';
import { OperatorIndexConsumer } from './trust-check/operator-index.consumer';
import { OperatorIndexController } from './trust-check/operator-index.controller';
import { TrustCheckService } from './trust-check/trust-check.service';

/**
 * The certifier role: certified attributes and levels under a versioned policy, trust checks, the one-time
 * session secret, and its CA (CertificatesModule). Needs from the process: EVENT_STORE, LOCAL_DB, CLOCK, ID_GENERATOR (RuntimeModule),
 * SESSION_VERIFIER_KEY and OUT_OF_BAND_SENDER.
 */
@Module({
  imports: [CertificatesModule, EvidenceModule, EvidenceLogModule],
  controllers: [AttributesController, LevelPolicyController, OperatorIndexController, OperatorIndexConsumer, SessionSecretConsumer, ChainController, ChainConsumer],
  providers: [
    { provide: CERTIFIER_CONFIG, useFactory: (config: SigillumConfig) => loadCertifierConfig(config.env), inject: [SIGILLUM_CONFIG] },
    TrustStateReader,
    LevelPolicyService,
    OperatorIndex,
    TrustCheckService,
    SessionSecretHandler,
    certifierSignerProvider,
    { provide: CHAIN_CONFIG, useFactory: (config: SigillumConfig) => loadChainConfig(config.env), inject: [SIGILLUM_CONFIG] },
    ChainService,
    ChainDeadlines,
  ],
  exports: [CERTIFIER_SIGNER, CERTIFIER_CONFIG, TrustStateReader, LevelPolicyService, TrustCheckService],
})
export class CertifierModule {}
