import { Counter, Gauge, Histogram, register } from 'prom-client';

/**
 * What the bus can tell about consumption, in prom-client's default registry (which GET /metrics serves): how long
 * handlers take, what was dead-lettered, how far behind each group is. Defined once per module instance, so a
 * process (or a test file) running several apps shares them, as Prometheus expects one series per name and labels.
 */
function once<T>(name: string, make: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? make();
}

export const eventHandlingSeconds = once(
  'sigillum_event_handling_seconds',
  () =>
    new Histogram({
      name: 'sigillum_event_handling_seconds',
      help: 'Time to handle one consumed event, retries included, by topic and outcome (handled, dead-letter, abandoned).',
      labelNames: ['topic', 'outcome'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
);

export const deadLettersTotal = once(
  'sigillum_dead_letters_total',
  () =>
    new Counter({
      name: 'sigillum_dead_letters_total',
      help: 'Messages written to a dead-letter topic, by original topic and consumer group.',
      labelNames: ['topic', 'group'] as const,
    }),
);

export const messagesPassedOverTotal = once(
  'sigillum_bus_messages_passed_over_total',
  () =>
    new Counter({
      name: 'sigillum_bus_messages_passed_over_total',
      help: 'Messages a consumer group committed past without a handler call: their type is none its handlers of the topic act on.',
      labelNames: ['topic', 'group'] as const,
    }),
);

/** Something that refreshes the lag gauge from where the truth is (the Kafka brokers), at scrape time among others. */
export interface LagSource {
  /** Never rejects; resolves within the source's own time limit (the last figures stay when the brokers do not answer). */
  refresh(): Promise<void>;
}

// Kept on the process, not the module instance: the gauge may have been made by another copy of this module.
const LAG_SOURCES = Symbol.for('sigillum.bus.lagSources');
const lagSources: Set<LagSource> = ((globalThis as Record<symbol, unknown>)[LAG_SOURCES] as Set<LagSource> | undefined) ?? new Set<LagSource>();
(globalThis as Record<symbol, unknown>)[LAG_SOURCES] = lagSources;

/** Adds a source the gauge asks at every scrape (prom-client `collect`); returns its removal. */
export function registerLagSource(source: LagSource): () => void {
  lagSources.add(source);
  return () => void lagSources.delete(source);
}

export const consumerLagMessages = once(
  'sigillum_consumer_lag_messages',
  () =>
    new Gauge({
      name: 'sigillum_consumer_lag_messages',
      help:
        'Messages a consumer group has still to handle on a topic partition. Kafka: log-end offset - committed offset (from the first retained ' +
        'offset when none is committed), asked of the brokers every 10 s and at each scrape; embedded: messages after the group checkpoint.',
      labelNames: ['group', 'topic', 'partition'] as const,
      async collect() {
        await Promise.all([...lagSources].map((source) => source.refresh().catch(() => undefined)));
      },
    }),
);

export function recordDeadLetter(topic: string, group: string): void {
  deadLettersTotal.inc({ topic, group });
}
