import { logLevel, type LogEntry } from 'kafkajs';
import type { BusLogger } from '../bus-logger';

/**
 * Broker answers kafkajs logs at ERROR on the connection, then retries by itself: on a fresh broker right after a topic
 * is created, during a leader election, while a group coordinator loads. If the retries run out, the caller fails and
 * says so (a consumer crash, a publish error), so each answer alone is debug, not an error a newcomer must decode.
 */
const RETRIED_ANSWERS = [
  /does not host this topic-partition/i,
  /There is no leader for this topic-partition/i,
  /not the leader for (that|this) topic-partition/i,
  /coordinator is (loading|not available)/i,
  /is not the correct coordinator/i,
  /Leader not available/i,
];

/** Routes one kafkajs log entry to `logger`: only the message and the error text (entries can carry payloads and settings). */
export function logKafkajs(logger: BusLogger, { namespace, level, log }: LogEntry): void {
  // A topic created concurrently elsewhere: createTopics resolves (or throws for real errors) on its own.
  if (String(log.message).startsWith('Response CreateTopics')) return;
  const text = `[kafkajs ${namespace}] ${log.message}${log.error ? ` (${String(log.error)})` : ''}`;
  const retried = (namespace === 'Connection' && RETRIED_ANSWERS.some((answer) => answer.test(text))) || /Response without match/.test(text);
  if (retried) return logger.debug?.(text);
  // kafkajs logs every ordinary rebalance at ERROR; it is expected whenever a member joins or leaves.
  if (level <= logLevel.ERROR && !/rebalanc/i.test(text)) logger.error(text);
  else if (level <= logLevel.WARN) logger.warn(text);
  else logger.log(text);
}
