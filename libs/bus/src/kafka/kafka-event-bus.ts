import { type BusMessage } from '@sigillum/contracts';
import { Kafka, Partitioners, logLevel, type Admin, type KafkaConfig, type LogEntry, type Message, type Producer, type ProducerConfig } from 'kafkajs';
import { TopicProvisioner } from './topic-readiness';
import { checkedTopicPrefix, withoutPrefix } from './topic-prefix';
import { fatalProducerFault } from './producer-faults';
import { defaultLogger, type BusLogger } from '../bus-logger';
import { retryPolicy } from '../delivery-policy';
import { type BusConsumer, type ConsumerOptions, type EventBus } from '../event-bus.port';
import { isTopicName, serializeForPublish } from '../message-validation';
import { toKafkaMessage } from './cloudevents-codec';
import { logKafkajs } from './kafkajs-log';
import { KafkaConsumer, type KafkaConsumerHost } from './kafka-consumer';
import { brokerAdvice, chunked, withTimeout } from './kafka-requests';
import { orderedBatchRunConfig, type KafkaCommitTuning } from './ordered-batch-consumer';
import { ConsumerLagSampler, readKafkaBus, type KafkaBusState } from '../observability/kafka-lag';

/** Group timings, plus how the consumer commits and how many partitions it handles at once (KafkaCommitTuning). */
export interface KafkaConsumerTuning extends KafkaCommitTuning {
  /** Broker default minimum is 6000 ms; default 30000. A dead member holds its partitions this long. */
  readonly sessionTimeout?: number;
  /** Default 3000 ms; keep well under a third of sessionTimeout. */
  readonly heartbeatInterval?: number;
  /** How long the group waits for members to rejoin during a rebalance; default 60000 ms. */
  readonly rebalanceTimeout?: number;
  /** Longest a fetch waits for data; lower means lower latency when idle; default 5000 ms. */
  readonly maxWaitTimeInMs?: number;
  /** How long `consume()` waits for the first group join before returning anyway; default 60000 ms. */
  readonly joinTimeoutMs?: number;
}

export interface KafkaEventBusOptions {
  readonly brokers: readonly string[];
  /** Prefix of the kafkajs client ids; default `sigillum`. */
  readonly clientId?: string;
  /**
   * KAFKA_TOPIC_PREFIX: put before every topic and consumer group name on the wire (several deployments on one
   * cluster), e.g. `staging.` gives `staging.sigillum.party.events` and group `staging.sigillum.projections`. The
   * port stays logical: callers publish to and consume `sigillum.<category>.events` in group `sigillum.<role>`, and
   * delivered messages (dead letters and their headers included) name the logical topic and group. Default ''.
   */
  readonly topicPrefix?: string;
  /** Partitions of topics created on demand; default 3. */
  readonly defaultPartitions?: number;
  /** Per-topic partition counts (by logical topic name), for topics that need more than the default. */
  readonly partitionsByTopic?: Readonly<Record<string, number>>;
  /** Replication factor of created topics; default min(3, brokers in the cluster). */
  readonly replicationFactor?: number;
  readonly consumer?: KafkaConsumerTuning;
  /** Wait before the 2nd attempt of a failing handler, doubling up to `maxBackoffMs`; default 100 / 2000 ms. */
  readonly retryBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** TLS and SASL settings passed to kafkajs as they are; never logged. */
  readonly security?: Pick<KafkaConfig, 'ssl' | 'sasl'>;
  readonly connectionTimeout?: number;
  readonly requestTimeout?: number;
  /** kafkajs retries of a failed request (connect, metadata, produce...) before giving up; default 5. */
  readonly retries?: number;
  /** kafkajs messages at or above this level reach `logger`; default `warn`. */
  readonly logLevel?: 'error' | 'warn' | 'info' | 'debug' | 'nothing';
  readonly logger?: BusLogger;
  /**
   * health(): a cluster probe (describeCluster) younger than this is reported as it is, without asking the
   * brokers again; default 5000 ms.
   */
  readonly healthProbeIntervalMs?: number;
  /** health(): how long it waits for a new probe before reporting "no answer" (the probe goes on); default 600 ms. */
  readonly healthProbeWaitMs?: number;
  /** The kafkajs client; a seam for tests that inject faults. Default `new Kafka(config)`. */
  readonly createClient?: (config: KafkaConfig) => KafkaClient;
}

/** The part of a kafkajs `Kafka` the bus uses. */
export type KafkaClient = Pick<Kafka, 'producer' | 'admin' | 'consumer'>;

/** The producer every send uses: idempotent, one request in flight, topics never auto-created. */
export const PRODUCER_CONFIG: ProducerConfig = {
  idempotent: true, // broker drops retried duplicates; kafkajs then forces acks=-1 and unlimited retries
  maxInFlightRequests: 1, // kafkajs keeps no per-request sequence window, so >1 in flight could reorder
  allowAutoTopicCreation: false, // topics come from ensureTopics with our partition count, never broker defaults
  // Explicit (murmur2, as the Java client) so kafkajs does not warn about its v2 partitioner change.
  createPartitioner: Partitioners.DefaultPartitioner,
};

interface ClusterProbe {
  readonly at: number;
  readonly up: boolean;
  readonly detail: string;
}

/**
 * The event bus on Kafka (kafkajs). Messages are binary-mode CloudEvents keyed by stream id, produced
 * by an idempotent producer with acks=all; topics are created on demand. Each `consume()` is one
 * kafkajs consumer in the given group, handling each partition in order (partitions in parallel) and
 * committing, in batches, only offsets whose handler succeeded or which were dead-lettered
 * (OrderedBatchConsumer).
 */
export class KafkaEventBus implements EventBus, KafkaConsumerHost {
  private readonly kafka: KafkaClient;
  private readonly logger: BusLogger;
  private readonly clientId: string;
  private readonly brokers: readonly string[];
  /** Put before every topic and group name on the wire; '' by default. */
  readonly topicPrefix: string;
  private producer?: Promise<Producer>;
  private admin?: Promise<Admin>;
  /** Topics known to exist, or being created. */
  private readonly provisioner = new TopicProvisioner(() => this.connectedAdmin(), {
    partitionsOf: (wireTopic) => this.partitionsOf(this.logicalTopic(wireTopic)),
    // Read when a topic is created, after the constructor ran.
    replicationFactor: () => this.options.replicationFactor,
  });
  private readonly consumers = new Set<KafkaConsumer>();
  private closed = false;
  /** Producers built so far (1 + rebuilds after fatal errors). */
  private producerGeneration = 0;
  /** The outcome of the last send, whoever made it: the cheap part of health(). */
  private lastSend?: { readonly at: number; readonly ok: boolean; readonly error?: string };
  private lastProbe?: ClusterProbe;
  private probing?: Promise<ClusterProbe>;
  /** The lag gauge of this bus's groups, from the brokers (every 10 s and at scrape time). */
  private readonly lag: ConsumerLagSampler;

  constructor(private readonly options: KafkaEventBusOptions) {
    if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
      throw new Error('KafkaEventBus needs at least one broker, e.g. KAFKA_BROKERS=127.0.0.1:9092 (`bash scripts/kafka.sh start` runs one).');
    }
    this.brokers = options.brokers;
    this.topicPrefix = checkedTopicPrefix(options.topicPrefix);
    this.clientId = options.clientId ?? 'sigillum';
    this.logger = options.logger ?? defaultLogger('KafkaEventBus');
    this.kafka = (options.createClient ?? ((config) => new Kafka(config)))({
      clientId: this.clientId,
      brokers: [...options.brokers],
      ...options.security,
      connectionTimeout: options.connectionTimeout ?? 3_000,
      requestTimeout: options.requestTimeout ?? 30_000,
      retry: options.retries === undefined ? undefined : { retries: options.retries },
      logLevel: LOG_LEVELS[options.logLevel ?? 'warn'],
      logCreator: () => (entry) => this.logKafkajs(entry),
    });
    this.lag = new ConsumerLagSampler(() => this.connectedAdmin(), this.topicPrefix, { logger: this.logger });
  }

  async publish(messages: readonly BusMessage[]): Promise<void> {
    this.assertOpen('publish');
    const data = serializeForPublish(messages);
    if (messages.length === 0) return;
    // By topic on the wire (prefixed).
    const byTopic = new Map<string, Message[]>();
    messages.forEach((message, index) => {
      const topic = this.wireTopic(message.topic);
      const list = byTopic.get(topic) ?? [];
      list.push(toKafkaMessage(message, data[index]));
      byTopic.set(topic, list);
    });
    try {
      await this.ensureTopics([...byTopic.keys()]);
      for (const chunk of chunked(byTopic)) {
        await this.send((producer) => producer.sendBatch({ acks: -1, topicMessages: chunk }));
      }
    } catch (error) {
      throw new Error(
        `Publishing ${messages.length} message(s) to ${[...byTopic.keys()].join(', ')} failed: ${(error as Error).message}. ` +
          `${brokerAdvice(error, this.brokers)}; publishing again is safe.`,
        { cause: error },
      );
    }
  }

  async consume(options: ConsumerOptions): Promise<BusConsumer> {
    this.assertOpen('consume');
    if (typeof options.group !== 'string' || options.group.length === 0) {
      throw new TypeError('consume() needs a non-empty group name, e.g. "sigillum.projections".');
    }
    if (!Array.isArray(options.topics) || options.topics.length === 0 || !options.topics.every(isTopicName)) {
      throw new TypeError(`consume() for group "${options.group}" needs at least one valid topic name (Topics.eventsOf(category)).`);
    }
    if (typeof options.handler !== 'function') throw new TypeError(`consume() for group "${options.group}" needs a handler function.`);
    const policy = retryPolicy(options.maxAttempts, this.options.retryBackoffMs, this.options.maxBackoffMs);
    const topics = [...new Set(options.topics)];
    const tuning = this.options.consumer ?? {};
    // Default concurrency: every partition of the subscribed topics at once (order only matters within one).
    const partitions = topics.reduce((sum, topic) => sum + this.partitionsOf(topic), 0);
    const runConfig = orderedBatchRunConfig(tuning, partitions, `consume() for group "${options.group}"`);
    const wireTopics = topics.map((topic) => this.wireTopic(topic));
    await this.ensureTopics(wireTopics);
    const kafkaConsumer = this.kafka.consumer({
      groupId: this.wireGroup(options.group),
      sessionTimeout: tuning.sessionTimeout,
      heartbeatInterval: tuning.heartbeatInterval,
      rebalanceTimeout: tuning.rebalanceTimeout,
      maxWaitTimeInMs: tuning.maxWaitTimeInMs,
      allowAutoTopicCreation: false,
    });
    const unwatch = this.lag.watch(options.group, topics);
    const consumer = new KafkaConsumer(this, kafkaConsumer, options, wireTopics, policy, () => {
      this.consumers.delete(consumer);
      unwatch();
    });
    this.consumers.add(consumer);
    try {
      await consumer.start(runConfig, tuning.joinTimeoutMs ?? 60_000);
    } catch (error) {
      await consumer.stop().catch(() => undefined);
      throw new Error(
        `Group ${this.wireGroup(options.group)} could not start consuming ${wireTopics.join(', ')}: ${(error as Error).message}. ` +
          `${brokerAdvice(error, this.brokers)}.`,
        { cause: error },
      );
    }
    return consumer;
  }

  /**
   * Cheap: the last cluster probe when it is younger than `healthProbeIntervalMs`, else a new one awaited at most
   * `healthProbeWaitMs` (it goes on in the background and serves the next calls), and the outcome of the last
   * send. Down when the brokers do not answer, or the last send failed and none succeeded since.
   */
  async health(): Promise<{ up: boolean; detail?: string }> {
    if (this.closed) return { up: false, detail: 'kafka bus closed' };
    const interval = this.options.healthProbeIntervalMs ?? 5_000;
    let probe = this.lastProbe;
    if (!probe || Date.now() - probe.at >= interval) {
      this.probing ??= this.probeCluster().finally(() => (this.probing = undefined));
      const wait = this.options.healthProbeWaitMs ?? 600;
      const answered = await withTimeout(this.probing, wait, '').catch(() => undefined);
      probe = answered ?? {
        at: Date.now(),
        up: false,
        detail:
          `brokers ${this.brokers.join(',')}: no answer to describeCluster within ${wait} ms` +
          (this.lastProbe ? ` (last answer ${Math.round((Date.now() - this.lastProbe.at) / 1000)} s ago: ${this.lastProbe.detail})` : ''),
      };
    }
    const send = this.lastSend;
    const producer =
      send === undefined
        ? 'producer idle'
        : send.ok
          ? `last send ok ${Math.round((Date.now() - send.at) / 1000)} s ago`
          : `last send failed ${Math.round((Date.now() - send.at) / 1000)} s ago: ${send.error}`;
    const rebuilt = this.producerGeneration > 1 ? `, producer rebuilt ${this.producerGeneration - 1} time(s)` : '';
    return { up: probe.up && send?.ok !== false, detail: `${probe.detail}; ${producer}${rebuilt}` };
  }

  private async probeCluster(): Promise<ClusterProbe> {
    let probe: ClusterProbe;
    try {
      const cluster = await withTimeout(
        this.connectedAdmin().then((admin) => admin.describeCluster()),
        5_000,
        'no answer to describeCluster within 5 s',
      );
      probe = {
        at: Date.now(),
        up: cluster.brokers.length > 0,
        detail: `kafka cluster ${cluster.clusterId}: ${cluster.brokers.length} broker(s), controller ${cluster.controller ?? 'unknown'}, ${this.consumers.size} consumer(s)`,
      };
    } catch (error) {
      // Reconnect on the next check; a connection still being attempted is released when it settles.
      const stale = this.admin;
      this.admin = undefined;
      stale?.then((admin) => admin.disconnect()).catch(() => undefined);
      probe = {
        at: Date.now(),
        up: false,
        detail: `brokers ${this.brokers.join(',')} unreachable: ${(error as Error).message}. ${brokerAdvice(error, this.brokers)}`,
      };
    }
    this.lastProbe = probe;
    return probe;
  }

  /**
   * Every consumer group and dead-letter topic of the deployment (`<prefix>sigillum.…`) as the brokers know them:
   * per group and topic the committed and log-end offsets and the lag; per `.dlq` topic the records it holds.
   * Rejects after `timeoutMs` (default 3000) when the brokers do not answer.
   */
  async readBusState(timeoutMs = 3_000): Promise<KafkaBusState> {
    this.assertOpen('read the bus state');
    try {
      return await withTimeout(
        this.connectedAdmin().then((admin) => readKafkaBus(admin, this.topicPrefix)),
        timeoutMs,
        `brokers ${this.brokers.join(',')}: no answer within ${timeoutMs} ms`,
      );
    } catch (error) {
      // Said when it is the login or the ACLs; the brokers' addresses are already in the message otherwise.
      const advice = brokerAdvice(error, this.brokers);
      throw new Error(advice.startsWith('Check that the brokers') ? (error as Error).message : `${(error as Error).message}. ${advice}`, { cause: error });
    }
  }

  /** Stops every consumer (in-flight handlers finish, then a final commit), then disconnects the producer and admin client. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lag.close();
    await Promise.all([...this.consumers].map((consumer) => consumer.stop()));
    const disconnect = async (client?: Promise<Producer | Admin>) => {
      try {
        await (await client)?.disconnect();
      } catch {
        // never connected, or the broker is gone: nothing left to release
      }
    };
    await Promise.all([disconnect(this.producer), disconnect(this.admin)]);
  }

  // ---- used by KafkaConsumer ----

  get log(): BusLogger {
    return this.logger;
  }

  /** Creates the topics (names on the wire, prefixed) that this bus has not seen yet; concurrent callers share one creation. */
  ensureTopics(topics: readonly string[]): Promise<void> {
    return this.provisioner.ensure(topics);
  }

  /** The topic on the wire of a logical topic: `<topicPrefix><topic>`. */
  wireTopic(topic: string): string {
    return this.topicPrefix + topic;
  }

  /** The logical topic of a topic on the wire (the prefix removed). */
  logicalTopic(wireTopic: string): string {
    return withoutPrefix(this.topicPrefix, wireTopic);
  }

  /** The consumer group on the wire of a logical group: `<topicPrefix><group>`. */
  wireGroup(group: string): string {
    return this.topicPrefix + group;
  }

  private partitionsOf(logicalTopic: string): number {
    return this.options.partitionsByTopic?.[logicalTopic] ?? this.options.defaultPartitions ?? 3;
  }

  /**
   * Runs one send on the current producer. After a fatal error (fatalProducerFault: the broker refused the
   * producer's id, epoch or sequence, or the producer is disconnected) that producer is dropped, so the next
   * send builds and connects a new idempotent one with a new producer id; the error is still thrown, and the
   * caller publishes again (the relay from its checkpoint): at least once, duplicates carry the same event id.
   */
  async send<T>(operation: (producer: Producer) => Promise<T>): Promise<T> {
    const current = this.connectedProducer();
    try {
      const result = await operation(await current);
      this.lastSend = { at: Date.now(), ok: true };
      return result;
    } catch (error) {
      this.lastSend = { at: Date.now(), ok: false, error: (error as Error).message };
      const fault = fatalProducerFault(error);
      if (fault) this.dropProducer(current, fault);
      throw error;
    }
  }

  /** The current producer, connecting one if there is none (the same promise for every caller until it is dropped). */
  connectedProducer(): Promise<Producer> {
    this.producer ??= (async () => {
      const producer = this.kafka.producer(PRODUCER_CONFIG);
      this.producerGeneration++;
      await producer.connect();
      return producer;
    })();
    const connecting = this.producer;
    connecting.catch(() => this.producer === connecting && (this.producer = undefined));
    return connecting;
  }

  /** Forgets `stale` (unless already replaced) and disconnects it best-effort, without waiting for it. */
  private dropProducer(stale: Promise<Producer>, fault: string): void {
    if (this.producer !== stale) return; // a concurrent send already dropped it
    this.producer = undefined;
    this.logger.warn(
      `Kafka producer dropped after a fatal error (${fault}); the next send connects a new idempotent producer, and what failed is published again.`,
    );
    stale.then((producer) => producer.disconnect()).catch(() => undefined);
  }

  private async connectedAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })();
    this.admin.catch(() => (this.admin = undefined));
    return this.admin;
  }

  private logKafkajs(entry: LogEntry): void {
    logKafkajs(this.logger, entry);
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new Error(`KafkaEventBus (${this.brokers.join(',')}) is closed; create a new bus to ${operation}.`);
  }
}

const LOG_LEVELS = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
} as const;
