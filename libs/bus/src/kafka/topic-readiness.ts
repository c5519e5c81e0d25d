import { setTimeout as delay } from 'node:timers/promises';
import type { Admin } from 'kafkajs';

/**
 * Waits until every partition of `topics` has a leader. A topic another client has just created is listed
 * before its partitions are led; subscribing or producing then fails with "This server does not host this
 * topic-partition". Call it only for topics known to exist: the metadata request would auto-create others.
 */
export async function waitForTopicLeaders(admin: Admin, topics: readonly string[], timeoutMs = 30_000): Promise<void> {
  if (topics.length === 0) return;
  const deadline = Date.now() + timeoutMs;
  let lastProblem = '';
  for (let pause = 25; ; pause = Math.min(pause * 2, 500)) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
      const leaderless = metadata.flatMap((topic) =>
        topic.partitions.length === 0 ? [`${topic.name}/*`] : topic.partitions.filter((p) => p.leader < 0).map((p) => `${topic.name}/${p.partitionId}`),
      );
      if (leaderless.length === 0) {
        // Led is not yet hosted: on a fresh broker the leader answers "does not host this topic-partition" for a
        // moment after the election. Its offsets answering for every partition means consumers can join now.
        await Promise.all(topics.map((topic) => admin.fetchTopicOffsets(topic)));
        return;
      }
      lastProblem = `no leader yet for ${leaderless.join(', ')}`;
    } catch (error) {
      lastProblem = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `Kafka topics ${topics.join(', ')} are not ready after ${timeoutMs} ms (${lastProblem}). ` +
          'Check the broker with `bash scripts/kafka.sh status` and its log with `bash scripts/kafka.sh logs`.',
      );
    }
    await delay(pause);
  }
}

export interface TopicLayout {
  /** Partitions of a topic this client creates. */
  partitionsOf(topic: string): number;
  /** Replication factor of created topics; undefined: min(3, brokers in the cluster). */
  replicationFactor(): number | undefined;
}

/**
 * Creates the topics a client needs, with our partition count (never the broker's defaults), once per topic
 * however many callers ask at the same time, and returns only when every partition has a leader.
 */
export class TopicProvisioner {
  private readonly known = new Map<string, Promise<void>>();

  constructor(
    private readonly admin: () => Promise<Admin>,
    private readonly layout: TopicLayout,
  ) {}

  async ensure(topics: readonly string[]): Promise<void> {
    const missing = topics.filter((topic) => !this.known.has(topic));
    if (missing.length > 0) {
      const creation = this.create(missing);
      for (const topic of missing) this.known.set(topic, creation);
      creation.catch(() => missing.forEach((topic) => this.known.get(topic) === creation && this.known.delete(topic)));
    }
    await Promise.all(topics.map((topic) => this.known.get(topic)));
  }

  /** Forgets what was ensured (after a reconnect, topics may have been deleted). */
  forget(): void {
    this.known.clear();
  }

  private async create(topics: readonly string[]): Promise<void> {
    const admin = await this.admin();
    // listTopics, not fetchTopicMetadata: the admin's metadata request would auto-create with broker defaults.
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length > 0) {
      const replicationFactor = this.layout.replicationFactor() ?? Math.min(3, (await admin.describeCluster()).brokers.length);
      // Resolves false when another client created them meanwhile. Not kafkajs' waitForLeaders: right after the
      // creation a broker may still answer "does not host this topic-partition", which kafkajs does not retry;
      // waitForTopicLeaders below retries any error until the deadline.
      await admin.createTopics({
        waitForLeaders: false,
        topics: missing.map((topic) => ({ topic, numPartitions: this.layout.partitionsOf(topic), replicationFactor })),
      });
    }
    // Listed is not led: a topic another client just created may have no partition leader yet.
    await waitForTopicLeaders(admin, topics);
  }
}
