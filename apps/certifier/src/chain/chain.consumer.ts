import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { causedBy, parseData as parse, RoleEventPattern } from '@sigillum/bus';
import {
  CHAIN_CATEGORY,
  CORRESPONDENCE_CATEGORY,
  type DeliveredMessage,
  eventTypeOf,
  JOB_CATEGORY,
  readStepCertified,
  readStepDeadlineMissed,
  readStepFailed,
  readStepNonCompliant,
  readStepTokenIssued,
  readSubmissionRequested,
  readTokenReturned,
  Topics,
} from '@sigillum/contracts';
import type { CommandContext } from '@sigillum/eventstore';
import { ChainDeadlines } from './chain.deadlines';
import { ChainService } from './chain.service';

/**
 * The certifier's chain listens to three topics: submissions (the delivery gate), the processors' jobs (returns and
 * failures) and its own chain events (the deadlines' timers). Every handler is idempotent: the decider ignores what it
 * already recorded, timers are scheduled by a stable id.
 */
@Controller()
export class ChainConsumer {
  constructor(
    private readonly chains: ChainService,
    private readonly deadlines: ChainDeadlines,
  ) {}

  @RoleEventPattern('certifier', Topics.eventsOf(CORRESPONDENCE_CATEGORY), ['SubmissionRequested'])
  async onCorrespondenceEvent(@Payload() message: DeliveredMessage): Promise<void> {
    if (eventTypeOf(message) !== 'SubmissionRequested') return;
    await this.chains.onSubmissionRequested(parse(message, readSubmissionRequested), causedBy(message));
  }

  // The bus passes over the other types (the acknowledgements): a type given a case below must be listed here.
  @RoleEventPattern('certifier', Topics.eventsOf(JOB_CATEGORY), ['TokenReturned', 'StepFailed'])
  async onJobEvent(@Payload() message: DeliveredMessage): Promise<void> {
    switch (eventTypeOf(message)) {
      case 'TokenReturned':
        // The acknowledgement is read from the job stream when the return is checked: nothing to do on it alone.
        return this.chains.onTokenReturned(parse(message, readTokenReturned), message.time, causedBy(message));
      case 'StepFailed':
        return this.chains.onStepFailed(parse(message, readStepFailed), causedBy(message));
      default:
        return;
    }
  }

  @RoleEventPattern('certifier', Topics.eventsOf(CHAIN_CATEGORY), ['StepTokenIssued', 'StepCertified', 'StepNonCompliant', 'StepDeadlineMissed'])
  async onChainEvent(@Payload() message: DeliveredMessage): Promise<void> {
    switch (eventTypeOf(message)) {
      case 'StepTokenIssued':
        // Awaited: the message is acknowledged only once its timers are committed.
        return this.deadlines.schedule(parse(message, readStepTokenIssued).token, message.correlationId);
      case 'StepCertified':
        return this.deadlines.cancel(parse(message, readStepCertified).tokenId);
      case 'StepNonCompliant':
        return this.deadlines.cancel(parse(message, readStepNonCompliant).tokenId);
      case 'StepDeadlineMissed':
        return this.deadlines.cancel(parse(message, readStepDeadlineMissed).tokenId);
      case 'ChainRetried':
        return; // a manual retry: its new token is the StepTokenIssued of the same append, scheduled above
      default:
        return;
    }
  }
}
