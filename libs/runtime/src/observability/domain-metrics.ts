import type { PendingEvent } from '@sigillum/contracts';
import { streamCategory } from '@sigillum/contracts';
import { Counter, Histogram, register } from 'prom-client';

/**
 * Business metrics read from the facts themselves: each event is recorded once, by the process of the role that owns
 * its stream, so counting at the append counts each fact once however the roles are spread over processes.
 */
function once<T>(name: string, make: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? make();
}

const STEP_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400];

export const eventsRecorded = once(
  'sigillum_events_recorded_total',
  () =>
    new Counter({
      name: 'sigillum_events_recorded_total',
      help: 'Events this process recorded, by stream category and event type.',
      labelNames: ['category', 'type'] as const,
    }),
);
export const deliveries = once(
  'sigillum_deliveries_total',
  () =>
    new Counter({
      name: 'sigillum_deliveries_total',
      help: 'Correspondence outcomes per recipient: delivered (handed to the recipient), accepted, refused, expired (acceptance window), failed.',
      labelNames: ['outcome'] as const,
    }),
);
export const submissions = once(
  'sigillum_submissions_total',
  () =>
    new Counter({
      name: 'sigillum_submissions_total',
      help: 'Sendings through the delivery gate, by outcome (accepted, rejected).',
      labelNames: ['outcome'] as const,
    }),
);
export const chains = once(
  'sigillum_chains_total',
  () =>
    new Counter({
      name: 'sigillum_chains_total',
      help: 'Certified processing chains, by outcome (started, refused, completed, failed).',
      labelNames: ['outcome'] as const,
    }),
);
export const stepDuration = once(
  'sigillum_step_duration_seconds',
  () =>
    new Histogram({
      name: 'sigillum_step_duration_seconds',
      help: 'From a step token issued to the step certified, by step (tokens issued by this process since it started).',
      labelNames: ['step'] as const,
      buckets: STEP_BUCKETS,
    }),
);
export const stepProcessing = once(
  'sigillum_step_processing_seconds',
  () =>
    new Histogram({
      name: 'sigillum_step_processing_seconds',
      help: "An operator's work on a certified step: from its acknowledgement to its return, by step.",
      labelNames: ['step'] as const,
      buckets: STEP_BUCKETS,
    }),
);
export const stepsNonCompliant = once(
  'sigillum_steps_non_compliant_total',
  () => new Counter({ name: 'sigillum_steps_non_compliant_total', help: 'Step returns refused as non-compliant, by step.', labelNames: ['step'] as const }),
);
export const deadlineMisses = once(
  'sigillum_deadline_misses_total',
  () =>
    new Counter({
      name: 'sigillum_deadline_misses_total',
      help: 'Step deadlines missed (no acknowledgement or no return by the token deadline), by step and what was missing.',
      labelNames: ['step', 'missing'] as const,
    }),
);
export const codesSent = once(
  'sigillum_codes_sent_total',
  () =>
    new Counter({
      name: 'sigillum_codes_sent_total',
      help: 'One-time codes issued to a second channel (session codes, channel verification codes), by purpose and channel kind.',
      labelNames: ['purpose', 'channel'] as const,
    }),
);
export const codeDeliveryFailures = once(
  'sigillum_code_delivery_failures_total',
  () =>
    new Counter({
      name: 'sigillum_code_delivery_failures_total',
      help: 'Session codes the second channel could not deliver, by channel kind.',
      labelNames: ['channel'] as const,
    }),
);

const DELIVERY_OUTCOMES: Readonly<Record<string, string>> = {
  DeliveredToRecipient: 'delivered',
  AcceptedByRecipient: 'accepted',
  RefusedByRecipient: 'refused',
  AcceptanceWindowExpired: 'expired',
  CorrespondenceFailed: 'failed',
};
const CHAIN_OUTCOMES: Readonly<Record<string, string>> = {
  ChainStarted: 'started',
  ChainRefused: 'refused',
  ChainCompleted: 'completed',
  ChainFailed: 'failed',
};

/** Issue times of the step tokens this process issued, until certified; bounded, oldest forgotten first. */
const MAX_OPEN_TOKENS = 10_000;
const tokenIssuedAt = new Map<string, number>();

type Data = Readonly<Record<string, unknown>>;
const text = (value: unknown, fallback = 'unknown'): string => (typeof value === 'string' && value.length > 0 ? value : fallback);
const seconds = (from: unknown, to: unknown): number | undefined => {
  const start = Date.parse(String(from));
  const end = Date.parse(String(to));
  return Number.isFinite(start) && Number.isFinite(end) && end >= start ? (end - start) / 1000 : undefined;
};

/** Counts what the just-recorded events of one stream mean; never throws (metrics must not fail an append). */
export function recordDomainMetrics(streamId: string, events: readonly PendingEvent[]): void {
  const category = streamCategory(streamId);
  for (const { event } of events) {
    try {
      eventsRecorded.inc({ category, type: event.type });
      observe(event.type, (event.data ?? {}) as Data);
    } catch {
      // a malformed event is the decider's problem, not the metrics'
    }
  }
}

function observe(type: string, data: Data): void {
  if (type in DELIVERY_OUTCOMES) return deliveries.inc({ outcome: DELIVERY_OUTCOMES[type] });
  if (type in CHAIN_OUTCOMES) return chains.inc({ outcome: CHAIN_OUTCOMES[type] });
  switch (type) {
    case 'SubmissionAccepted':
      return submissions.inc({ outcome: 'accepted' });
    case 'SubmissionRejected':
      return submissions.inc({ outcome: 'rejected' });
    case 'StepTokenIssued': {
      const token = (data.token ?? {}) as Data;
      const issuedAt = Date.parse(String(token.issuedAt));
      if (typeof token.tokenId !== 'string' || !Number.isFinite(issuedAt)) return;
      if (tokenIssuedAt.size >= MAX_OPEN_TOKENS) tokenIssuedAt.delete(tokenIssuedAt.keys().next().value as string);
      tokenIssuedAt.set(token.tokenId, issuedAt);
      return;
    }
    case 'StepCertified': {
      const step = text(data.step);
      const processing = seconds(data.acknowledgedAt, data.returnedAt);
      if (processing !== undefined) stepProcessing.observe({ step }, processing);
      const issuedAt = tokenIssuedAt.get(String(data.tokenId));
      tokenIssuedAt.delete(String(data.tokenId));
      const total = issuedAt === undefined ? undefined : seconds(new Date(issuedAt).toISOString(), data.certifiedAt);
      if (total !== undefined) stepDuration.observe({ step }, total);
      return;
    }
    case 'StepNonCompliant':
      return stepsNonCompliant.inc({ step: text(data.step) });
    case 'StepDeadlineMissed':
      tokenIssuedAt.delete(String(data.tokenId));
      return deadlineMisses.inc({ step: text(data.step), missing: text(data.missing) });
    case 'SessionSecretIssued':
      return codesSent.inc({ purpose: 'session', channel: text((data.channel as Data | undefined)?.kind) });
    case 'SecondChannelEnrolled':
      return codesSent.inc({ purpose: 'channel-verification', channel: text(data.kind) });
    case 'SecondChannelDeliveryFailed':
      return codeDeliveryFailures.inc({ channel: text((data.channel as Data | undefined)?.kind) });
    default:
      return;
  }
}
