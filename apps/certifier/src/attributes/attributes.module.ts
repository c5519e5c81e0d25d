import { Module } from '@nestjs/common';
import { PolicyModule } from '../policy/policy.module';
import { TrustStateModule } from '../state/trust-state.module';
import { AttributesController } from './attributes.controller';

/** Certified attributes of a party (`attributes-<partyId>`), levelled under the policy in force. */
@Module({
  imports: [TrustStateModule, PolicyModule],
  controllers: [AttributesController],
})
export class AttributesModule {}
