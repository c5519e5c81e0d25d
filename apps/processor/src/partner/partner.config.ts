import { ConfigError } from '@sigillum/config';

/**
 * Partner operators: processing operators NOT hosted by this processor (they hold their own keys, certified by the
 * Sigillum CA) that answer their certification tokens with signed commands on their own Kafka topic
 * `sigillum.partner.<name>.inbound`.
 *
 * Declared by the operator of this Sigillum, one binding per partner, in `PROCESSOR_PARTNERS`:
 *
 *     PROCESSOR_PARTNERS=acme-post=5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d,other=<partyId>
 *
 * `<name>` names the topic (and, in the broker's secure mode, the principal `partner-<name>` that alone may write it:
 * `bash scripts/kafka.sh add-partner <name>`); `<partyId>` is the operator's party in the directory (kind operator,
 * operatorRole processing). Commands on a partner's topic may only speak for the operator bound to it.
 * The topics are subscribed at start: a new partner needs a restart of the processor.
 *
 * Kafka only: in the embedded mode no partner can reach the bus, so `PROCESSOR_PARTNERS` is refused there.
 */
export const PARTNER_CONFIG = Symbol('PartnerConfig');

export interface PartnerBinding {
  /** Lower-case letters, digits and '-' (1-41 characters), as `scripts/kafka.sh add-partner` accepts. */
  readonly name: string;
  /** The operator's party id in the directory. */
  readonly operatorId: string;
  /** `sigillum.partner.<name>.inbound` */
  readonly topic: string;
}

export interface PartnerConfig {
  readonly partners: readonly PartnerBinding[];
  /** Clock skew tolerated between a partner's stated times (acknowledgedAt, returnedAt, failedAt) and this processor's clock. */
  readonly maxClockSkewSeconds: number;
}

export const PARTNER_ENVIRONMENT = {
  PROCESSOR_PARTNERS: {
    default: '',
    help: 'partner operators answering over Kafka, `<name>=<operatorPartyId>,...`: each writes its commands to sigillum.partner.<name>.inbound (Kafka bus only)',
  },
  PROCESSOR_PARTNER_CLOCK_SKEW_SECONDS: { default: '120', help: "how far a partner command's stated time may lie ahead of this processor's clock (0-3600)" },
} as const;

export const PARTNER_NAME = /^[a-z0-9][a-z0-9-]{0,40}$/;
const PARTY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The inbound topic of a partner (a logical name: a topic prefix, if any, is applied on the wire by the Kafka adapters). */
export const partnerInboundTopicOf = (name: string): string => `sigillum.partner.${name}.inbound`;

/**
 * The topic where the processor hands a partner its own certification tokens (and, for print-and-post, its letters'
 * address blocks): the only Sigillum topic a partner reads (apps/processor/src/partner/partner-tokens.ts). Logical.
 */
export const partnerTokensTopicOf = (name: string): string => `sigillum.partner.${name}.tokens`;

/** Reads and validates the partner bindings; throws ConfigError naming every problem at once. */
export function loadPartnerConfig(env: Readonly<Record<string, string | undefined>>, eventBus: 'embedded' | 'kafka'): PartnerConfig {
  const problems: string[] = [];
  const raw = env.PROCESSOR_PARTNERS?.trim() ?? '';
  const partners: PartnerBinding[] = [];
  const names = new Set<string>();
  const operators = new Set<string>();
  for (const entry of raw === '' ? [] : raw.split(',').map((item) => item.trim())) {
    const equals = entry.indexOf('=');
    const name = equals > 0 ? entry.slice(0, equals).trim() : '';
    const operatorId = equals > 0 ? entry.slice(equals + 1).trim() : '';
    if (!PARTNER_NAME.test(name) || !PARTY_ID.test(operatorId)) {
      problems.push(`PROCESSOR_PARTNERS entry "${entry}" must be <name>=<operatorPartyId>, the name 1-41 lower-case letters, digits or '-'`);
      continue;
    }
    if (names.has(name)) problems.push(`PROCESSOR_PARTNERS names the partner "${name}" twice`);
    if (operators.has(operatorId)) problems.push(`PROCESSOR_PARTNERS binds operator ${operatorId} to two partners: one topic per operator`);
    names.add(name);
    operators.add(operatorId);
    partners.push({ name, operatorId, topic: partnerInboundTopicOf(name) });
  }
  if (partners.length > 0 && eventBus !== 'kafka') {
    problems.push('PROCESSOR_PARTNERS needs the Kafka bus (EVENT_BUS=kafka, KAFKA_BROKERS): a partner operator cannot reach the embedded bus');
  }
  const rawSkew = env.PROCESSOR_PARTNER_CLOCK_SKEW_SECONDS?.trim() || PARTNER_ENVIRONMENT.PROCESSOR_PARTNER_CLOCK_SKEW_SECONDS.default;
  const maxClockSkewSeconds = Number(rawSkew);
  if (!/^\d+$/.test(rawSkew) || maxClockSkewSeconds > 3600)
    problems.push(`PROCESSOR_PARTNER_CLOCK_SKEW_SECONDS="${rawSkew}" must be a whole number of seconds from 0 to 3600`);
  if (problems.length > 0) throw new ConfigError(problems);
  return { partners, maxClockSkewSeconds };
}
