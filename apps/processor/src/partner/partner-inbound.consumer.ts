import { Controller, Inject, Logger } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { PATTERN_EXTRAS_METADATA, PATTERN_HANDLER_METADATA, PATTERN_METADATA, TRANSPORT_METADATA } from '@nestjs/microservices/constants';
import { causedBy, PoisonMessageError, roleTransportId, ShapeError } from '@sigillum/bus';
import type { DeliveredMessage } from '@sigillum/contracts';
import { PARTNER_CONFIG, type PartnerBinding, type PartnerConfig } from './partner.config';
import { readPartnerCommand } from './partner-commands';
import { PartnerJobs } from './partner-jobs';

/**
 * The processor's consumer of the partner operators' inbound topics `sigillum.partner.<name>.inbound` (one per
 * binding of PROCESSOR_PARTNERS), in the processor's group like its other handlers (KafkaRoleServer).
 *
 * A record is read by ONE reader (readPartnerCommand: CloudEvents type, key, closed body); a shape that does not match,
 * or a command refused (PartnerCommandRefused: signature, certificate, key, token, order), is dead-lettered at once to
 * `sigillum.partner.<name>.inbound.dlq` with the reason in `dlq_reason`, nothing appended. Transient failures (store,
 * no CA known yet, a concurrent append) are retried by the transport, then dead-lettered.
 */
@Controller()
export class PartnerInboundConsumer {
  private readonly log = new Logger('PartnerInbound');
  private readonly byTopic: ReadonlyMap<string, PartnerBinding>;

  constructor(
    @Inject(PartnerJobs) private readonly jobs: PartnerJobs,
    @Inject(PARTNER_CONFIG) config: PartnerConfig,
  ) {
    this.byTopic = new Map(config.partners.map((partner) => [partner.topic, partner]));
  }

  /** Bound to the partners' topics at start by declarePartnerTopics (the topics are configuration, not constants). */
  async onPartnerCommand(@Payload() message: DeliveredMessage): Promise<void> {
    const partner = this.byTopic.get(message.topic);
    if (!partner) throw new PoisonMessageError(`topic ${message.topic} is not the inbound topic of a partner declared in PROCESSOR_PARTNERS`);
    let command;
    try {
      command = readPartnerCommand(message);
    } catch (error) {
      // The transport logs the dead letter with this reason.
      if (error instanceof ShapeError)
        throw new PoisonMessageError(`refused command.malformed: ${message.type} ${message.id} has an unexpected shape: ${error.message}`);
      throw error;
    }
    const outcome = await this.jobs.handle(command, partner, causedBy(message));
    if (outcome.kind === 'duplicate')
      this.log.debug(`Partner ${partner.name}: ${message.type} ${message.id} for token ${command.tokenId} was already recorded`);
  }
}

/**
 * Declares `onPartnerCommand` as the processor role's `@EventPattern` handler of the partners' topics — what
 * `@RoleEventPattern('processor', topic)` does for a constant topic — or removes the declaration when no partner
 * is configured. Called when PARTNER_CONFIG is made, before the role's transport registers its handlers
 * (createSigillumApp connects the transports after the module's providers exist).
 */
export function declarePartnerTopics(partners: readonly PartnerBinding[]): void {
  const prototype = PartnerInboundConsumer.prototype;
  const method = prototype.onPartnerCommand;
  if (partners.length === 0) {
    for (const key of [PATTERN_METADATA, PATTERN_HANDLER_METADATA, TRANSPORT_METADATA, PATTERN_EXTRAS_METADATA]) Reflect.deleteMetadata(key, method);
    return;
  }
  const descriptor = Object.getOwnPropertyDescriptor(prototype, 'onPartnerCommand')!;
  EventPattern(
    partners.map((partner) => partner.topic),
    roleTransportId('processor'),
  )(prototype, 'onPartnerCommand', descriptor);
}
