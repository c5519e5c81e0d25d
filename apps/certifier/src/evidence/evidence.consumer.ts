import { Controller, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { causedBy, parseData, PoisonMessageError, RoleEventPattern, skipUnknownEventType } from '@sigillum/bus';
import { CHAIN_CATEGORY, CORRESPONDENCE_CATEGORY, type DeliveredMessage, eventTypeOf, streamIdOf, Topics } from '@sigillum/contracts';
import { EvidenceService } from './evidence.service';
import { checkSourceEvent, correspondenceIdOf, isSourceEventType, type SourceCategory } from './evidence-sources';

/**
 * Turns the facts of correspondences and their chains into evidence. Each message is shape-checked against its
 * contract (poison otherwise: dead-lettered with the reason), then only names the correspondence whose evidence
 * is brought up to date from the event store: messages of two topics arrive in any order, the evidence follows
 * the order of the log. Idempotent: a fact already evidenced changes nothing.
 */
@Controller()
export class EvidenceConsumer {
  private readonly log = new Logger('EvidenceConsumer');

  constructor(private readonly evidence: EvidenceService) {}

  @RoleEventPattern('certifier', Topics.eventsOf(CORRESPONDENCE_CATEGORY))
  onCorrespondenceEvent(@Payload() message: DeliveredMessage): Promise<void> {
    return this.handle(CORRESPONDENCE_CATEGORY, message);
  }

  @RoleEventPattern('certifier', Topics.eventsOf(CHAIN_CATEGORY))
  onChainEvent(@Payload() message: DeliveredMessage): Promise<void> {
    return this.handle(CHAIN_CATEGORY, message);
  }

  private async handle(category: SourceCategory, message: DeliveredMessage): Promise<void> {
    const type = eventTypeOf(message);
    // A type the contracts do not have yet (a newer producer): skipped and counted, not poison.
    if (!isSourceEventType(category, type)) {
      skipUnknownEventType('evidence', message);
      return;
    }
    const event = parseData(message, (data) => checkSourceEvent(category, type, message.dataVersion, data));
    if (!event) return; // an event of the catalogue that has no reader: no evidence
    const correspondenceId = correspondenceIdOf(event);
    if (message.key !== streamIdOf(category, correspondenceId)) {
      throw new PoisonMessageError(`${message.type} ${message.id} is keyed ${message.key} but is about correspondence ${correspondenceId}`);
    }
    const { recorded, ignored } = await this.evidence.record(correspondenceId, message.id, causedBy(message));
    for (const skipped of ignored) {
      if (skipped.sourceEventId === message.id) {
        this.log.warn(`No evidence for ${skipped.sourceEventType} ${skipped.sourceEventId} of ${correspondenceId}: ${skipped.rule} — ${skipped.message}`);
      }
    }
    if (recorded.length > 0) {
      this.log.debug(`${correspondenceId}: ${recorded.map((event) => `#${event.data.chainIndex} ${event.data.eventName}`).join(', ')}`);
    }
  }
}
