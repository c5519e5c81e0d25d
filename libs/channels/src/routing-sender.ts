import type { EventBus } from '@sigillum/bus';
import type { SecondChannelKind } from '@sigillum/contracts';
import type { ChannelConfig } from './channel-config';
import type { ChannelLogger } from './channel-logger';
import { FileSender } from './file/file-sender';
import { KafkaGatewaySender, type GatewayKeyResolver } from './kafka/kafka-gateway-sender';
import type { AnyOutOfBandNotice } from './account-notice-render';
import { OutOfBandUnavailableError, type OutOfBandMessage, type OutOfBandReceipt, type OutOfBandSender } from './out-of-band.port';
import { SmtpSender } from './smtp/smtp-sender';

/** The transport for each kind of channel; a kind left out has no transport. */
export type OutOfBandRoutes = Partial<Record<SecondChannelKind, OutOfBandSender>>;

const VARIABLE_OF: Record<SecondChannelKind, string> = { email: 'OOB_EMAIL_TRANSPORT', sms: 'OOB_SMS_TRANSPORT' };

/**
 * The OutOfBandSender the roles use: picks the configured transport for the message's kind of channel.
 * `supports(kind)` is true only when a transport is configured for it (and says it serves it); `send` on
 * any other kind rejects with OutOfBandUnavailableError telling the operator what to set.
 */
export class RoutingOutOfBandSender implements OutOfBandSender {
  constructor(private readonly routes: OutOfBandRoutes) {}

  supports(kind: SecondChannelKind): boolean {
    return this.routes[kind]?.supports(kind) ?? false;
  }

  async send(message: OutOfBandMessage): Promise<OutOfBandReceipt> {
    const kind = message.channel.kind;
    const route = this.routes[kind];
    if (!route || !route.supports(kind)) {
      throw new OutOfBandUnavailableError(kind, `no ${kind} transport is configured (set ${VARIABLE_OF[kind]})`);
    }
    return route.send(message);
  }

  /** Sends a notice through the transport of its kind; rejects with OutOfBandUnavailableError when that transport cannot notify. */
  async notify(notice: AnyOutOfBandNotice): Promise<OutOfBandReceipt> {
    const kind = notice.channel.kind;
    const route = this.routes[kind];
    if (!route || !route.supports(kind)) {
      throw new OutOfBandUnavailableError(kind, `no ${kind} transport is configured (set ${VARIABLE_OF[kind]})`);
    }
    if (!route.notify) throw new OutOfBandUnavailableError(kind, `the ${route.constructor.name} transport cannot carry notices`);
    return route.notify(notice);
  }

  /** The transport serving each kind, for logs and health: e.g. `{ email: 'SmtpSender' }`. */
  describe(): Partial<Record<SecondChannelKind, string>> {
    const described: Partial<Record<SecondChannelKind, string>> = {};
    for (const [kind, route] of Object.entries(this.routes) as [SecondChannelKind, OutOfBandSender][]) {
      if (route) described[kind] = route.constructor.name;
    }
    return described;
  }

  /** Closes the transports that hold connections (the SMTP pool); call it on shutdown. */
  async close(): Promise<void> {
    const unique = new Set(Object.values(this.routes).filter((route): route is OutOfBandSender => route !== undefined));
    for (const route of unique) await (route as OutOfBandSender & { close?: () => void | Promise<void> }).close?.();
  }
}

export interface OutOfBandSenderDependencies {
  /** Needed when a kind uses the `kafka` transport. */
  readonly bus?: EventBus;
  /** Needed when a kind uses the `kafka` transport: finds the gateway operator and its encryption key. */
  readonly resolveGatewayKey?: GatewayKeyResolver;
  readonly serviceName?: string;
  /** CloudEvents source of the gateway requests, e.g. `/sigillum/certifier`. */
  readonly source?: string;
  readonly logger?: ChannelLogger;
  readonly clock?: () => Date;
}

/** Builds the routing sender from the configuration: one adapter per transport, shared by the kinds that use it. */
export function createOutOfBandSender(config: ChannelConfig, deps: OutOfBandSenderDependencies = {}): RoutingOutOfBandSender {
  const common = { serviceName: deps.serviceName, logger: deps.logger, clock: deps.clock };
  const kindsUsing = (transport: string) => (['email', 'sms'] as const).filter((kind) => config[kind] === transport);
  const routes: Record<string, OutOfBandSender> = {};

  const fileKinds = kindsUsing('file');
  if (fileKinds.length > 0) {
    const file = new FileSender({ directory: config.fileDir, kinds: fileKinds, ...common });
    for (const kind of fileKinds) routes[kind] = file;
  }
  const kafkaKinds = kindsUsing('kafka');
  if (kafkaKinds.length > 0) {
    if (!deps.bus || !deps.resolveGatewayKey) {
      throw new Error(`The kafka out-of-band transport (for ${kafkaKinds.join(', ')}) needs the event bus and a gateway key resolver`);
    }
    const kafka = new KafkaGatewaySender({ bus: deps.bus, resolveGatewayKey: deps.resolveGatewayKey, kinds: kafkaKinds, source: deps.source, ...common });
    for (const kind of kafkaKinds) routes[kind] = kafka;
  }
  if (config.email === 'smtp') {
    if (!config.smtp) throw new Error('OOB_EMAIL_TRANSPORT=smtp needs the SMTP settings (loadChannelConfig provides them)');
    routes.email = new SmtpSender({ ...config.smtp, ...common });
  }
  return new RoutingOutOfBandSender(routes);
}
