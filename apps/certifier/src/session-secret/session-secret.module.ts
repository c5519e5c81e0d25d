import { Module } from '@nestjs/common';
import { CertifierConfigModule } from '../certifier-config.module';
import { TrustStateModule } from '../state/trust-state.module';
import { TrustCheckModule } from '../trust-check/trust-check.module';
import { SessionSecretConsumer } from './session-secret.consumer';
import { SessionSecretHandler } from './session-secret.handler';

/**
 * The one-time session secret (`sessionsecret-<sessionId>`): after a passed trust check, a code sent out of band.
 * Needs from the process: SESSION_VERIFIER_KEY and OUT_OF_BAND_SENDER.
 */
@Module({
  imports: [CertifierConfigModule, TrustStateModule, TrustCheckModule],
  controllers: [SessionSecretConsumer],
  providers: [SessionSecretHandler],
})
export class SessionSecretModule {}
