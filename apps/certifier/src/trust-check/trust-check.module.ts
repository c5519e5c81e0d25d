import { Module } from '@nestjs/common';
import { CertifierConfigModule } from '../certifier-config.module';
import { PolicyModule } from '../policy/policy.module';
import { TrustStateModule } from '../state/trust-state.module';
import { OperatorIndex } from './operator-index';
import { OperatorIndexConsumer } from './operator-index.consumer';
import { OperatorIndexController } from './operator-index.controller';
import { TrustCheckService } from './trust-check.service';

/** Trust checks (`trustcheck-<checkId>`) of parties against the preset level, and the index of operators they consult. */
@Module({
  imports: [CertifierConfigModule, TrustStateModule, PolicyModule],
  controllers: [OperatorIndexController, OperatorIndexConsumer],
  providers: [OperatorIndex, TrustCheckService],
  exports: [TrustCheckService],
})
export class TrustCheckModule {}
