import { Module } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { SIGILLUM_CONFIG } from '@sigillum/runtime';
import { CertificatesModule } from '../certificates/certificates.module';
import { SigningModule } from '../signing/signing.module';
import { TrustCheckModule } from '../trust-check/trust-check.module';
import { CHAIN_CONFIG, loadChainConfig } from './chain.config';
import { ChainConsumer } from './chain.consumer';
import { ChainController } from './chain.controller';
import { ChainDeadlines } from './chain.deadlines';
import { ChainService } from './chain.service';

/** Processing chains of correspondences (`chain-<correspondenceId>`): operators' signed steps and their deadlines. */
@Module({
  imports: [TrustCheckModule, SigningModule, CertificatesModule],
  controllers: [ChainController, ChainConsumer],
  providers: [
    { provide: CHAIN_CONFIG, useFactory: (config: SigillumConfig) => loadChainConfig(config.env), inject: [SIGILLUM_CONFIG] },
    ChainService,
    ChainDeadlines,
  ],
})
export class ChainModule {}
