import { Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { type EventBus, KafkaEventBus } from '@sigillum/bus';
import { type BusMessage, type CertificationToken, JOB_CATEGORY, streamIdOf } from '@sigillum/contracts';
import { nameBasedId } from '@sigillum/runtime';
import type { ChainReader } from '../job/chain-reader';
import type { IssuedToken, JobContext } from '../job/job.runner';
import { PROCESSOR_SOURCE } from '../processor.source';
import { addressBlockOf } from '../steps/print-and-post.step';
import { type PartnerBinding, partnerTokensTopicOf } from './partner.config';

/** CloudEvents type of the record that hands a partner one of its tokens (docs/asyncapi.yaml, channel partnerTokens). */
export const PARTNER_TOKEN_TYPE = 'sigillum.partner.TokenIssued';
export const PARTNER_TOKEN_VERSION = 1;

/**
 * One recipient of the correspondence, as a print-and-post partner needs it: the address block (name, address lines
 * — each comma of the directory's one-line address starts a line —, country), exactly as a hosted operator's print job
 * has it, and the country on its own (postage). Both are absent when the directory holds no `address` and `country`
 * for the recipient: nothing else about it is told, and the partner reports `address.missing`.
 */
export interface PartnerRecipient {
  readonly recipientId: string;
  readonly addressBlock?: readonly string[];
  readonly country?: string;
}

/** `data` of a `sigillum.partner.TokenIssued` record. */
export interface PartnerTokenIssued {
  /** The token exactly as the certifier signed it (StepTokenIssued's `token`). */
  readonly token: CertificationToken;
  /** The certifier's detached JWS over the RFC 8785 canonical token (StepTokenIssued's `signature`). */
  readonly signature: string;
  /** print-and-post only: the correspondence's recipients, in ChainStarted order (empty when the chain is unknown). */
  readonly recipients?: readonly PartnerRecipient[];
}

export interface PartnerTokensDependencies {
  readonly bus: EventBus;
  readonly reader: Pick<ChainReader, 'chainStarted' | 'postalIdentity'>;
  readonly partners: readonly PartnerBinding[];
}

/**
 * Hands each partner operator (PROCESSOR_PARTNERS) exactly what its tokens need, on its own topic
 * `sigillum.partner.<name>.tokens`, and nothing else: the partner then reads no event topic (not
 * sigillum.chain.events, where every correspondence's tokens are; not sigillum.party.events, the whole directory).
 *
 * Called by the processor's work consumer (JobConsumer, group `sigillum.processor`) for every StepTokenIssued whose
 * operator this processor does not host: a token for an operator bound to a partner becomes one `TokenIssued` record,
 * key `job-<tokenId>` (the key of the partner's answers), `ce_id` name-based on the token id and `ce_time` the token's
 * `issuedAt` — a redelivered StepTokenIssued publishes the same record again, which the partner drops by `ce_id`.
 * A failed publish throws: the consumer retries the StepTokenIssued (then dead-letters it).
 */
export class PartnerTokens implements OnApplicationBootstrap {
  private readonly log = new Logger('PartnerTokens');
  private readonly byOperator: ReadonlyMap<string, PartnerBinding>;

  constructor(private readonly deps: PartnerTokensDependencies) {
    this.byOperator = new Map(deps.partners.map((partner) => [partner.operatorId, partner]));
  }

  /** The partners' tokens topics exist from the start (the bus would create them at the first token only), so a partner can subscribe before its first token. */
  onApplicationBootstrap(): void {
    const { bus, partners } = this.deps;
    if (partners.length === 0 || !(bus instanceof KafkaEventBus)) return;
    const topics = partners.map((partner) => bus.wireTopic(partnerTokensTopicOf(partner.name)));
    bus.ensureTopics(topics).catch((error: Error) => this.log.warn(`Creating ${topics.join(', ')} failed (retried at the first token): ${error.message}`));
  }

  /** The partner whose operator the token names, if any. */
  partnerOf(operatorId: string): PartnerBinding | undefined {
    return this.byOperator.get(operatorId);
  }

  /** Publishes the token to its partner's topic; `not-a-partner` (nothing published) when no partner is bound to its operator. */
  async forward(issued: IssuedToken, context: JobContext): Promise<'forwarded' | 'not-a-partner'> {
    const partner = this.partnerOf(issued.token.operatorId);
    if (!partner) return 'not-a-partner';
    const message = await this.recordOf(issued, partner, context);
    await this.deps.bus.publish([message]);
    this.log.debug(`Token ${issued.token.tokenId} (${issued.token.step}) handed to partner ${partner.name} on ${message.topic}`);
    return 'forwarded';
  }

  /** The record for the partner (exported for the contract test). */
  async recordOf(issued: IssuedToken, partner: PartnerBinding, context: JobContext): Promise<BusMessage> {
    const { token, signature } = issued;
    const data: PartnerTokenIssued = {
      token,
      signature,
      ...(token.step === 'print-and-post' ? { recipients: await this.recipientsOf(token) } : {}),
    };
    return {
      topic: partnerTokensTopicOf(partner.name),
      key: streamIdOf(JOB_CATEGORY, token.tokenId),
      id: nameBasedId(`partner-token:${token.tokenId}`),
      type: PARTNER_TOKEN_TYPE,
      source: PROCESSOR_SOURCE,
      time: token.issuedAt,
      correlationId: context.correlationId,
      causationId: context.causationId,
      ...(context.traceparent && { traceparent: context.traceparent }),
      dataVersion: PARTNER_TOKEN_VERSION,
      data,
    };
  }

  /** The recipients of the token's correspondence, with their address blocks when the directory holds them (read as the hosted step reads them). */
  private async recipientsOf(token: CertificationToken): Promise<PartnerRecipient[]> {
    const chain = await this.deps.reader.chainStarted(token.correspondenceId);
    const recipients: PartnerRecipient[] = [];
    for (const recipientId of chain?.recipientIds ?? []) {
      const identity = await this.deps.reader.postalIdentity(recipientId);
      const country = identity?.country?.trim();
      if (!identity || !identity.address?.trim() || !country) recipients.push({ recipientId });
      else recipients.push({ recipientId, addressBlock: addressBlockOf(identity), country });
    }
    return recipients;
  }
}
