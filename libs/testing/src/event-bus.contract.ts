import { randomBytes, randomUUID } from 'node:crypto';
import { setImmediate as nextMacrotask, setTimeout as delay } from 'node:timers/promises';
import { Topics, type BusMessage, type DeliveredMessage } from '@sigillum/contracts';
import { deadLetterInfoOf, headersOf, PoisonMessageError, type BusConsumer, type ConsumerOptions, type EventBus } from '@sigillum/bus';
import { eventually } from './eventually';

export interface EventBusContractOptions {
  /** Per-test timeout; Kafka group joins cost seconds. Default 30 s. */
  readonly testTimeoutMs?: number;
  /** How long to wait for a delivery before failing. Default 20 s. */
  readonly waitMs?: number;
}

/**
 * The behaviour every EventBus adapter must share. One bus serves the suite; every test uses fresh topics
 * and groups, so it can run against a shared broker that already holds data. After the suite the bus is
 * closed, then `teardown` runs (e.g. to close a database or delete a temp file).
 */
export function eventBusContract(
  adapterName: string,
  makeBus: () => Promise<EventBus>,
  teardown?: () => Promise<void>,
  options: EventBusContractOptions = {},
): void {
  const testTimeout = options.testTimeoutMs ?? 30_000;
  const waitMs = options.waitMs ?? 20_000;

  describe(`EventBus contract: ${adapterName}`, () => {
    let bus: EventBus;
    const consumers: BusConsumer[] = [];

    beforeAll(async () => {
      bus = await makeBus();
    }, 60_000);
    afterEach(async () => {
      await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
    }, 30_000);
    afterAll(async () => {
      await bus?.close();
      await teardown?.();
    }, 30_000);

    async function consume(consumerOptions: ConsumerOptions): Promise<BusConsumer> {
      const consumer = await bus.consume(consumerOptions);
      consumers.push(consumer);
      return consumer;
    }

    /** Consumes a topic into an array, for watching dead-letter topics. */
    async function collect(topic: string): Promise<DeliveredMessage[]> {
      const received: DeliveredMessage[] = [];
      await consume({ group: newGroup('watch'), topics: [topic], handler: async (message) => void received.push(message) });
      return received;
    }

    it(
      'delivers a published message with every attribute intact, plus partition and offset',
      async () => {
        const topic = newTopic();
        const key = `note-${randomUUID()}`;
        const messages = [
          busMessage(topic, key, 0, { data: { text: 'première ✓ "quoted"', nested: { list: [1, 2.5, null], ok: true } } }),
          busMessage(topic, key, 1, { data: null, dataVersion: 7, type: 'sigillum.note.NoteCleared', source: '/sigillum/other' }),
          busMessage(topic, key, 2, { data: ['a', { b: 'c' }], time: '2025-06-30T23:59:59.999+02:00' }),
        ];
        const received: DeliveredMessage[] = [];
        await consume({ group: newGroup(), topics: [topic], handler: async (message) => void received.push(message) });

        await bus.publish(messages);

        await eventually(() => expect(received).toHaveLength(3), waitMs);
        expect(received.map(withoutDelivery)).toEqual(messages);
        for (const message of received) {
          expect(Number.isInteger(message.partition) && message.partition >= 0).toBe(true);
          expect(message.offset).toMatch(/^\d+$/);
          expect(headersOf(message)).toEqual({});
        }
        expect(new Set(received.map((message) => message.partition)).size).toBe(1);
        const offsets = received.map((message) => BigInt(message.offset));
        expect(offsets[0] < offsets[1] && offsets[1] < offsets[2]).toBe(true);
      },
      testTimeout,
    );

    it(
      'gives every message to each of two groups',
      async () => {
        const topic = newTopic();
        const messages = Array.from({ length: 20 }, (_, index) => busMessage(topic, `note-${index % 5}`, index));
        const [first, second]: string[][] = [[], []];
        await consume({ group: newGroup('a'), topics: [topic], handler: async (message) => void first.push(message.id) });
        await consume({ group: newGroup('b'), topics: [topic], handler: async (message) => void second.push(message.id) });

        await bus.publish(messages);

        const ids = messages.map((message) => message.id).sort();
        await eventually(() => {
          expect([...first].sort()).toEqual(ids);
          expect([...second].sort()).toEqual(ids);
        }, waitMs);
      },
      testTimeout,
    );

    it(
      'with handledTypes, passes over the other types of a topic (no call, committed past), keeps each key in order, delivers every type of another topic',
      async () => {
        const [topic, other] = [newTopic(), newTopic()];
        const keys = [`stream-a-${randomUUID()}`, `stream-b-${randomUUID()}`];
        const typeOf = (seq: number) => (seq % 3 === 0 ? 'sigillum.note.NoteTaken' : 'sigillum.note.NoteSkimmed');
        const messages = Array.from({ length: 12 }, (_, seq) => busMessage(topic, keys[seq % 2], seq, { type: typeOf(seq) }));
        const others = [busMessage(other, keys[0], 0, { type: 'sigillum.note.NoteSkimmed' })];
        const group = newGroup('typed');
        const handledTypes = new Map([[topic, new Set(['NoteTaken'])]]);
        const seen: string[] = [];
        const handler = async (message: DeliveredMessage) => void seen.push(`${message.topic === topic ? 'topic' : 'other'} ${seqOf(message)} ${message.type}`);
        const first = await consume({ group, topics: [topic, other], handledTypes, maxInFlight: 4, handler });
        await bus.publish(messages);
        await bus.publish(others);
        const wanted = ['topic 0', 'topic 3', 'topic 6', 'topic 9'].map((line) => `${line} sigillum.note.NoteTaken`);
        await eventually(() => expect(seen).toHaveLength(5), waitMs);
        expect(seen.filter((line) => line.startsWith('topic'))).toEqual(wanted); // keys alternate: 0 and 6 on a, 3 and 9 on b
        expect(seen).toContain('other 0 sigillum.note.NoteSkimmed');
        // What was passed over is committed: the group's next consumer starts after it, not on it.
        await first.stop();
        consumers.splice(consumers.indexOf(first), 1);
        const last = busMessage(topic, keys[0], 12, { type: 'sigillum.note.NoteTaken' });
        await bus.publish([last]);
        const again: string[] = [];
        await consume({ group, topics: [topic, other], handledTypes, handler: async (message) => void again.push(message.id) });
        await eventually(() => expect(again).toEqual([last.id]), waitMs);
      },
      testTimeout,
    );

    it(
      'keeps the order of each key across 200 interleaved messages on 20 keys',
      async () => {
        const topic = newTopic();
        const keys = Array.from({ length: 20 }, (_, index) => `stream-${index}-${randomUUID()}`);
        const messages = Array.from({ length: 10 }, (_, seq) => keys.map((key) => busMessage(topic, key, seq))).flat();
        const seen = new Map<string, number[]>(keys.map((key) => [key, []]));
        await consume({
          group: newGroup(),
          topics: [topic],
          handler: async (message) => void seen.get(message.key)?.push(seqOf(message)),
        });

        for (let start = 0; start < messages.length; start += 50) await bus.publish(messages.slice(start, start + 50));

        await eventually(() => expect([...seen.values()].flat()).toHaveLength(200), waitMs);
        for (const key of keys) expect(seen.get(key)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      },
      testTimeout,
    );

    it(
      'with maxInFlight > 1 and random handler delays, keeps each key in order and never runs two of one key at once',
      async () => {
        const topic = newTopic();
        const keys = Array.from({ length: 12 }, (_, index) => `stream-${index}-${randomUUID()}`);
        // Each key's messages in order, the keys interleaved at random.
        const next = new Map(keys.map((key) => [key, 0]));
        const messages: BusMessage[] = [];
        while (messages.length < keys.length * 10) {
          const open = keys.filter((key) => next.get(key)! < 10);
          const key = open[Math.floor(Math.random() * open.length)];
          messages.push(busMessage(topic, key, next.get(key)!));
          next.set(key, next.get(key)! + 1);
        }
        const seen = new Map<string, number[]>(keys.map((key) => [key, []]));
        const active = new Set<string>();
        const overlaps: string[] = [];
        await consume({
          group: newGroup(),
          topics: [topic],
          maxInFlight: 8,
          handler: async (message) => {
            if (active.has(message.key)) overlaps.push(`${message.key}#${seqOf(message)}`);
            active.add(message.key);
            await delay(Math.floor(Math.random() * 5));
            seen.get(message.key)?.push(seqOf(message));
            active.delete(message.key);
          },
        });

        for (let start = 0; start < messages.length; start += 40) await bus.publish(messages.slice(start, start + 40));

        await eventually(() => expect([...seen.values()].flat()).toHaveLength(messages.length), waitMs);
        expect(overlaps).toEqual([]);
        for (const key of keys) expect(seen.get(key)).toEqual(Array.from({ length: 10 }, (_, seq) => seq));
      },
      testTimeout,
    );

    it(
      'never commits past an unfinished message: stopped while one is mid-retry, the next consumer gets it again',
      async () => {
        const topic = newTopic();
        const group = newGroup();
        const stuckKey = `stuck-${randomUUID()}`;
        const stuck = busMessage(topic, stuckKey, 0);
        const later = busMessage(topic, stuckKey, 1);
        const others = Array.from({ length: 9 }, (_, index) => busMessage(topic, `other-${index}-${randomUUID()}`, index + 1));
        const messages = [stuck, ...others, later];
        let stopRequested!: () => void;
        const stopping = new Promise<void>((resolve) => (stopRequested = resolve));
        const firstRun: string[] = [];
        await bus.publish(messages);
        const first = await consume({
          group,
          topics: [topic],
          maxInFlight: 4,
          maxAttempts: 3,
          handler: async (message) => {
            if (message.id === stuck.id) {
              firstRun.push(message.id);
              await stopping; // unfinished until the consumer stops, then fails: abandoned, not committed
              throw new Error('interrupted by stop');
            }
            firstRun.push(message.id);
          },
        });
        await eventually(() => expect(firstRun).toContain(stuck.id), waitMs);
        await delay(200); // let whatever may pass the stuck message finish
        const stopped = first.stop();
        stopRequested();
        await stopped;
        expect(firstRun).not.toContain(later.id); // same key: never started while the stuck one was unfinished

        const secondRun: string[] = [];
        await consume({ group, topics: [topic], handler: async (message) => void secondRun.push(message.id) });
        await eventually(() => {
          expect(secondRun).toContain(stuck.id);
          expect(new Set([...firstRun, ...secondRun])).toEqual(new Set(messages.map((message) => message.id)));
        }, waitMs);
        expect(secondRun.indexOf(stuck.id)).toBeLessThan(secondRun.indexOf(later.id));
      },
      testTimeout,
    );

    it(
      'commits only after success: a group stopped mid-stream resumes in a new consumer with no gap',
      async () => {
        const topic = newTopic();
        const group = newGroup();
        const keys = Array.from({ length: 6 }, (_, index) => `stream-${index}-${randomUUID()}`);
        const messages = Array.from({ length: 20 }, (_, seq) => keys.map((key) => busMessage(topic, key, seq))).flat();
        const firstRun: DeliveredMessage[] = [];
        const secondRun: DeliveredMessage[] = [];
        const slowly = (into: DeliveredMessage[]) => async (message: DeliveredMessage) => {
          await delay(2); // keep messages flowing while the test stops the consumer
          into.push(message);
        };
        await bus.publish(messages);

        const first = await consume({ group, topics: [topic], handler: slowly(firstRun) });
        await eventually(() => expect(firstRun.length).toBeGreaterThanOrEqual(30), waitMs);
        await first.stop();
        const stoppedAt = firstRun.length;
        await consume({ group, topics: [topic], handler: slowly(secondRun) });

        const all = new Set(messages.map((message) => message.id));
        await eventually(() => expect(new Set([...firstRun, ...secondRun].map((message) => message.id))).toEqual(all), waitMs);
        expect(stoppedAt).toBeLessThan(messages.length);
        expect(firstRun).toHaveLength(stoppedAt); // nothing handled after stop() resolved
        const firstIds = new Set(firstRun.map((message) => message.id));
        const redelivered = secondRun.filter((message) => firstIds.has(message.id));
        expect(redelivered.length).toBeLessThanOrEqual(1); // at most the message in flight at stop (stop finishes what it started)
        for (const key of keys) {
          const sequence = [...firstRun, ...secondRun.filter((message) => !firstIds.has(message.id))].filter((message) => message.key === key).map(seqOf);
          expect(sequence).toEqual(Array.from({ length: 20 }, (_, seq) => seq));
        }
      },
      testTimeout,
    );

    it(
      'stop() lets the in-flight handler finish and commits it',
      async () => {
        const topic = newTopic();
        const group = newGroup();
        const [held, next] = [busMessage(topic, 'note-1', 0), busMessage(topic, 'note-1', 1)];
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        const firstRun: string[] = [];
        await bus.publish([held]);
        const first = await consume({
          group,
          topics: [topic],
          handler: async (message) => {
            firstRun.push(message.id);
            await released;
          },
        });
        await eventually(() => expect(firstRun).toEqual([held.id]), waitMs);

        let stopped = false;
        const stopping = first.stop().then(() => (stopped = true));
        for (let tick = 0; tick < 5; tick++) await nextMacrotask();
        expect(stopped).toBe(false);
        release();
        await stopping;

        const secondRun: string[] = [];
        await consume({ group, topics: [topic], handler: async (message) => void secondRun.push(message.id) });
        await bus.publish([next]);
        await eventually(() => expect(secondRun).toEqual([next.id]), waitMs);
      },
      testTimeout,
    );

    it(
      'dead-letters a message whose handler keeps failing, with the reason, and goes on with the next',
      async () => {
        const topic = newTopic();
        const group = newGroup();
        const key = `note-${randomUUID()}`;
        const messages = Array.from({ length: 5 }, (_, seq) => busMessage(topic, key, seq, { data: { seq, fail: seq === 2 } }));
        const handled: number[] = [];
        const failedAt: DeliveredMessage[] = [];
        const deadLetters = await collect(Topics.deadLetterOf(topic));
        await consume({
          group,
          topics: [topic],
          maxAttempts: 2,
          handler: async (message) => {
            if ((message.data as { fail: boolean }).fail) {
              failedAt.push(message);
              throw new Error('projection table is missing');
            }
            handled.push(seqOf(message));
          },
        });

        await bus.publish(messages);

        await eventually(() => {
          expect(handled).toEqual([0, 1, 3, 4]);
          expect(deadLetters).toHaveLength(1);
        }, waitMs);
        expect(failedAt).toHaveLength(2);
        const [deadLetter] = deadLetters;
        expect(withoutDelivery(deadLetter)).toEqual({ ...messages[2], topic: Topics.deadLetterOf(topic) });
        expect(deadLetterInfoOf(deadLetter)).toEqual({
          reason: expect.stringContaining('projection table is missing'),
          originalTopic: topic,
          originalPartition: failedAt[0].partition,
          originalOffset: failedAt[0].offset,
          group,
          attempts: 2,
        });
        expect(deadLetterInfoOf(deadLetter)?.reason).toMatch(/failed 2 time/);
      },
      testTimeout,
    );

    it(
      'dead-letters a PoisonMessageError at once, without retrying',
      async () => {
        const topic = newTopic();
        const group = newGroup();
        const key = `note-${randomUUID()}`;
        const messages = Array.from({ length: 3 }, (_, seq) =>
          busMessage(topic, key, seq, { type: seq === 1 ? 'sigillum.note.Unheard' : 'sigillum.note.NoteTaken' }),
        );
        const attempts = new Map<number, number>();
        const deadLetters = await collect(Topics.deadLetterOf(topic));
        await consume({
          group,
          topics: [topic],
          maxAttempts: 5,
          handler: async (message) => {
            attempts.set(seqOf(message), (attempts.get(seqOf(message)) ?? 0) + 1);
            if (message.type.endsWith('Unheard')) throw new PoisonMessageError(`unknown event type ${message.type}`);
          },
        });

        await bus.publish(messages);

        await eventually(() => {
          expect(deadLetters.map((message) => message.id)).toEqual([messages[1].id]);
          expect(attempts.get(2)).toBe(1);
        }, waitMs);
        expect(attempts.get(1)).toBe(1);
        const info = deadLetterInfoOf(deadLetters[0]);
        expect(info).toMatchObject({ originalTopic: topic, group, attempts: 1 });
        expect(info?.reason).toBe('poison message: unknown event type sigillum.note.Unheard');
      },
      testTimeout,
    );

    it(
      'refuses a batch with an invalid message and writes none of it',
      async () => {
        const topic = newTopic();
        const good = busMessage(topic, 'note-1', 0);
        const bad = { ...busMessage(topic, 'note-1', 1), time: 'yesterday' };
        const received: string[] = [];
        await consume({ group: newGroup(), topics: [topic], handler: async (message) => void received.push(message.id) });

        await expect(bus.publish([good, bad])).rejects.toThrow(/time "yesterday" is not an RFC 3339 timestamp/);
        await expect(bus.publish([{ ...good, data: { amount: 10n } }])).rejects.toThrow(/not JSON-serialisable/);
        await expect(bus.publish([{ ...good, topic: 'no spaces allowed' }])).rejects.toThrow(/topic must be/);
        const marker = busMessage(topic, 'note-1', 2);
        await bus.publish([marker]);

        await eventually(() => expect(received).toEqual([marker.id]), waitMs);
      },
      testTimeout,
    );
  });
}

/** A unique topic per test, in the product's naming scheme. */
export function newTopic(): string {
  return Topics.eventsOf(`contract${randomBytes(5).toString('hex')}`);
}

export function newGroup(label = 'group'): string {
  return `contract.${label}.${randomBytes(5).toString('hex')}`;
}

/** A valid bus message whose data carries `seq`; override any attribute. */
export function busMessage(topic: string, key: string, seq: number, overrides: Partial<BusMessage> = {}): BusMessage {
  const id = randomUUID();
  return {
    topic,
    key,
    id,
    type: 'sigillum.note.NoteTaken',
    source: '/sigillum/test',
    time: '2025-01-01T00:00:00.000Z',
    correlationId: randomUUID(),
    causationId: id,
    dataVersion: 1,
    data: { seq },
    ...overrides,
  };
}

function seqOf(message: DeliveredMessage): number {
  return (message.data as { seq: number }).seq;
}

/** The BusMessage part of a delivered message. */
function withoutDelivery(message: DeliveredMessage): BusMessage {
  const { partition: _partition, offset: _offset, headers: _headers, ...rest } = message as DeliveredMessage & { headers?: unknown };
  return rest;
}
