import { KafkaJSError, KafkaJSNonRetriableError, type Admin, type Message, type Producer } from 'kafkajs';
import type { KafkaClient } from './kafka-event-bus';

// Test fixtures (excluded from the build): a kafkajs client whose producers fail on cue, and kafkajs' own errors.

/** The error kafkajs itself builds from a broker's error code (its module has no type declarations). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode(code: number): Error & { type: string } };

/** As kafkajs' retrier gives a non-retriable protocol error back from send(): wrapped, the type only on the cause. */
export function fromSend(code: number): Error {
  const protocol = createErrorFromCode(code);
  return new (KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error)(protocol, { cause: protocol });
}

/** A kafkajs client whose producers fail as `failures` says; the admin knows every topic, led. */
export class FakeKafkaClient implements KafkaClient {
  readonly producers: { producer: Producer; sent: number; disconnected: boolean }[] = [];
  /** Every message accepted, in order, with the index of the producer that sent it. */
  readonly accepted: { topic: string; message: Message; producer: number }[] = [];
  /** What the n-th producer (0-based) does on a send: throw the error returned, or accept. */
  failures: (index: number) => Error | undefined = () => undefined;
  describeCluster: () => Promise<unknown> = async () => ({ clusterId: 'fake', controller: 1, brokers: [{ nodeId: 1, host: 'fake', port: 9092 }] });
  describeCalls = 0;

  producer = (() => {
    const index = this.producers.length;
    const entry = { producer: undefined as unknown as Producer, sent: 0, disconnected: false };
    const accept = (topicMessages: { topic: string; messages: Message[] }[]) => {
      if (entry.disconnected) throw new KafkaJSError('The producer is disconnected');
      const error = this.failures(index);
      if (error) throw error;
      entry.sent++;
      for (const { topic, messages } of topicMessages) for (const message of messages) this.accepted.push({ topic, message, producer: index });
      return [];
    };
    entry.producer = {
      connect: async () => undefined,
      disconnect: async () => void (entry.disconnected = true),
      sendBatch: async ({ topicMessages }: { topicMessages: { topic: string; messages: Message[] }[] }) => accept(topicMessages),
      send: async ({ topic, messages }: { topic: string; messages: Message[] }) => accept([{ topic, messages }]),
    } as unknown as Producer;
    this.producers.push(entry);
    return entry.producer;
  }) as unknown as KafkaClient['producer'];

  admin = (() =>
    ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      listTopics: async () => [],
      createTopics: async () => true,
      fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({
        topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: 1 }] })),
      }),
      fetchTopicOffsets: async () => [{ partition: 0, offset: '0', high: '0', low: '0' }],
      describeCluster: () => {
        this.describeCalls++;
        return this.describeCluster();
      },
    }) as unknown as Admin) as unknown as KafkaClient['admin'];

  consumer = (() => {
    throw new Error('FakeKafkaClient has no consumer');
  }) as unknown as KafkaClient['consumer'];
}
