import { AssignerProtocol, type Admin } from 'kafkajs';
import type { BusLogger } from '../bus-logger';
import { withTimeout } from '../kafka/kafka-requests';
import { withoutPrefix } from '../kafka/topic-prefix';
import { consumerLagMessages, type LagSource, registerLagSource } from './bus-metrics';

/**
 * Consumer lag and dead letters as the Kafka brokers know them (kafkajs admin: fetchOffsets, fetchTopicOffsets,
 * listGroups, describeGroups): what `kafka-consumer-groups.sh --describe` prints, for the console and the lag gauge.
 * Groups and topics are named logically (the KAFKA_TOPIC_PREFIX taken off), as the code and the metrics name them.
 */

export interface PartitionLag {
  readonly partition: number;
  /** The group's committed offset (the next record it will read); null when it committed none on this partition. */
  readonly committed: number | null;
  /** First retained offset of the partition. */
  readonly start: number;
  /** Log-end offset (high watermark): the offset the next record written will get. */
  readonly end: number;
  /** Records still to handle: end − committed (from the first retained one when none is committed, or when retention deleted past it). */
  readonly lag: number;
}

export interface TopicLag {
  readonly group: string;
  readonly topic: string;
  /** Sums over the topic's partitions (a partition without a commit counts from its first retained offset). */
  readonly committed: number;
  readonly end: number;
  readonly lag: number;
  readonly partitions: readonly PartitionLag[];
}

export interface DeadLetterCount {
  /** The dead-letter topic, `<topic>.dlq`. */
  readonly topic: string;
  /** Records it retains (log-end − first retained offset, over its partitions). */
  readonly count: number;
}

export interface KafkaBusState {
  readonly lag: readonly TopicLag[];
  readonly deadLetters: readonly DeadLetterCount[];
}

/** The first retained and log-end offsets of each partition of a topic (on the wire), asked once per reading. */
class TopicOffsets {
  private readonly byTopic = new Map<string, Promise<Map<number, { start: number; end: number }>>>();

  constructor(private readonly admin: Admin) {}

  of(wireTopic: string): Promise<Map<number, { start: number; end: number }>> {
    let offsets = this.byTopic.get(wireTopic);
    if (!offsets) {
      offsets = this.admin
        .fetchTopicOffsets(wireTopic)
        .then((partitions) => new Map(partitions.map((p) => [p.partition, { start: Number(p.low), end: Number(p.high) }])));
      this.byTopic.set(wireTopic, offsets);
    }
    return offsets;
  }
}

function topicLag(group: string, topic: string, ends: Map<number, { start: number; end: number }>, committed: Map<number, number>): TopicLag {
  const partitions = [...ends.entries()]
    .sort(([a], [b]) => a - b)
    .map(([partition, { start, end }]): PartitionLag => {
      const offset = committed.get(partition);
      const from = Math.max(offset ?? start, start);
      return { partition, committed: offset ?? null, start, end, lag: Math.max(0, end - from) };
    });
  return {
    group,
    topic,
    committed: partitions.reduce((sum, p) => sum + Math.max(p.committed ?? p.start, p.start), 0),
    end: partitions.reduce((sum, p) => sum + p.end, 0),
    lag: partitions.reduce((sum, p) => sum + p.lag, 0),
    partitions,
  };
}

/**
 * The lag of one group (logical name) on `topics` (logical), or on every topic it committed offsets on when none
 * are given. `offsets` is shared by the groups of one reading.
 */
async function readGroupLag(admin: Admin, prefix: string, group: string, topics: readonly string[] | undefined, offsets: TopicOffsets): Promise<TopicLag[]> {
  const fetched = await admin.fetchOffsets({ groupId: prefix + group, ...(topics && { topics: topics.map((topic) => prefix + topic) }) });
  const byTopic = new Map<string, Map<number, number>>(
    fetched.map(({ topic, partitions }) => [
      topic,
      new Map(partitions.filter((p) => Number(p.offset) >= 0).map((p): [number, number] => [p.partition, Number(p.offset)])),
    ]),
  );
  for (const topic of topics ?? []) if (!byTopic.has(prefix + topic)) byTopic.set(prefix + topic, new Map());
  const rows = await Promise.all(
    [...byTopic.entries()].map(async ([wireTopic, committed]) => topicLag(group, withoutPrefix(prefix, wireTopic), await offsets.of(wireTopic), committed)),
  );
  return rows.sort((a, b) => a.topic.localeCompare(b.topic));
}

/** The lag of these groups (logical names), each on its topics (logical; every topic it committed on when omitted). */
export async function readConsumerLag(
  admin: Admin,
  prefix: string,
  groups: readonly { readonly group: string; readonly topics?: readonly string[] }[],
): Promise<TopicLag[]> {
  const offsets = new TopicOffsets(admin);
  const rows = await Promise.all(groups.map(({ group, topics }) => readGroupLag(admin, prefix, group, topics, offsets)));
  return rows.flat();
}

/**
 * The whole deployment as the brokers know it: every consumer group named `<prefix>sigillum.…` with the topics it
 * committed on or its members subscribe to, and every dead-letter topic `<prefix>sigillum.….dlq` that holds records.
 */
export async function readKafkaBus(admin: Admin, prefix: string): Promise<KafkaBusState> {
  const ours = `${prefix}sigillum.`;
  const { groups } = await admin.listGroups();
  const groupIds = groups
    .filter((g) => g.groupId.startsWith(ours) && (g.protocolType === 'consumer' || g.protocolType === ''))
    .map((g) => g.groupId)
    .sort();
  const subscribed = new Map<string, Set<string>>();
  if (groupIds.length > 0) {
    const described = await admin.describeGroups(groupIds);
    for (const group of described.groups) {
      const topics = new Set<string>();
      for (const member of group.members) {
        try {
          for (const topic of AssignerProtocol.MemberMetadata.decode(member.memberMetadata)?.topics ?? []) topics.add(withoutPrefix(prefix, topic));
        } catch {
          // not a consumer's metadata: its committed topics still show
        }
      }
      subscribed.set(group.groupId, topics);
    }
  }
  const offsets = new TopicOffsets(admin);
  const lag = (
    await Promise.all(
      groupIds.map(async (groupId) => {
        const group = withoutPrefix(prefix, groupId);
        const committed = await readGroupLag(admin, prefix, group, undefined, offsets);
        const missing = [...(subscribed.get(groupId) ?? [])].filter((topic) => !committed.some((row) => row.topic === topic));
        const idle = missing.length > 0 ? await readGroupLag(admin, prefix, group, missing, offsets) : [];
        return [...committed, ...idle].sort((a, b) => a.topic.localeCompare(b.topic));
      }),
    )
  ).flat();
  const dlqTopics = (await admin.listTopics()).filter((topic) => topic.startsWith(ours) && topic.endsWith('.dlq')).sort();
  const deadLetters = (
    await Promise.all(
      dlqTopics.map(async (wireTopic) => {
        const partitions = await offsets.of(wireTopic);
        return { topic: withoutPrefix(prefix, wireTopic), count: [...partitions.values()].reduce((sum, p) => sum + Math.max(0, p.end - p.start), 0) };
      }),
    )
  ).filter((row) => row.count > 0);
  return { lag, deadLetters };
}

export interface ConsumerLagSamplerOptions {
  /** How often the gauge is refreshed while a group is watched; default 10000 ms. */
  readonly intervalMs?: number;
  /** How long a refresh waits for the brokers before keeping the last figures; default 3000 ms. */
  readonly timeoutMs?: number;
  readonly logger?: BusLogger;
}

/**
 * Keeps `sigillum_consumer_lag_messages` true to the brokers for the groups this process consumes in: every
 * `intervalMs` while a group is watched, and at every scrape (the gauge's `collect`). The figure is the broker's
 * (committed offsets, log-end offsets), so it also grows while a consumer is stuck or stopped, which the
 * consumers' own after-batch figure cannot show. A group's series are removed when its last consumer stops.
 */
export class ConsumerLagSampler implements LagSource {
  private readonly watched = new Map<number, { readonly group: string; readonly topics: readonly string[] }>();
  private nextId = 0;
  private timer?: NodeJS.Timeout;
  private unregister?: () => void;
  private running?: Promise<void>;
  /** Series set, by group: `topic\0partition`. */
  private readonly series = new Map<string, Set<string>>();
  private failing = false;

  constructor(
    private readonly admin: () => Promise<Admin>,
    private readonly topicPrefix: string,
    private readonly options: ConsumerLagSamplerOptions = {},
  ) {}

  /** Watches a group (logical) on its topics (logical) until the returned function is called. */
  watch(group: string, topics: readonly string[]): () => void {
    const id = this.nextId++;
    this.watched.set(id, { group, topics: [...topics] });
    if (!this.timer) {
      this.timer = setInterval(() => void this.refresh(), this.options.intervalMs ?? 10_000);
      this.timer.unref();
      this.unregister = registerLagSource(this);
    }
    return () => {
      if (!this.watched.delete(id)) return;
      if (![...this.watched.values()].some((w) => w.group === group)) this.forget(group);
      if (this.watched.size === 0) this.close();
    };
  }

  /** Asks the brokers now (one request at a time: a refresh under way is shared); never rejects. */
  refresh(): Promise<void> {
    if (this.watched.size === 0) return Promise.resolve();
    this.running ??= this.sample().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Stops the timer and the scrape-time refresh; the series stay until their groups are forgotten. */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unregister?.();
    this.unregister = undefined;
  }

  private async sample(): Promise<void> {
    const byGroup = new Map<string, Set<string>>();
    for (const { group, topics } of this.watched.values()) for (const topic of topics) byGroup.set(group, (byGroup.get(group) ?? new Set()).add(topic));
    const timeoutMs = this.options.timeoutMs ?? 3_000;
    try {
      const rows = await withTimeout(
        this.admin().then((admin) =>
          readConsumerLag(
            admin,
            this.topicPrefix,
            [...byGroup.entries()].map(([group, topics]) => ({ group, topics: [...topics] })),
          ),
        ),
        timeoutMs,
        `no answer from the brokers within ${timeoutMs} ms`,
      );
      for (const row of rows) {
        if (![...this.watched.values()].some((w) => w.group === row.group)) continue; // stopped meanwhile
        const series = this.series.get(row.group) ?? new Set<string>();
        this.series.set(row.group, series);
        for (const p of row.partitions) {
          consumerLagMessages.set({ group: row.group, topic: row.topic, partition: String(p.partition) }, p.lag);
          series.add(`${row.topic}\u0000${p.partition}`);
        }
      }
      if (this.failing) this.options.logger?.log(`Consumer lag read from the brokers again`);
      this.failing = false;
    } catch (error) {
      const message = `Consumer lag of ${[...byGroup.keys()].join(', ')} not read from the brokers (${(error as Error).message}); the gauge keeps its last figures`;
      if (this.failing) this.options.logger?.debug?.(message);
      else this.options.logger?.warn(message);
      this.failing = true;
    }
  }

  private forget(group: string): void {
    for (const key of this.series.get(group) ?? []) {
      const [topic, partition] = key.split('\u0000');
      consumerLagMessages.remove({ group, topic, partition });
    }
    this.series.delete(group);
  }
}
