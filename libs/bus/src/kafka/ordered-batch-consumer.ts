import type { ConsumerRunConfig, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { consumerLagMessages } from '../observability/bus-metrics';

/**
 * How a Kafka consumer of ours commits and how many partitions it handles at once; shared by KafkaEventBus
 * consumers and KafkaRoleServer. Names and units are those of kafkajs `consumer.run()`.
 */
export interface KafkaCommitTuning {
  /**
   * Partitions handled in parallel by one consumer; order still holds within a partition, hence per key.
   * Default: the partition count of the subscribed topics as configured (3 per topic by default), at most 12.
   */
  readonly partitionsConsumedConcurrently?: number;
  /**
   * Commit the offsets of the messages handled so far at least this often while a fetched batch is being
   * worked through (each batch also ends with a commit); default 1000 ms. After a crash, at most about this
   * much work is delivered again (the handlers dedupe).
   */
  readonly autoCommitInterval?: number;
  /** ... or once this many handled messages are uncommitted, whichever comes first; default 1000. */
  readonly autoCommitThreshold?: number;
}

export const DEFAULT_AUTO_COMMIT_INTERVAL_MS = 1_000;
export const DEFAULT_AUTO_COMMIT_THRESHOLD = 1_000;
/** Upper bound of the default concurrency: more workers than partitions only sit idle. */
export const MAX_DEFAULT_PARTITIONS_CONSUMED_CONCURRENTLY = 12;
/** Default records of one partition handled at once (of different keys), as the embedded bus's groups. */
export const DEFAULT_PARTITION_IN_FLIGHT = 16;

/**
 * The kafkajs run settings of an ordered, at-least-once batch consumer (see OrderedBatchConsumer):
 * kafkajs auto-commit is on, but it only ever commits *resolved* offsets, and nothing is resolved
 * automatically (`eachBatchAutoResolve: false`): an offset is resolved only after its message was
 * handled or dead-lettered.
 */
export function orderedBatchRunConfig(
  tuning: KafkaCommitTuning,
  defaultConcurrency: number,
  what: string,
): Required<Pick<ConsumerRunConfig, 'autoCommit' | 'autoCommitInterval' | 'autoCommitThreshold' | 'eachBatchAutoResolve' | 'partitionsConsumedConcurrently'>> {
  const positive = (name: keyof KafkaCommitTuning, value: number | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`${what}: consumer.${name} must be an integer >= 1 (got ${JSON.stringify(value)}).`);
    }
    return value;
  };
  return {
    autoCommit: true,
    autoCommitInterval: positive('autoCommitInterval', tuning.autoCommitInterval, DEFAULT_AUTO_COMMIT_INTERVAL_MS),
    autoCommitThreshold: positive('autoCommitThreshold', tuning.autoCommitThreshold, DEFAULT_AUTO_COMMIT_THRESHOLD),
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: positive(
      'partitionsConsumedConcurrently',
      tuning.partitionsConsumedConcurrently,
      Math.max(1, Math.min(MAX_DEFAULT_PARTITIONS_CONSUMED_CONCURRENTLY, defaultConcurrency)),
    ),
  };
}

export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
  /** kafkajs heartbeat, for a handler that retries for a while (it only calls the broker once per heartbeatInterval). */
  readonly heartbeat: () => Promise<void>;
}

/**
 * What became of one record. `done`: handled, or written to the dead-letter topic; its offset may be committed.
 * `abandoned`: the consumer is stopping (mid-retry); neither it nor any later record of its partition may be.
 * Throwing (e.g. the dead-letter write failed) also leaves it unresolved: kafkajs fetches it again.
 */
export type RecordOutcome = 'done' | 'abandoned';

/**
 * The `eachBatch` handler of an ordered, at-least-once consumer with batched commits:
 *
 * - the records of a batch (one partition) of one key are handled one after the other, records of different keys
 *   at the same time (up to `maxInFlight`; 1: the whole partition in log order), and two batches of the same
 *   partition never run at once (kafkajs could start a refetched batch while an earlier one is still finishing
 *   after an error), so order holds per key; partitions run in parallel up to `partitionsConsumedConcurrently`;
 * - offsets are resolved in log order, up to the first record not yet `done`, then `commitOffsetsIfNecessary()` commits the
 *   resolved offsets once `autoCommitInterval` / `autoCommitThreshold` is reached, and `heartbeat()` keeps the
 *   membership alive; kafkajs commits only resolved offsets, so a commit never passes an unhandled record;
 * - an `abandoned` record (stopping), a stale batch (a seek) or a stopping runner ends the batch there: the
 *   rest stays unresolved and is fetched again by whoever owns the partition next;
 * - every batch ends by committing what it resolved, before it returns: `drain()` (awaited by stop/close
 *   before leaving the group) therefore includes the final commit.
 */
export class OrderedBatchConsumer {
  private readonly partitionTails = new Map<string, Promise<void>>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly stopping: AbortSignal,
    private readonly handle: (record: KafkaRecord) => Promise<RecordOutcome>,
    private readonly onFinalCommitFailed: (error: unknown) => void,
    /** The (logical) group, labelling the consumer lag gauge; no gauge without it. */
    private readonly group?: string,
    /** Records of one partition handled at once, never two of one key; 1 handles them strictly in log order. */
    private readonly maxInFlight: number = DEFAULT_PARTITION_IN_FLIGHT,
  ) {}

  /** Pass as `eachBatch` to kafkajs `consumer.run()`, with `orderedBatchRunConfig()`. */
  readonly eachBatch = (payload: EachBatchPayload): Promise<void> => {
    const key = `${payload.batch.topic}\u0000${payload.batch.partition}`;
    const previous = this.partitionTails.get(key);
    const run = previous ? previous.then(() => this.process(payload)) : this.process(payload);
    const tail = run.catch(() => undefined);
    this.partitionTails.set(key, tail);
    this.inFlight.add(tail);
    void tail.then(() => {
      this.inFlight.delete(tail);
      if (this.partitionTails.get(key) === tail) this.partitionTails.delete(key);
    });
    return run;
  };

  /** Resolves once every batch being handled has returned, its final commit included. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async process(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, uncommittedOffsets, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    const messages = batch.messages;
    // Records of different keys are handled at the same time (at most maxInFlight), records of one key one after the
    // other; offsets are resolved in log order only, up to the first record not yet done.
    const done: boolean[] = new Array<boolean>(messages.length).fill(false);
    const keyTails = new Map<string, Promise<void>>();
    const running = new Set<Promise<void>>();
    let resolved = 0;
    /** Index of the first record abandoned or failed: neither it nor any record after it is resolved. */
    let stopAt = messages.length;
    let failure: { error: unknown } | undefined;
    const advance = () => {
      while (resolved < stopAt && done[resolved]) {
        resolveOffset(messages[resolved].offset);
        if (this.group !== undefined) {
          // What is left on the partition as of this batch's high watermark: 0 once caught up.
          const lag = Math.max(0, Number(batch.highWatermark) - 1 - Number(messages[resolved].offset));
          consumerLagMessages.set({ group: this.group, topic, partition: String(partition) }, lag);
        }
        resolved += 1;
      }
    };
    for (let index = 0; index < messages.length; index++) {
      if (this.stopping.aborted || !isRunning() || isStale() || index >= stopAt) break;
      while (running.size >= this.maxInFlight) await Promise.race(running);
      if (index >= stopAt) break;
      const message = messages[index];
      const key = message.key === null || message.key === undefined ? '' : message.key.toString('base64');
      const previous = keyTails.get(key);
      const work = (async () => {
        if (previous) await previous;
        if (index >= stopAt) return; // an earlier record of this key (or of the batch) did not get through
        try {
          const outcome = await this.handle({ topic, partition, message, heartbeat });
          if (outcome === 'abandoned') stopAt = Math.min(stopAt, index);
          else done[index] = true;
          advance();
        } catch (error) {
          // Throwing leaves this record unresolved; kafkajs commits the resolved ones and fetches from there again.
          stopAt = Math.min(stopAt, index);
          failure ??= { error };
        }
      })();
      keyTails.set(key, work);
      running.add(work);
      void work.then(async () => {
        running.delete(work);
        if (keyTails.get(key) === work) keyTails.delete(key);
      });
      advance();
      if (this.stopping.aborted) break;
      await commitOffsetsIfNecessary();
      await heartbeat();
    }
    await Promise.all(running);
    advance();
    if (failure) throw failure.error;
    try {
      // kafkajs would commit after we return too, but stop() could not wait for that commit.
      await commitOffsetsIfNecessary(uncommittedOffsets());
    } catch (error) {
      // Stopping: the records stay uncommitted and are delivered again (at least once); nothing to retry here.
      if (!this.stopping.aborted) throw error;
      this.onFinalCommitFailed(error);
    }
  }
}
