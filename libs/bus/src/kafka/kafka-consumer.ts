import { Topics } from '@sigillum/contracts';
import type { Consumer, KafkaMessage, Producer } from 'kafkajs';
import type { BusLogger } from '../bus-logger';
import { deadLetterHeaders, deliverWithRetries, poisonReason, type DeliveryOutcome, type RetryPolicy } from '../delivery-policy';
import { PoisonMessageError, type BusConsumer, type ConsumerOptions } from '../event-bus.port';
import { fromKafkaMessage } from './cloudevents-codec';
import { passesOverRecord } from '../handled-types';
import { withTimeout } from './kafka-requests';
import { recordDeadLetter } from '../observability/bus-metrics';
import { OrderedBatchConsumer, type orderedBatchRunConfig, type KafkaRecord, type RecordOutcome } from './ordered-batch-consumer';

/** What a consumer needs of its KafkaEventBus (which implements it): names on the wire, topics, the producer, the log. */
export interface KafkaConsumerHost {
  readonly log: BusLogger;
  wireGroup(group: string): string;
  wireTopic(topic: string): string;
  logicalTopic(wireTopic: string): string;
  ensureTopics(topics: readonly string[]): Promise<void>;
  send<T>(operation: (producer: Producer) => Promise<T>): Promise<T>;
}

/**
 * One `consume()` on Kafka: a kafkajs consumer in the group, its records handled per partition in order by an
 * OrderedBatchConsumer (retries, dead letters), committed only once done; stop drains and commits before leaving.
 */
export class KafkaConsumer implements BusConsumer {
  private readonly controller = new AbortController();
  private readonly batches: OrderedBatchConsumer;
  private stopping?: Promise<void>;
  /** The group on the wire (prefixed): what the logs name. */
  private readonly group: string;

  /** `topics`: the subscribed topics on the wire (prefixed). */
  constructor(
    private readonly bus: KafkaConsumerHost,
    private readonly consumer: Consumer,
    private readonly options: ConsumerOptions,
    private readonly topics: readonly string[],
    private readonly policy: RetryPolicy,
    private readonly onStopped: () => void,
  ) {
    this.group = bus.wireGroup(options.group);
    this.batches = new OrderedBatchConsumer(
      this.controller.signal,
      (record) => this.handle(record),
      (error) =>
        this.bus.log.warn(`Group ${this.group} could not commit on stop (${(error as Error).message}); the last messages handled will be delivered again.`),
      options.group,
      options.maxInFlight ?? 1,
    );
  }

  async start(runConfig: ReturnType<typeof orderedBatchRunConfig>, joinTimeoutMs: number): Promise<void> {
    const { GROUP_JOIN, CRASH } = this.consumer.events;
    const joined = new Promise<void>((resolve) => {
      const remove = this.consumer.on(GROUP_JOIN, () => {
        remove();
        resolve();
      });
    });
    this.consumer.on(CRASH, ({ payload }) => {
      this.bus.log.error(
        `Group ${this.group} consumer crashed: ${payload.error.message}` +
          (payload.restart ? '; kafkajs restarts it' : '; it stopped, restart the process or call consume() again'),
      );
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.topics], fromBeginning: this.options.fromBeginning ?? true });
    await this.consumer.run({ ...runConfig, eachBatch: this.batches.eachBatch });
    // Resolving only once the group is joined makes "consume, then publish" deliver, as on the embedded bus.
    const timedOut = await withTimeout(
      joined.then(() => false),
      joinTimeoutMs,
      '',
    ).catch(() => true);
    if (timedOut) {
      this.bus.log.warn(`Group ${this.group} has not joined after ${joinTimeoutMs} ms; it keeps trying in the background.`);
    }
  }

  /**
   * Pauses fetching, lets the in-flight handlers finish (a handler between retries gives up, uncommitted),
   * commits what was handled, then leaves the group. kafkajs would drop a commit issued after its own stop()
   * began, which is why the wait and the final commit happen here, before disconnect().
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.controller.abort();
      try {
        this.consumer.pause(this.topics.map((topic) => ({ topic })));
      } catch {
        // not running yet: nothing to pause
      }
      await this.batches.drain();
      try {
        await this.consumer.disconnect();
      } catch (error) {
        this.bus.log.warn(`Group ${this.group} did not leave cleanly (${(error as Error).message}); its partitions move after the session timeout.`);
      } finally {
        this.onStopped();
      }
    })();
    return this.stopping;
  }

  /** One record: decode, deliver with retries, dead-letter if need be. The OrderedBatchConsumer resolves and commits it. */
  private async handle({ topic: wireTopic, partition, message, heartbeat }: KafkaRecord): Promise<RecordOutcome> {
    // Delivered (and dead-lettered) under its logical name.
    const topic = this.bus.logicalTopic(wireTopic);
    if (passesOverRecord(this.options.handledTypes, topic, message.headers, this.options.group)) return 'done';
    let outcome: DeliveryOutcome;
    try {
      const delivered = fromKafkaMessage(topic, partition, message);
      outcome = await deliverWithRetries(delivered, this.options.handler, this.policy, this.controller.signal, { beforeRetry: heartbeat });
    } catch (error) {
      if (!(error instanceof PoisonMessageError)) throw error;
      outcome = { kind: 'dead-letter', attempts: 0, reason: poisonReason(error) };
    }
    // Stopping between attempts: leave it (and the rest of its partition) uncommitted for whoever owns the partition next.
    if (outcome.kind === 'abandoned') return 'abandoned';
    // Throwing here (the dead letter could not be written) leaves it unresolved: kafkajs delivers it again.
    if (outcome.kind === 'dead-letter') await this.deadLetter(topic, partition, message, outcome);
    return 'done';
  }

  /**
   * The original record, byte for byte (it may not even decode), plus the DeadLetterHeaders, to `<topic>.dlq` on the
   * wire (prefixed); the headers name the logical topic and group, as the bus delivers them.
   */
  private async deadLetter(topic: string, partition: number, message: KafkaMessage, outcome: { attempts: number; reason: string }): Promise<void> {
    const deadLetterTopic = this.bus.wireTopic(Topics.deadLetterOf(topic));
    const headers = {
      ...message.headers,
      ...deadLetterHeaders({
        reason: outcome.reason,
        originalTopic: topic,
        originalPartition: partition,
        originalOffset: message.offset,
        group: this.options.group,
        attempts: outcome.attempts,
      }),
    };
    await this.bus.ensureTopics([deadLetterTopic]);
    await this.bus.send((producer) => producer.send({ topic: deadLetterTopic, acks: -1, messages: [{ key: message.key, value: message.value, headers }] }));
    recordDeadLetter(topic, this.options.group);
    this.bus.log.warn(`Group ${this.group} dead-lettered ${topic}[${partition}]@${message.offset} to ${deadLetterTopic}: ${outcome.reason}`);
  }
}
