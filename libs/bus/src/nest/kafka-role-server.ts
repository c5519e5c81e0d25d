import { Logger, type Type } from '@nestjs/common';
import { ServerKafka, type KafkaOptions } from '@nestjs/microservices';
import { Topics, type DeliveredMessage } from '@sigillum/contracts';
import { Partitioners, logLevel, type Admin, type Consumer, type KafkaConfig, type Producer } from 'kafkajs';
import { isObservable, lastValueFrom } from 'rxjs';
import type { BusLogger } from '../bus-logger';
import { type DirectHandler, directHandlers, handledTypesOf, handlerCount } from './direct-handlers';
import { passesOverRecord } from '../handled-types';
import { deadLetterHeaders, deliverWithRetries, isPoison, poisonReason, retryPolicy, type DeliveryOutcome, type RetryPolicy } from '../delivery-policy';
import type { KafkaConsumerTuning } from '../kafka/kafka-event-bus';
import { fromKafkaMessage } from '../kafka/cloudevents-codec';
import { TopicProvisioner } from '../kafka/topic-readiness';
import { logKafkajs } from '../kafka/kafkajs-log';
import { recordDeadLetter } from '../observability/bus-metrics';
import { ConsumerLagSampler } from '../observability/kafka-lag';
import { checkedTopicPrefix, withoutPrefix } from '../kafka/topic-prefix';
import {
  DEFAULT_PARTITION_IN_FLIGHT,
  OrderedBatchConsumer,
  orderedBatchRunConfig,
  type KafkaRecord,
  type RecordOutcome,
} from '../kafka/ordered-batch-consumer';
import { BusContext, roleGroup, roleTransportId, roleViewGroup, roleViewTransportId } from './bus-transport';

export interface KafkaRoleServerOptions {
  /** The role whose `@RoleEventPattern(role, topic)` handlers this server serves, in consumer group `sigillum.<role>`. */
  readonly role: string;
  /**
   * Serve the role's `@RoleViewPattern(role, topic)` handlers instead (local views: every instance needs every
   * event), in a group of this instance alone, `sigillum.<role>.view.<instanceId>`, always from the beginning when
   * the group is new. Keep the instance id stable across restarts of an instance (its local database), or each
   * start replays every retained event into the view (harmless, the views apply each event once, but slow).
   */
  readonly view?: { readonly instanceId: string };
  readonly brokers: readonly string[];
  /**
   * KAFKA_TOPIC_PREFIX: put before every topic and the group name on the wire (`<prefix>sigillum.<role>`); handlers
   * are still looked up, and messages delivered, by the logical topic. Default ''.
   */
  readonly topicPrefix?: string;
  /** Prefix of the kafkajs client id, which becomes `<clientId>.<role>` (`<clientId>.<role>.view` for views); default `sigillum`. */
  readonly clientId?: string;
  /** Attempts before a failing message is dead-lettered; default 3. */
  readonly maxAttempts?: number;
  /** Wait before the 2nd attempt, doubling up to `maxBackoffMs`; default 100 / 2000 ms. */
  readonly retryBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Partitions of the topics (handler topics, dead-letter topics) this server creates when missing; default 3. */
  readonly partitions?: number;
  /** Replication factor of created topics; default min(3, brokers in the cluster). */
  readonly replicationFactor?: number;
  /** Start from the earliest retained message when the group has no committed offset; default true (always for `view`). */
  readonly fromBeginning?: boolean;
  /**
   * Group timings and commit batching. `partitionsConsumedConcurrently` defaults to the partition count of the
   * role's topics (`partitions` each, at most 12); `autoCommitInterval` / `autoCommitThreshold` to 1000 ms / 1000.
   */
  readonly consumer?: KafkaConsumerTuning;
  /** TLS and SASL settings passed to kafkajs as they are; never logged. */
  readonly security?: Pick<KafkaConfig, 'ssl' | 'sasl'>;
  readonly connectionTimeout?: number;
  readonly requestTimeout?: number;
  /** kafkajs messages at or above this level reach `logger`; default `warn`. */
  readonly logLevel?: 'error' | 'warn' | 'info' | 'debug' | 'nothing';
  readonly logger?: BusLogger;
  /**
   * The application's instance of a controller class (`(type) => app.get(type, { strict: false })`): with it, handlers
   * are called directly, not through Nest's RPC pipeline (see direct-handlers.ts); without it, through the pipeline.
   */
  readonly resolveInstance?: (type: Type<unknown>) => unknown;
  /**
   * Records of one partition handled at once, never two of one key, per key in order (as the embedded transport's
   * groups); default 16. 1 handles each partition in log order.
   */
  readonly maxInFlight?: number;
}

const LOG_LEVELS = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
} as const;

/**
 * Serves one role's `@RoleEventPattern` handlers with Nest's own Kafka transport (`ServerKafka`, kafkajs),
 * under our contract rather than Nest's JSON request/reply conventions:
 *
 * - the consumer group is `sigillum.<role>` and the subscription is the topics of that role's handlers only
 *   (Nest registers on this server only the handlers whose transport id is `roleTransportId(role)`); with `view`,
 *   the `@RoleViewPattern` handlers (`roleViewTransportId(role)`) in the instance's own group
 *   `sigillum.<role>.view.<instanceId>`, so that every instance sees every event;
 * - with `topicPrefix`, topics and the group carry the prefix on the wire, handlers and messages the logical names;
 * - records are binary-mode CloudEvents, decoded by `fromKafkaMessage` into the DeliveredMessage the
 *   handler receives as payload (with a `BusContext`), exactly as under `BusTransport`; no reply topic is
 *   read or written, Nest's deserializer and reply publisher are never used;
 * - at least once: a record's offset is resolved only after its handler succeeded or it was written to
 *   `<topic>.dlq`, and only resolved offsets are committed, in batches (OrderedBatchConsumer: every
 *   `autoCommitInterval` ms or `autoCommitThreshold` records, at the end of each fetched batch, and on close);
 * - per key order: one partition is handled one record at a time, retries included; partitions in parallel;
 * - retries with backoff then dead-letter with the reason headers (delivery-policy.ts); a PoisonMessageError
 *   (or an undecodable record) is dead-lettered at once; the consumer goes on with the next record.
 *
 * Handler errors reach this server because neither `handleEvent` (which would log and swallow them) nor
 * `handleMessage` is used: `handleRecord` calls the handler itself and awaits its result.
 */
export class KafkaRoleServer extends ServerKafka {
  private readonly role: string;
  private readonly topicPrefix: string;
  /** The group as the code names it (BusContext.getGroup(), dead-letter headers): `sigillum.<role>[.view.<instanceId>]`. */
  readonly logicalGroup: string;
  private readonly policy: RetryPolicy;
  private readonly busLog: BusLogger;
  private readonly partitions: number;
  private controller = new AbortController();
  private batches?: OrderedBatchConsumer;
  private admin?: Promise<Admin>;
  private readonly provisioner = new TopicProvisioner(() => this.connectedAdmin(), {
    partitionsOf: () => this.partitions,
    // Read when a topic is created, after the constructor ran.
    replicationFactor: () => this.roleOptions.replicationFactor,
  });
  private subscribed: string[] = [];
  /** The lag gauge of this server's group, from the brokers (every 10 s and at scrape time). */
  private readonly lag: ConsumerLagSampler;
  private unwatchLag?: () => void;
  /** Route of each topic seen, as Nest normalises it (its JSON.parse attempt throws for a plain topic name: costly per message). */
  private readonly routes = new Map<string, string>();
  /** Per topic, the only types its handlers act on (see `RoleEventPattern`); the others are passed over undecoded. */
  private handledTypes = new Map<string, ReadonlySet<string>>();
  /** The handlers called directly, by topic (the others go through Nest's pipeline). */
  private direct = new Map<string, DirectHandler>();

  constructor(private readonly roleOptions: KafkaRoleServerOptions) {
    if (!Array.isArray(roleOptions.brokers) || roleOptions.brokers.length === 0) {
      throw new Error(`KafkaRoleServer for role ${roleOptions.role} needs at least one broker, e.g. KAFKA_BROKERS=127.0.0.1:9092.`);
    }
    const view = roleOptions.view;
    if (view !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(view.instanceId ?? '')) {
      throw new TypeError(`KafkaRoleServer for role ${roleOptions.role}: view.instanceId must be 1-64 letters, digits, '.', '_' or '-'`);
    }
    const topicPrefix = checkedTopicPrefix(roleOptions.topicPrefix);
    const logicalGroup = view ? roleViewGroup(roleOptions.role, view.instanceId) : roleGroup(roleOptions.role);
    const busLog: BusLogger = roleOptions.logger ?? new Logger(`KafkaRoleServer:${roleOptions.role}${view ? '.view' : ''}`);
    const tuning = roleOptions.consumer ?? {};
    const client: KafkaConfig = {
      clientId: `${roleOptions.clientId ?? 'sigillum'}.${roleOptions.role}${view ? '.view' : ''}`,
      brokers: [...roleOptions.brokers],
      ...roleOptions.security,
      connectionTimeout: roleOptions.connectionTimeout ?? 3_000,
      requestTimeout: roleOptions.requestTimeout ?? 30_000,
      logLevel: LOG_LEVELS[roleOptions.logLevel ?? 'warn'],
      logCreator: () => (entry) => logKafkajs(busLog, entry),
    };
    const options: Required<KafkaOptions>['options'] = {
      // The group and client id are ours exactly: no "-server" suffix.
      postfixId: '',
      client: client as NonNullable<KafkaOptions['options']>['client'],
      consumer: {
        groupId: topicPrefix + logicalGroup,
        sessionTimeout: tuning.sessionTimeout,
        heartbeatInterval: tuning.heartbeatInterval,
        rebalanceTimeout: tuning.rebalanceTimeout,
        maxWaitTimeInMs: tuning.maxWaitTimeInMs,
        // Topics come from ensureTopics with our partition count, never broker defaults.
        allowAutoTopicCreation: false,
      },
      // A view must see every retained event: a new instance's group starts from the beginning.
      subscribe: { fromBeginning: view ? true : (roleOptions.fromBeginning ?? true) },
      // Replaced in bindEvents by orderedBatchRunConfig (commits of resolved offsets only, eachBatch).
      run: { autoCommit: false },
      // Only the dead-letter records are produced: idempotent, hence acks=all, one request in flight.
      producer: {
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner as never,
      },
    };
    super(options);
    this.role = roleOptions.role;
    this.topicPrefix = topicPrefix;
    this.logicalGroup = logicalGroup;
    this.transportId = view ? roleViewTransportId(roleOptions.role) : roleTransportId(roleOptions.role);
    this.policy = retryPolicy(roleOptions.maxAttempts, roleOptions.retryBackoffMs, roleOptions.maxBackoffMs);
    this.partitions = roleOptions.partitions ?? 3;
    this.busLog = busLog;
    this.lag = new ConsumerLagSampler(() => this.connectedAdmin(), topicPrefix, { logger: busLog });
  }

  /** The consumer group on the wire: `<topicPrefix>sigillum.<role>` (or `...<role>.view.<instanceId>`). */
  get group(): string {
    return this.groupId;
  }

  /** The topics this server consumes, logical: those of the role's handlers. */
  get topics(): readonly string[] {
    return [...this.getHandlers().keys()];
  }

  /** The topics this server consumes on the wire: `<topicPrefix><topic>`. */
  get wireTopics(): readonly string[] {
    return this.topics.map((topic) => this.topicPrefix + topic);
  }

  override async listen(callback: (error?: unknown, ...optionalParams: unknown[]) => void): Promise<void> {
    // A role without handlers on this transport needs no consumer, no producer, no group.
    if (this.topics.length === 0) return callback();
    const resolve = this.roleOptions.resolveInstance;
    const chainLength = (topic: string) => handlerCount(this.handlerFor(topic));
    this.handledTypes = handledTypesOf(this.transportId as symbol, this.topics, chainLength);
    if (resolve) {
      this.direct = directHandlers(this.transportId as symbol, this.topics, resolve, chainLength, (topic, why) =>
        this.busLog.log(`Group ${this.logicalGroup}: ${topic} through Nest's pipeline (${why})`),
      );
    }
    this.controller = new AbortController();
    return super.listen(callback);
  }

  /** Subscribes to the role's topics only (created first, with our partition count) and runs the ordered batch consumer. */
  override async bindEvents(consumer: Parameters<ServerKafka['bindEvents']>[0]): Promise<void> {
    const topics = this.wireTopics;
    await this.ensureTopics(topics);
    const kafkaConsumer = consumer as unknown as Consumer;
    const joined = new Promise<void>((resolve) => {
      const remove = kafkaConsumer.on(kafkaConsumer.events.GROUP_JOIN, () => {
        remove();
        resolve();
      });
    });
    const runConfig = orderedBatchRunConfig(this.roleOptions.consumer ?? {}, topics.length * this.partitions, `KafkaRoleServer for role ${this.role}`);
    const controller = this.controller;
    const batches = new OrderedBatchConsumer(
      controller.signal,
      (record) => this.handleRecord(record, controller.signal),
      (error) =>
        this.busLog.warn(`Group ${this.group} could not commit on close (${(error as Error).message}); the last records handled will be delivered again.`),
      this.logicalGroup,
      this.roleOptions.maxInFlight ?? DEFAULT_PARTITION_IN_FLIGHT,
    );
    this.batches = batches;
    await kafkaConsumer.subscribe({ ...this.options.subscribe, topics: [...topics] });
    this.subscribed = [...topics];
    await kafkaConsumer.run({ ...runConfig, eachBatch: batches.eachBatch });
    this.unwatchLag?.();
    this.unwatchLag = this.lag.watch(this.logicalGroup, this.topics);
    // Listening only once the group is joined makes "start, then publish" deliver, as with BusTransport.
    const joinTimeoutMs = this.roleOptions.consumer?.joinTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      joined.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), joinTimeoutMs))),
    ]).finally(() => clearTimeout(timer));
    if (timedOut) this.busLog.warn(`Group ${this.group} has not joined after ${joinTimeoutMs} ms; it keeps trying in the background.`);
    this.busLog.debug?.(`Group ${this.group} consuming ${topics.join(', ')}`);
  }

  /** Not used: records go through `handleRecord`, never through Nest's JSON request/reply handling. */
  override async handleMessage(): Promise<void> {
    throw new Error(`KafkaRoleServer for role ${this.role} consumes with eachBatch; handleMessage is not used.`);
  }

  /**
   * One record: decode, deliver with retries, dead-letter if need be; the OrderedBatchConsumer then resolves and
   * commits it. Throwing (the dead-letter write failed) leaves it unresolved: kafkajs delivers the record again.
   */
  private async handleRecord({ topic: wireTopic, partition, message, heartbeat }: KafkaRecord, stopping: AbortSignal): Promise<RecordOutcome> {
    // Handlers are found, and messages delivered and dead-lettered, by the logical topic.
    const topic = withoutPrefix(this.topicPrefix, wireTopic);
    if (passesOverRecord(this.handledTypes, topic, message.headers, this.logicalGroup)) return 'done';
    let outcome: DeliveryOutcome;
    try {
      const delivered = fromKafkaMessage(topic, partition, message);
      outcome = await deliverWithRetries(delivered, (m) => this.dispatch(m), this.policy, stopping, {
        beforeRetry: heartbeat,
        onAttemptFailed: (error, attempt) =>
          isPoison(error) || attempt >= this.policy.maxAttempts
            ? undefined
            : this.busLog.warn(`Group ${this.group} ${topic}[${partition}]@${message.offset} attempt ${attempt} failed: ${describe(error)}`),
      });
    } catch (error) {
      if (!isPoison(error)) throw error;
      outcome = { kind: 'dead-letter', attempts: 0, reason: poisonReason(error) };
    }
    // Stopping between attempts: leave it (and the rest of its partition) uncommitted for whoever owns the partition next.
    if (outcome.kind === 'abandoned') return 'abandoned';
    if (outcome.kind === 'dead-letter') await this.deadLetter(topic, partition, message, outcome);
    return 'done';
  }

  /**
   * Pauses fetching, lets the in-flight records finish (a record between retries is given up, uncommitted),
   * commits what was handled, then leaves the group and disconnects.
   */
  override async close(): Promise<void> {
    this.controller.abort();
    this.unwatchLag?.();
    this.unwatchLag = undefined;
    try {
      if (this.subscribed.length > 0) (this.consumer as unknown as Consumer | null)?.pause(this.subscribed.map((topic) => ({ topic })));
    } catch {
      // not running: nothing to pause
    }
    await this.batches?.drain();
    this.batches = undefined;
    const admin = this.admin;
    this.admin = undefined;
    await admin?.then((client) => client.disconnect()).catch(() => undefined);
    try {
      await super.close();
    } catch (error) {
      this.busLog.warn(`Group ${this.group} did not leave cleanly (${(error as Error).message}); its partitions move after the session timeout.`);
    }
    this.subscribed = [];
    this.provisioner.forget();
  }

  /** The role's handler for the record's topic, called with the DeliveredMessage; its error (or stream error) is rethrown. */
  /** `getHandlerByPattern(topic)`, with the topic's route computed once. */
  private handlerFor(topic: string): ReturnType<ServerKafka['getHandlerByPattern']> {
    let route = this.routes.get(topic);
    if (route === undefined) {
      route = this.getRouteFromPattern(topic);
      this.routes.set(topic, route);
    }
    return this.messageHandlers.get(route) ?? null;
  }

  private async dispatch(message: DeliveredMessage): Promise<void> {
    const handler = this.handlerFor(message.topic);
    if (!handler) throw new Error(`No @EventPattern handler for topic ${message.topic} in role ${this.role}`);
    const context = new BusContext([message, this.logicalGroup]);
    const direct = this.direct.get(message.topic);
    await this.onProcessingStartHook(this.transportId, context, async () => {
      try {
        if (direct) return await direct(message, () => context);
        const result = await handler(message, context);
        if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
      } finally {
        this.onProcessingEndHook?.(this.transportId, context);
      }
    });
  }

  /**
   * The original record, byte for byte (it may not even decode), plus the DeadLetterHeaders (logical topic and
   * group, as delivered), to `<topicPrefix><topic>.dlq`.
   */
  private async deadLetter(topic: string, partition: number, message: KafkaRecord['message'], outcome: { attempts: number; reason: string }): Promise<void> {
    const deadLetterTopic = this.topicPrefix + Topics.deadLetterOf(topic);
    const headers = {
      ...message.headers,
      ...deadLetterHeaders({
        reason: outcome.reason,
        originalTopic: topic,
        originalPartition: partition,
        originalOffset: message.offset,
        group: this.logicalGroup,
        attempts: outcome.attempts,
      }),
    };
    await this.ensureTopics([deadLetterTopic]);
    const producer = this.producer as unknown as Producer;
    await producer.send({ topic: deadLetterTopic, acks: -1, messages: [{ key: message.key, value: message.value, headers }] });
    recordDeadLetter(topic, this.logicalGroup);
    this.busLog.warn(`Group ${this.group} dead-lettered ${topic}[${partition}]@${message.offset} to ${deadLetterTopic}: ${outcome.reason}`);
  }

  private ensureTopics(topics: readonly string[]): Promise<void> {
    return this.provisioner.ensure(topics);
  }

  private connectedAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      if (!this.client) throw new Error(`KafkaRoleServer for role ${this.role} is not listening`);
      const admin = (this.client as unknown as { admin(): Admin }).admin();
      await admin.connect();
      return admin;
    })();
    this.admin.catch(() => (this.admin = undefined));
    return this.admin;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
