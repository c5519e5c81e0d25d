import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RoleEventPattern } from '@sigillum/bus';
import { type DeliveredMessage, SESSION_CATEGORY, Topics } from '@sigillum/contracts';
import { SessionSecretHandler } from './session-secret.handler';

@Controller()
export class SessionSecretConsumer {
  constructor(private readonly handler: SessionSecretHandler) {}

  // The bus passes over the other session events: the handler acts on these two only (session-secret.handler.ts).
  @RoleEventPattern('certifier', Topics.eventsOf(SESSION_CATEGORY), ['SessionRequested', 'SessionCodeResendRequested'])
  async onSessionEvent(@Payload() message: DeliveredMessage): Promise<void> {
    await this.handler.handle(message);
  }
}
