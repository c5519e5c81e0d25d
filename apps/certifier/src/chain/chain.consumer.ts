import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { PoisonMessageError, RoleEventPattern } from '@sigillum/bus';
import { CHAIN_CATEGORY, CORRESPONDENCE_CATEGORY, type DeliveredMessage, eventTypeOf, JOB_CATEGORY, Topics } from '@sigillum/contracts';
import type { CommandContext } from '@sigillum/eventstore';
import { ChainDeadlines } from './chain.deadlines';
import { ChainService } from './chain.service';
import { readIssuedTokenDeadlines, readStepFailed, readSubmissionRequested, readTokenId, readTokenReturned, ShapeError } from './shapes';

const contextOf = (message: DeliveredMessage): CommandContext => ({ correlationId: message.correlationId, causationId: message.id });

/** The data of `message` read by `read`; a shape that does not match is poison (dead-lettered with the reason). */
function parse<T>(message: DeliveredMessage, read: (data: unknown) => T): T {
  try {
    return read(message.data);
  } catch (error) {
    if (error instanceof ShapeError) {
      throw new PoisonMessageError(`${message.type} ${message.id} (dataversion ${message.dataVersion}) has an unexpected shape: ${error.message}`);
    }
    throw error;
  }
}

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

  @RoleEventPattern('certifier', Topics.eventsOf(CORRESPONDENCE_CATEGORY))
  async onCorrespondenceEvent(@Payload() message: DeliveredMessage): Promise<void> {
    if (eventTypeOf(message) !== 'SubmissionRequested') return;
    await this.chains.onSubmissionRequested(parse(message, readSubmissionRequested), contextOf(message));
  }

  @RoleEventPattern('certifier', Topics.eventsOf(JOB_CATEGORY))
  async onJobEvent(@Payload() message: DeliveredMessage): Promise<void> {
    switch (eventTypeOf(message)) {
      case 'TokenReturned':
        // The acknowledgement is read from the job stream when the return is checked: nothing to do on it alone.
        return this.chains.onTokenReturned(parse(message, readTokenReturned), message.time, contextOf(message));
      case 'StepFailed':
        return this.chains.onStepFailed(parse(message, readStepFailed), contextOf(message));
      default:
        return;
    }
  }

  @RoleEventPattern('certifier', Topics.eventsOf(CHAIN_CATEGORY))
  async onChainEvent(@Payload() message: DeliveredMessage): Promise<void> {
    switch (eventTypeOf(message)) {
      case 'StepTokenIssued':
        this.deadlines.schedule(parse(message, readIssuedTokenDeadlines), message.correlationId);
        return;
      case 'StepCertified':
      case 'StepNonCompliant':
      case 'StepDeadlineMissed':
        this.deadlines.cancel(parse(message, readTokenId));
        return;
      default:
        return;
    }
  }
}
