import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DeliveredMessage } from '@sigillum/contracts';
import { busMessage, eventBusContract, eventually, newGroup, newTopic } from '@sigillum/testing';
import Database from 'better-sqlite3';
import { deadLetterInfoOf } from '../delivery-policy';
import { PoisonMessageError, type BusConsumer } from '../event-bus.port';
import { EmbeddedEventBus, type EmbeddedEventBusOptions } from './embedded-event-bus';

const quiet = { log: () => undefined, warn: () => undefined, error: (message: string) => console.error(message) };
const PAGE_QUERY = 'SELECT * FROM bus_messages WHERE topic = '; // as `verbose` gives it: with the parameters' values

/** A handle on the file, as one process has it, counting the page queries its consumers run (better-sqlite3's `verbose`). */
function openProcess(file: string, options: Omit<EmbeddedEventBusOptions, 'db'> = {}) {
  const counts = { pageQueries: 0 };
  const db = new Database(file, { verbose: (sql) => void (String(sql).startsWith(PAGE_QUERY) && counts.pageQueries++) });
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  const bus = new EmbeddedEventBus({ db, retryBackoffMs: 5, pollIntervalMs: 50, pruning: false, logger: quiet, ...options });
  return { db, bus, counts };
}

const seqOf = (message: DeliveredMessage) => (message.data as { seq: number }).seq;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, index) => from + index);

describe('EmbeddedEventBus in-memory tail (LogTail)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-bus-tail-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  // The same contract with every page read from SQL: both paths keep it.
  let sqlOnlyDb: Database.Database;
  eventBusContract(
    'embedded, tail off (every page from SQL)',
    async () => {
      sqlOnlyDb = new Database(path.join(dir, 'sql-only.db'));
      sqlOnlyDb.pragma('journal_mode = WAL');
      return new EmbeddedEventBus({ db: sqlOnlyDb, retryBackoffMs: 5, pollIntervalMs: 200, memoryTail: false, logger: quiet });
    },
    async () => {
      sqlOnlyDb.close();
    },
  );

  const opened: { db: Database.Database; bus: EmbeddedEventBus }[] = [];
  const consumers: BusConsumer[] = [];
  const open = (file: string, options?: Omit<EmbeddedEventBusOptions, 'db'>) => {
    const handle = openProcess(path.join(dir, file), options);
    opened.push(handle);
    return handle;
  };
  const consume = async (bus: EmbeddedEventBus, group: string, topics: string[], into: DeliveredMessage[]) => {
    const consumer = await bus.consume({ group, topics, handler: async (message) => void into.push(message) });
    consumers.push(consumer);
    return consumer;
  };
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
    for (const { db, bus } of opened.splice(0)) {
      await bus.close();
      db.close();
    }
  });

  it('delivers what this process publishes to two groups, each in order, without a page query, one frozen message for both', async () => {
    const { bus, counts } = open('two-groups.db');
    const topic = newTopic();
    const [first, second]: DeliveredMessage[][] = [[], []];
    await consume(bus, newGroup(), [topic], first);
    await consume(bus, newGroup(), [topic], second);
    for (let batch = 0; batch < 10; batch++) await bus.publish(range(batch * 5, batch * 5 + 5).map((seq) => busMessage(topic, `k-${seq % 3}`, seq)));

    await eventually(() => expect([first.length, second.length]).toEqual([50, 50]));
    expect(first.map(seqOf)).toEqual(range(0, 50));
    expect(second.map(seqOf)).toEqual(range(0, 50));
    expect(counts.pageQueries).toBe(0);
    // Decoded once, shared: its envelope cannot be changed under the other group.
    expect(second[7]).toBe(first[7]);
    expect(Object.isFrozen(first[7])).toBe(true);
  });

  it('hands handlers the same message as the SQL path: attributes, trace context, dead-letter headers', async () => {
    const { db, bus, counts } = open('same-message.db');
    const topic = newTopic();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const group = newGroup();
    const fromTail: DeliveredMessage[] = [];
    const deadLetters: DeliveredMessage[] = [];
    await bus
      .consume({
        group,
        topics: [topic],
        handler: async (message) => {
          fromTail.push(message);
          if (seqOf(message) === 1) throw new PoisonMessageError('seq 1 is poison');
        },
      })
      .then((consumer) => consumers.push(consumer));
    await consume(bus, newGroup(), [`${topic}.dlq`], deadLetters);
    await bus.publish([busMessage(topic, 'k', 0, { traceparent }), busMessage(topic, 'k', 1)]);
    await eventually(() => expect([fromTail.length, deadLetters.length]).toEqual([2, 1]));
    expect(counts.pageQueries).toBe(0);

    // Another process (its own handle, nothing in its tail) reads the same rows from SQL.
    const other = openProcess(db.name);
    opened.push(other);
    const [fromSql, deadLettersFromSql]: DeliveredMessage[][] = [[], []];
    await consume(other.bus, newGroup(), [topic], fromSql);
    await consume(other.bus, newGroup(), [`${topic}.dlq`], deadLettersFromSql);
    await eventually(() => expect([fromSql.length, deadLettersFromSql.length]).toEqual([2, 1]));
    expect(other.counts.pageQueries).toBeGreaterThan(0);
    expect(fromTail).toEqual(fromSql);
    expect(fromTail[0].traceparent).toBe(traceparent);
    expect(deadLetters).toEqual(deadLettersFromSql);
    expect(deadLetterInfoOf(deadLetters[0])?.reason).toContain('seq 1 is poison');
  });

  it('sees what another process (another handle on the file) publishes to the same topic, in log order', async () => {
    const first = open('two-processes.db');
    const topic = newTopic();
    const received: DeliveredMessage[] = [];
    await consume(first.bus, newGroup(), [topic], received);
    await first.bus.publish(range(0, 10).map((seq) => busMessage(topic, 'k', seq)));
    await eventually(() => expect(received).toHaveLength(10));
    expect(first.counts.pageQueries).toBe(0);

    const second = open('two-processes.db');
    // Only the other process writes: found by the poll, read from SQL.
    await second.bus.publish(range(10, 20).map((seq) => busMessage(topic, 'k', seq)));
    await eventually(() => expect(received).toHaveLength(20));
    expect(first.counts.pageQueries).toBeGreaterThan(0);
    // Both write, interleaved: the first process's tail restarts after the other's rows.
    for (let batch = 20; batch < 60; batch += 10) {
      const publisher = batch % 20 === 0 ? first.bus : second.bus;
      await publisher.publish(range(batch, batch + 10).map((seq) => busMessage(topic, 'k', seq)));
    }
    await first.bus.publish(range(60, 70).map((seq) => busMessage(topic, 'k', seq)));
    await eventually(() => expect(received).toHaveLength(70));
    expect(received.map(seqOf)).toEqual(range(0, 70));
    expect(received.map((message) => Number(message.offset))).toEqual([...received.map((message) => Number(message.offset))].sort((a, b) => a - b));
  });

  it('a consumer behind what the tail holds (or starting after it was published) reads SQL, then catches up; several topics stay in log order', async () => {
    const { bus, counts } = open('behind.db', { memoryTail: { rows: 10 } });
    const [a, b] = [newTopic(), newTopic()];
    const messages = range(0, 100).map((seq) => busMessage(seq % 3 === 0 ? a : b, `k-${seq % 4}`, seq));
    await bus.publish(messages.slice(0, 30)); // no consumer here reads a or b yet: not kept
    const group = newGroup();
    const received: DeliveredMessage[] = [];
    const consumer = await consume(bus, group, [a, b], received);
    await eventually(() => expect(received).toHaveLength(30));
    expect(counts.pageQueries).toBeGreaterThan(0);

    const observed: DeliveredMessage[] = [];
    await consume(bus, newGroup(), [a, b], observed); // keeps a and b in the tail
    await consumer.stop();
    await bus.publish(messages.slice(30, 60)); // more than the tail's 10 rows per topic: the group is behind it
    let queries = counts.pageQueries;
    await consume(bus, group, [a, b], received);
    await eventually(() => expect([received.length, observed.length]).toEqual([60, 60]));
    expect(counts.pageQueries).toBeGreaterThan(queries);

    queries = counts.pageQueries;
    for (let from = 60; from < 100; from += 5) {
      await bus.publish(messages.slice(from, from + 5));
      await eventually(() => expect(received).toHaveLength(from + 5)); // within the tail's 10 rows per topic
    }
    expect(counts.pageQueries).toBe(queries); // caught up: the new messages came from memory
    expect(received.map(seqOf)).toEqual(range(0, 100));
  });

  it('redelivers from the checkpoints after a restart, from the same handle and from a new process', async () => {
    const first = open('restart.db');
    const topic = newTopic();
    const group = newGroup();
    const before: DeliveredMessage[] = [];
    // Another group reads the topic all along: the tail keeps it (it keeps only the topics a consumer here reads).
    await consume(first.bus, newGroup(), [topic], []);
    const consumer = await consume(first.bus, group, [topic], before);
    await first.bus.publish(range(0, 10).map((seq) => busMessage(topic, 'k', seq)));
    await eventually(() => expect(before).toHaveLength(10));
    await consumer.stop(); // writes its checkpoint
    await first.bus.publish(range(10, 20).map((seq) => busMessage(topic, 'k', seq)));

    const again: DeliveredMessage[] = [];
    const restarted = await consume(first.bus, group, [topic], again);
    await eventually(() => expect(again.map(seqOf)).toEqual(range(10, 20)));
    expect(first.counts.pageQueries).toBe(0);
    await restarted.stop();
    await first.bus.publish(range(20, 30).map((seq) => busMessage(topic, 'k', seq)));

    const reopened = open('restart.db');
    const afterRestart: DeliveredMessage[] = [];
    await consume(reopened.bus, group, [topic], afterRestart);
    await eventually(() => expect(afterRestart.map(seqOf)).toEqual(range(20, 30)));
    expect(reopened.counts.pageQueries).toBeGreaterThan(0);
  });

  it('a republish skipped by ON CONFLICT (it uses up an offset) changes nothing delivered', async () => {
    const { bus } = open('republish.db');
    const topic = newTopic();
    const received: DeliveredMessage[] = [];
    await consume(bus, newGroup(), [topic], received);
    const zero = busMessage(topic, 'k', 0);
    await bus.publish([zero, busMessage(topic, 'k', 1)]);
    await bus.publish([zero, busMessage(topic, 'k', 2), zero]);
    await bus.publish([zero]);
    await bus.publish([busMessage(topic, 'k', 3), zero]);
    await eventually(() => expect(received.map(seqOf)).toEqual([0, 1, 2, 3]));
    await bus.publish([busMessage(topic, 'k', 4)]);
    await eventually(() => expect(received.map(seqOf)).toEqual([0, 1, 2, 3, 4]));
  });

  it('delivers a row written on the same handle around the bus (as the console replays a dead letter)', async () => {
    const { db, bus } = open('around.db');
    const topic = newTopic();
    const received: DeliveredMessage[] = [];
    await consume(bus, newGroup(), [topic], received);
    await bus.publish([busMessage(topic, 'k', 0)]);
    await eventually(() => expect(received).toHaveLength(1));
    db.prepare(
      `INSERT INTO bus_messages (topic, key, message_id, type, source, time, correlation_id, causation_id, data_version, data, headers, dlq_group)
       SELECT topic, key, 'copied', type, source, time, correlation_id, causation_id, data_version, '{"seq":1}', headers, dlq_group FROM bus_messages
       WHERE topic = ? ORDER BY "offset" LIMIT 1`,
    ).run(topic);
    await eventually(() => expect(received.map(seqOf)).toEqual([0, 1])); // through the poll, as before
    await bus.publish([busMessage(topic, 'k', 2)]);
    await eventually(() => expect(received.map(seqOf)).toEqual([0, 1, 2]));
  });

  it('leaves out what a transaction still open wrote: rolled back, it is never delivered', async () => {
    const { db, bus } = open('rolled-back.db');
    const topic = newTopic();
    const received: DeliveredMessage[] = [];
    await consume(bus, newGroup(), [topic], received);
    await bus.publish([busMessage(topic, 'k', 0)]);
    await eventually(() => expect(received).toHaveLength(1));
    const rolledBack = db.transaction(() => {
      void bus.publish([busMessage(topic, 'k', -1)]);
      throw new Error('roll back');
    });
    expect(() => rolledBack()).toThrow('roll back');
    // Read at once, in the same event-loop turn as the rollback: what a consumer woken by that publish would get.
    expect(bus.tail.read([topic], new Map([[topic, Number(received[0].offset)]]), 10)).toEqual([]);
    await bus.publish([busMessage(topic, 'k', 1)]);
    await eventually(() => expect(received.map(seqOf)).toEqual([0, 1]));
  });
});
