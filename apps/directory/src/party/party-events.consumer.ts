import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RoleEventPattern } from '@sigillum/bus';
import { type DeliveredMessage, PARTY_CATEGORY, Topics } from '@sigillum/contracts';
import { AccountNotices } from './account-notices';

/**
 * The directory consuming its own `sigillum.party.events` (at least once, in order per party, group
 * `sigillum.directory`): each change to an account plans the notices to the party's verified channels
 * (durable timers, idempotent per event and channel), then the message is done.
 */
@Controller()
export class PartyEventsConsumer {
  constructor(private readonly notices: AccountNotices) {}

  @RoleEventPattern('directory', Topics.eventsOf(PARTY_CATEGORY))
  async onPartyEvent(@Payload() message: DeliveredMessage): Promise<void> {
    await this.notices.plan(message);
  }
}
