import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RoleViewPattern } from '@sigillum/bus';
import { CHAIN_CATEGORY, CORRESPONDENCE_CATEGORY, type DeliveredMessage, EVIDENCE_CATEGORY, Topics } from '@sigillum/contracts';
import type { ProjectionRunner } from '../rebuild/projection-runner';
import { ProjectionRunners } from '../rebuild/projection-runners';
import { mailboxProjection } from './mailbox.projection';

/** Feeds the mailbox from the correspondence, chain and evidence topics (once per event id; poison is dead-lettered). */
@Controller()
export class MailboxConsumer {
  private readonly runner: ProjectionRunner;

  constructor(runners: ProjectionRunners) {
    this.runner = runners.runnerFor(mailboxProjection);
  }

  @RoleViewPattern('projections', Topics.eventsOf(CORRESPONDENCE_CATEGORY))
  async onCorrespondenceEvent(@Payload() message: DeliveredMessage): Promise<void> {
    await this.runner.handle(message);
  }

  @RoleViewPattern('projections', Topics.eventsOf(CHAIN_CATEGORY))
  async onChainEvent(@Payload() message: DeliveredMessage): Promise<void> {
    await this.runner.handle(message);
  }

  @RoleViewPattern('projections', Topics.eventsOf(EVIDENCE_CATEGORY))
  async onEvidenceEvent(@Payload() message: DeliveredMessage): Promise<void> {
    await this.runner.handle(message);
  }
}
