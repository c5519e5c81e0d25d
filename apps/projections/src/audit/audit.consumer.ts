import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RoleViewPattern } from '@sigillum/bus';
import { CA_CATEGORY, type DeliveredMessage, EVIDENCE_CATEGORY, Topics } from '@sigillum/contracts';
import { auditProjection } from './audit.projection';
import type { ProjectionRunner } from '../rebuild/projection-runner';
import { ProjectionRunners } from '../rebuild/projection-runners';

/** Feeds the audit view from the evidence topic and the CA topic (its trust anchors). */
@Controller()
export class AuditConsumer {
  private readonly runner: ProjectionRunner;

  constructor(runners: ProjectionRunners) {
    this.runner = runners.runnerFor(auditProjection);
  }

  @RoleViewPattern('projections', Topics.eventsOf(EVIDENCE_CATEGORY))
  async onEvidenceEvent(@Payload() message: DeliveredMessage): Promise<void> {
    await this.runner.handle(message);
  }

  @RoleViewPattern('projections', Topics.eventsOf(CA_CATEGORY))
  async onCaEvent(@Payload() message: DeliveredMessage): Promise<void> {
    await this.runner.handle(message);
  }
}
