import { Module } from '@nestjs/common';
import { TrustStateReader } from './trust-state.reader';

/** Consistent, cached reads of a party's directory facts and certified attributes, shared by the trust features. */
@Module({
  providers: [TrustStateReader],
  exports: [TrustStateReader],
})
export class TrustStateModule {}
