import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RoleViewPattern } from '@sigillum/bus';
import { type DeliveredMessage, PARTY_CATEGORY, Topics } from '@sigillum/contracts';
import { OperatorIndex } from './operator-index';

@Controller()
export class OperatorIndexConsumer {
  constructor(private readonly index: OperatorIndex) {}

  @RoleViewPattern('certifier', Topics.eventsOf(PARTY_CATEGORY))
  async onPartyEvent(@Payload() message: DeliveredMessage): Promise<void> {
    this.index.apply(message);
  }
}
