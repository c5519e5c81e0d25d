import type { EventBus } from '@sigillum/bus';
import type { BusMessage, SecondChannelKind } from '@sigillum/contracts';
import { maskAddress } from '@sigillum/crypto/one-time-code';
import { sealTo, type SealedBox } from '@sigillum/crypto/sealed-box';
import { defaultChannelLogger, redactSecret, type ChannelLogger } from '../channel-logger';
import { OutOfBandDeliveryError, OutOfBandUnavailableError, type OutOfBandMessage, type OutOfBandReceipt, type OutOfBandSender } from '../out-of-band.port';
import { bodyFor, renderOutOfBandMessage } from '../render';

/** Topic where SMS / e-mail gateway operators pick up what to send. Key = the gateway's party id. */
export const OUT_OF_BAND_REQUESTS_TOPIC = 'sigillum.outofband.requests';
/** CloudEvents type of a delivery request. */
export const DELIVERY_REQUESTED_TYPE = 'sigillum.outofband.DeliveryRequested';
export const DELIVERY_REQUESTED_VERSION = 1;

/** The gateway that serves a kind of channel, and its registered encryption key (X25519 or RSA, SPKI PEM). */
export interface GatewayKey {
  readonly gatewayId: string;
  readonly publicKeyPem: string;
  /** The directory's key id, passed on so the gateway knows which of its keys opens the box. */
  readonly keyId?: string;
}

/** Finds the gateway for a kind of channel; undefined when none is registered. The lead wires it to the directory. */
export type GatewayKeyResolver = (kind: SecondChannelKind) => Promise<GatewayKey | undefined>;

/** What the gateway finds inside `sealed` once opened with its private key (AAD = messageId). */
export interface DeliveryRequestSecret {
  readonly code: string;
  /** The rendered text to send: the whole e-mail body, or the SMS. */
  readonly text: string;
  /** E-mail only: the subject (it never contains the code). */
  readonly subject?: string;
}

/** `data` of a `sigillum.outofband.DeliveryRequested` message. Only `sealed` holds the code. */
export interface DeliveryRequested {
  readonly messageId: string;
  readonly gatewayId: string;
  readonly keyId?: string;
  readonly purpose: OutOfBandMessage['purpose'];
  readonly reference: string;
  readonly channelKind: SecondChannelKind;
  readonly address: string;
  readonly expiresAt: string;
  /** JSON of DeliveryRequestSecret, sealed to the gateway's key with AAD = messageId. */
  readonly sealed: SealedBox;
}

export interface KafkaGatewaySenderOptions {
  readonly bus: EventBus;
  readonly resolveGatewayKey: GatewayKeyResolver;
  /** Kinds of channel this sender takes; default both. */
  readonly kinds?: readonly SecondChannelKind[];
  /** CloudEvents source; default `/sigillum/certifier`. */
  readonly source?: string;
  readonly serviceName?: string;
  readonly logger?: ChannelLogger;
  readonly clock?: () => Date;
}

/**
 * Hands second-channel messages to an SMS / e-mail gateway operator through the bus (Kafka in the distributed
 * mode, the embedded log otherwise): one `DeliveryRequested` on `sigillum.outofband.requests`, keyed by the
 * gateway's party id, with the code and the rendered text sealed to the gateway's registered encryption key.
 * The CloudEvents id is the message id, so a retried send is a duplicate the gateway drops.
 */
export class KafkaGatewaySender implements OutOfBandSender {
  static readonly transportName = 'kafka-gateway';
  private readonly kinds: ReadonlySet<SecondChannelKind>;
  private readonly logger: ChannelLogger;
  private readonly clock: () => Date;

  constructor(private readonly options: KafkaGatewaySenderOptions) {
    this.kinds = new Set(options.kinds ?? ['email', 'sms']);
    this.logger = options.logger ?? defaultChannelLogger('KafkaGatewaySender');
    this.clock = options.clock ?? (() => new Date());
  }

  supports(kind: SecondChannelKind): boolean {
    return this.kinds.has(kind);
  }

  async send(message: OutOfBandMessage): Promise<OutOfBandReceipt> {
    const { kind, address } = message.channel;
    if (!this.kinds.has(kind)) throw new OutOfBandUnavailableError(kind, `the Kafka gateway transport is not configured for ${kind}`);
    const gateway = await this.options.resolveGatewayKey(kind);
    if (!gateway) {
      throw new OutOfBandUnavailableError(kind, `no ${kind} gateway operator with a registered encryption key is known to the directory`);
    }
    const rendered = renderOutOfBandMessage(message, { serviceName: this.options.serviceName });
    const secret: DeliveryRequestSecret = {
      code: message.code,
      text: bodyFor(kind, rendered),
      ...(kind === 'email' ? { subject: rendered.subject } : {}),
    };
    let sealed: SealedBox;
    try {
      sealed = sealTo(gateway.publicKeyPem, JSON.stringify(secret), message.messageId);
    } catch (error) {
      throw new OutOfBandUnavailableError(kind, `gateway ${gateway.gatewayId}'s key cannot receive sealed messages: ${(error as Error).message}`);
    }
    const now = this.clock().toISOString();
    const data: DeliveryRequested = {
      messageId: message.messageId,
      gatewayId: gateway.gatewayId,
      ...(gateway.keyId ? { keyId: gateway.keyId } : {}),
      purpose: message.purpose,
      reference: message.reference,
      channelKind: kind,
      address,
      expiresAt: message.expiresAt,
      sealed,
    };
    const busMessage: BusMessage = {
      topic: OUT_OF_BAND_REQUESTS_TOPIC,
      key: gateway.gatewayId,
      id: message.messageId,
      type: DELIVERY_REQUESTED_TYPE,
      source: this.options.source ?? '/sigillum/certifier',
      time: now,
      correlationId: message.correlationId ?? message.messageId,
      causationId: message.causationId ?? message.messageId,
      dataVersion: DELIVERY_REQUESTED_VERSION,
      data,
    };
    const masked = maskAddress(kind, address);
    try {
      await this.options.bus.publish([busMessage]);
    } catch (error) {
      const detail = redactSecret((error as Error).message, message.code)
        .split(address)
        .join(masked);
      this.logger.warn(`out-of-band message ${message.messageId} to ${masked}: publishing to ${OUT_OF_BAND_REQUESTS_TOPIC} failed: ${detail}`);
      throw new OutOfBandDeliveryError(KafkaGatewaySender.transportName, `publishing to ${OUT_OF_BAND_REQUESTS_TOPIC} failed: ${detail}`);
    }
    this.logger.log(`out-of-band message ${message.messageId} to ${masked} handed to ${kind} gateway ${gateway.gatewayId} on ${OUT_OF_BAND_REQUESTS_TOPIC}`);
    return { transport: KafkaGatewaySender.transportName, acceptedAt: now, transportReference: `${OUT_OF_BAND_REQUESTS_TOPIC}/${message.messageId}` };
  }
}
