import { Module } from '@nestjs/common';
import { AccountNotices } from './account-notices';
import { PartyEventsConsumer } from './party-events.consumer';
import { PartyController } from './party.controller';
import { DEFAULT_DIRECTORY_OPTIONS, DIRECTORY_OPTIONS } from './party.options';
import { PartyService } from './party.service';

/**
 * Needs from the runtime (global): EVENT_STORE, CLOCK, ID_GENERATOR, CHANNEL_VERIFIER_KEY, OUT_OF_BAND_SENDER,
 * LOCAL_DB and DURABLE_TIMERS. A channel kind the sender does not support makes enrolment answer 503 and write
 * nothing. The consumer of the directory's own events tells a party's channels of changes to its account.
 */
@Module({
  controllers: [PartyController, PartyEventsConsumer],
  providers: [PartyService, AccountNotices, { provide: DIRECTORY_OPTIONS, useValue: DEFAULT_DIRECTORY_OPTIONS }],
  exports: [PartyService, AccountNotices],
})
export class PartyModule {}
