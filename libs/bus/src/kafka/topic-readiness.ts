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
      if (leaderless.length === 0) return;
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
