import { busMessage, newTopic } from '@sigillum/testing';
import { KafkaJSConnectionError, KafkaJSError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } from 'kafkajs';
import { KafkaEventBus } from './kafka-event-bus';
import { fatalProducerFault } from './producer-faults';
import { createErrorFromCode, FakeKafkaClient as FakeClient, fromSend } from './testing-fixtures';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

/** As kafkajs' retrier gives up on a broker that does not answer. */
const retriesExceeded = (text: string) => {
  const connection = new KafkaJSConnectionError(text);
  return new KafkaJSNumberOfRetriesExceeded(connection, { retryCount: 5, retryTime: 3000, cause: connection } as never);
};

describe('fatalProducerFault', () => {
  it.each([
    ['OUT_OF_ORDER_SEQUENCE_NUMBER (45)', fromSend(45), /OUT_OF_ORDER_SEQUENCE_NUMBER/],
    ['INVALID_PRODUCER_EPOCH (47)', fromSend(47), /INVALID_PRODUCER_EPOCH/],
    ['UNKNOWN_PRODUCER_ID (59)', fromSend(59), /UNKNOWN_PRODUCER_ID/],
    ['INVALID_PRODUCER_ID_MAPPING (49)', fromSend(49), /INVALID_PRODUCER_ID_MAPPING/],
    ['the bare protocol error', createErrorFromCode(45), /OUT_OF_ORDER_SEQUENCE_NUMBER/],
    [
      'a fenced producer (code 90, unknown to kafkajs 2.2.4)',
      new KafkaJSError('There is a newer producer with the same transactionalId which fences the current one.'),
      /fences/,
    ],
    ['a disconnected producer', new KafkaJSError('The producer is disconnected'), /disconnected/],
    [
      'a disconnecting producer',
      new KafkaJSNonRetriableError("The producer is disconnecting; therefore, it can't safely accept messages anymore"),
      /disconnecting/,
    ],
    ['any other non-retriable error from send', new KafkaJSNonRetriableError('Invalid message without value'), /KafkaJSNonRetriableError: Invalid message/],
    ['one inside our own wrapper', new Error('Publishing 1 message(s) failed', { cause: fromSend(45) }), /OUT_OF_ORDER/],
    ['one among aggregated errors', Object.assign(new Error('several'), { errors: [new Error('x'), fromSend(59)] }), /UNKNOWN_PRODUCER_ID/],
  ])('replaces the producer after %s', (_, error, reason) => {
    expect(fatalProducerFault(error)).toMatch(reason);
  });

  it.each([
    ['an unreachable broker', retriesExceeded('Connection error: connect ECONNREFUSED 127.0.0.1:9092')],
    ['a connection error', new KafkaJSConnectionError('Connection timeout')],
    ['a retriable protocol error', createErrorFromCode(6) /* NOT_LEADER_FOR_PARTITION */],
    ['an ACL refusal', createErrorFromCode(29) /* TOPIC_AUTHORIZATION_FAILED */],
    ['a plain error', new Error('boom')],
    ['no error at all', undefined],
  ])('keeps the producer after %s', (_, error) => {
    expect(fatalProducerFault(error)).toBeUndefined();
  });
});

describe('KafkaEventBus producer faults (a fake kafkajs client)', () => {
  let client: FakeClient;
  let bus: KafkaEventBus;
  const warnings: string[] = [];
  beforeEach(() => {
    client = new FakeClient();
    warnings.length = 0;
    bus = new KafkaEventBus({ brokers: ['fake:9092'], createClient: () => client, logger: { ...quiet, warn: (text) => void warnings.push(text) } });
  });
  afterEach(async () => {
    await bus.close();
  });

  it('drops the producer after a fatal error and publishes with a new one on the next call', async () => {
    const topic = newTopic();
    await bus.publish([busMessage(topic, 'a', 0)]);
    expect(client.producers).toHaveLength(1);
    expect(client.producers[0].sent).toBe(1);

    // It breaks for good (as after a broker restart): the send fails, naming the cause, and the producer is let go.
    client.failures = (index) => (index === 0 ? fromSend(45) : undefined);
    await expect(bus.publish([busMessage(topic, 'a', 1)])).rejects.toThrow(/out of order sequence number.*publishing again is safe/);
    expect(client.producers[0].disconnected).toBe(true);
    expect(warnings.join('\n')).toMatch(/producer dropped after a fatal error \(OUT_OF_ORDER_SEQUENCE_NUMBER/);
    expect(await bus.health()).toMatchObject({ up: false, detail: expect.stringMatching(/last send failed .*out of order sequence number/) });

    // The next publish connects a second producer, which works (the old one would still fail).
    await bus.publish([busMessage(topic, 'a', 1)]);
    expect(client.producers).toHaveLength(2);
    expect(client.producers[1].sent).toBe(1);
    expect(await bus.health()).toMatchObject({ up: true, detail: expect.stringMatching(/last send ok .*producer rebuilt 1 time/) });
  });

  it('keeps the producer when the broker is only unreachable: kafkajs reconnects it', async () => {
    const topic = newTopic();
    let down = true;
    client.failures = () => (down ? retriesExceeded('Connection error: connect ECONNREFUSED') : undefined);
    await expect(bus.publish([busMessage(topic, 'a', 0)])).rejects.toThrow(/ECONNREFUSED/);
    down = false;
    await bus.publish([busMessage(topic, 'a', 0)]);
    expect(client.producers).toHaveLength(1);
    expect(warnings.join('\n')).not.toMatch(/producer dropped/);
  });

  it('replaces a producer that was disconnected under it', async () => {
    const topic = newTopic();
    await bus.publish([busMessage(topic, 'a', 0)]);
    await client.producers[0].producer.disconnect();
    await expect(bus.publish([busMessage(topic, 'a', 1)])).rejects.toThrow(/The producer is disconnected/);
    await bus.publish([busMessage(topic, 'a', 1)]);
    expect(client.producers.map((entry) => entry.sent)).toEqual([1, 1]);
  });

  it('rebuilds the producer once when concurrent sends fail together', async () => {
    const topic = newTopic();
    client.failures = (index) => (index === 0 ? fromSend(59) : undefined);
    const results = await Promise.allSettled([bus.publish([busMessage(topic, 'a', 0)]), bus.publish([busMessage(topic, 'b', 0)])]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    await Promise.all([bus.publish([busMessage(topic, 'a', 0)]), bus.publish([busMessage(topic, 'b', 0)])]);
    expect(client.producers).toHaveLength(2);
    expect(client.producers[1].sent).toBe(2);
  });

  it('health is cheap: a fresh probe is reused', async () => {
    expect(await bus.health()).toMatchObject({ up: true, detail: expect.stringMatching(/kafka cluster fake: 1 broker\(s\).*producer idle/) });
    expect(await bus.health()).toMatchObject({ up: true });
    expect(client.describeCalls).toBe(1);
  });

  it('a cluster that never answers is reported down when the wait ends, while the probe is still in flight', async () => {
    // A fake clock, not a wall-clock bound: the answer must come at the 100 ms wait, not before, and not when the
    // probe (which never answers; its own limit is 5 s) would. Promises and I/O keep running for real.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const silent = new KafkaEventBus({
      brokers: ['fake:9092'],
      createClient: () => client,
      logger: quiet,
      healthProbeWaitMs: 100,
      healthProbeIntervalMs: 0,
    });
    try {
      client.describeCluster = () => new Promise(() => undefined);
      let health: { up: boolean; detail?: string } | undefined;
      void silent.health().then((answer) => (health = answer));
      await jest.advanceTimersByTimeAsync(99);
      expect(client.describeCalls).toBe(1); // the probe was sent and is waiting
      expect(health).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1);
      expect(health).toMatchObject({ up: false, detail: expect.stringMatching(/fake:9092: no answer to describeCluster within 100 ms/) });
      // The probe still in flight is shared, not repeated.
      const again = silent.health();
      await jest.advanceTimersByTimeAsync(100);
      await again;
      expect(client.describeCalls).toBe(1);
    } finally {
      jest.useRealTimers();
      await silent.close();
    }
  });
});
