import { Module } from '@nestjs/common';
import { PartyController } from './party.controller';
import { DEFAULT_DIRECTORY_OPTIONS, DIRECTORY_OPTIONS } from './party.options';
import { PartyService } from './party.service';

/**
 * Needs from the runtime (global): EVENT_STORE, CLOCK, ID_GENERATOR, CHANNEL_VERIFIER_KEY and OUT_OF_BAND_SENDER.
 * A channel kind the sender does not support makes enrolment answer 503 and write nothing.
 */
@Module({
  controllers: [PartyController],
  providers: [PartyService, { provide: DIRECTORY_OPTIONS, useValue: DEFAULT_DIRECTORY_OPTIONS }],
  exports: [PartyService],
})
export class PartyModule {}
