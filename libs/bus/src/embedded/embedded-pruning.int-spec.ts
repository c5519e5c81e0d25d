import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Topics, type BusMessage, type DeliveredMessage } from '@sigillum/contracts';
import { busMessage, eventually, newGroup, newTopic } from '@sigillum/testing';
import Database from 'better-sqlite3';
import { PoisonMessageError, type BusConsumer } from '../event-bus.port';
import { EmbeddedEventBus } from './embedded-event-bus';
import { LogPruner } from './log-pruner';

const quiet = { log: () => undefined, warn: () => undefined, error: (message: string) => console.error(message) };

function openFile(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

const seqOf = (message: DeliveredMessage) => (message.data as { seq: number }).seq;

describe('EmbeddedEventBus log pruning', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-bus-pruning-'));
  let db: Database.Database;
  let bus: EmbeddedEventBus;
  const consumers: BusConsumer[] = [];

  beforeAll(() => {
    db = openFile(path.join(dir, 'pruning.db'));
    // No retention and no timer: each test prunes when it means to (pruneLog), nothing prunes behind its back.
    bus = new EmbeddedEventBus({ db, retryBackoffMs: 5, pollIntervalMs: 100, logger: quiet, pruning: { retainMs: 0, intervalMs: 3_600_000 } });
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
  });
  afterAll(async () => {
    await bus.close();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const messagesOf = (topic: string, count: number, key = `k-${topic}`): BusMessage[] => Array.from({ length: count }, (_, seq) => busMessage(topic, key, seq));
  const seqsInLog = (topic: string): number[] =>
    (db.prepare(`SELECT data FROM bus_messages WHERE topic = ? AND dlq_group = '' ORDER BY "offset"`).pluck().all(topic) as string[]).map(
      (data) => (JSON.parse(data) as { seq: number }).seq,
    );
  const checkpointOf = (group: string, topic: string): number | undefined =>
    db.prepare('SELECT "offset" FROM bus_checkpoints WHERE group_id = ? AND topic = ?').pluck().get(group, topic) as number | undefined;

  /** Consumes the whole topic as `group`, then stops (which writes the checkpoint). */
  async function consumeAll(group: string, topic: string, count: number, on: EmbeddedEventBus = bus): Promise<DeliveredMessage[]> {
    const received: DeliveredMessage[] = [];
    const consumer = await on.consume({ group, topics: [topic], handler: async (message) => void received.push(message) });
    await eventually(() => expect(received).toHaveLength(count));
    await consumer.stop();
    return received;
  }

  /**
   * Consumes as `group` one message at a time, handles those below `upTo` and leaves the first at `upTo` unfinished
   * (interrupted by stop), as a slow group does: its checkpoint stays at `upTo - 1`.
   */
  async function consumeUpTo(group: string, topic: string, upTo: number): Promise<DeliveredMessage[]> {
    const received: DeliveredMessage[] = [];
    let stopRequested!: () => void;
    const stopping = new Promise<void>((resolve) => (stopRequested = resolve));
    let reached = false;
    const consumer = await bus.consume({
      group,
      topics: [topic],
      maxInFlight: 1,
      handler: async (message) => {
        if (seqOf(message) >= upTo) {
          reached = true;
          await stopping;
          throw new Error('interrupted by stop');
        }
        received.push(message);
      },
    });
    await eventually(() => expect(reached).toBe(true));
    const stopped = consumer.stop();
    stopRequested();
    await stopped;
    return received;
  }

  it('removes the messages every group of their topic has checkpointed past, and only those of that topic', async () => {
    const [topic, other] = [newTopic(), newTopic()];
    await bus.publish([...messagesOf(topic, 20), ...messagesOf(other, 5)]);
    await consumeAll(newGroup('a'), topic, 20);
    await consumeAll(newGroup('b'), topic, 20);
    await consumeUpTo(newGroup('other'), other, 2);

    expect(await bus.pruneLog()).toBe(20 + 2);
    expect(seqsInLog(topic)).toEqual([]);
    expect(seqsInLog(other)).toEqual([2, 3, 4]);
    expect(await bus.pruneLog()).toBe(0);
    // Offsets are never reused (AUTOINCREMENT), even with the table emptied of a topic: a new message comes after.
    const last = db.prepare(`SELECT max("offset") FROM bus_messages`).pluck().get() as number;
    await bus.publish([busMessage(topic, 'k', 20)]);
    expect(db.prepare(`SELECT "offset" FROM bus_messages WHERE topic = ?`).pluck().get(topic)).toBeGreaterThan(last);
    expect((await bus.health()).detail).toMatch(/last offset [1-9]/);
  });

  it('keeps what a slow group still needs; restarted after the pruning, it gets everything it had not checkpointed, once', async () => {
    const topic = newTopic();
    const messages = messagesOf(topic, 20);
    await bus.publish(messages);
    const [fast, slow] = [newGroup('fast'), newGroup('slow')];
    await consumeAll(fast, topic, 20);
    expect((await consumeUpTo(slow, topic, 7)).map(seqOf)).toEqual([0, 1, 2, 3, 4, 5, 6]);

    await bus.pruneLog();
    expect(seqsInLog(topic)).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);

    const again: DeliveredMessage[] = [];
    consumers.push(await bus.consume({ group: slow, topics: [topic], handler: async (message) => void again.push(message) }));
    await eventually(() => expect(again.map(seqOf)).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]));
    expect(again.map((message) => message.id)).toEqual(messages.slice(7).map((message) => message.id));
  });

  it('keeps everything for a known group that has no checkpoint yet (subscribed, nothing finished)', async () => {
    const topic = newTopic();
    await bus.publish(messagesOf(topic, 10));
    await consumeAll(newGroup('done'), topic, 10);
    const stuck = newGroup('stuck');
    await consumeUpTo(stuck, topic, 0);
    expect(checkpointOf(stuck, topic)).toBeUndefined();

    await bus.pruneLog();
    expect(seqsInLog(topic)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('never prunes a topic no group consumes, nor dead letters', async () => {
    const [unconsumed, topic] = [newTopic(), newTopic()];
    await bus.publish(messagesOf(unconsumed, 3));
    const messages = messagesOf(topic, 4);
    await bus.publish(messages);
    const group = newGroup('poisoned');
    const handled: number[] = [];
    const consumer = await bus.consume({
      group,
      topics: [topic],
      handler: async (message) => {
        if (seqOf(message) === 1) throw new PoisonMessageError('cannot be read');
        handled.push(seqOf(message));
      },
    });
    await eventually(() => expect(handled).toEqual([0, 2, 3]));
    await consumer.stop();

    await bus.pruneLog();
    expect(seqsInLog(topic)).toEqual([]);
    expect(seqsInLog(unconsumed)).toEqual([0, 1, 2]);
    const deadLetters = db.prepare(`SELECT message_id, dlq_group FROM bus_messages WHERE topic = ?`).all(Topics.deadLetterOf(topic));
    expect(deadLetters).toEqual([{ message_id: messages[1].id, dlq_group: group }]);
  });

  it('a crash between handling and checkpointing loses nothing: the pruning stops at the written checkpoint', async () => {
    const topic = newTopic();
    const messages = messagesOf(topic, 10);
    await bus.publish(messages);
    await consumeAll(newGroup('past'), topic, 10);
    const group = newGroup('crashing');

    // The crashing group runs through its own handle, with checkpoints that would be written only after an hour.
    const crashingDb = openFile(db.name);
    const crashingBus = new EmbeddedEventBus({ db: crashingDb, checkpointIntervalMs: 3_600_000, pruning: false, logger: quiet });
    const handled: DeliveredMessage[] = [];
    await crashingBus.consume({ group, topics: [topic], handler: async (message) => void handled.push(message) });
    await eventually(() => expect(handled).toHaveLength(10));
    await bus.pruneLog();
    expect(seqsInLog(topic)).toHaveLength(10); // handled, not checkpointed: nothing of it may go
    crashingDb.close(); // the crash: the handle is gone before any checkpoint was written
    await crashingBus.close();
    expect(checkpointOf(group, topic)).toBeUndefined();

    await bus.pruneLog();
    const redelivered: DeliveredMessage[] = [];
    consumers.push(await bus.consume({ group, topics: [topic], handler: async (message) => void redelivered.push(message) }));
    await eventually(() => expect(redelivered.map((message) => message.id)).toEqual(messages.map((message) => message.id)));
  });

  it('a group never seen before starts at the earliest message still in the log; fromBeginning: false at its end', async () => {
    const topic = newTopic();
    await bus.publish(messagesOf(topic, 6));
    await consumeAll(newGroup('first'), topic, 6);
    await bus.pruneLog();
    await bus.publish([busMessage(topic, 'k', 6), busMessage(topic, 'k', 7)]);

    const late: DeliveredMessage[] = [];
    consumers.push(await bus.consume({ group: newGroup('late'), topics: [topic], handler: async (message) => void late.push(message) }));
    await eventually(() => expect(late.map(seqOf)).toEqual([6, 7]));
    const latest: DeliveredMessage[] = [];
    consumers.push(
      await bus.consume({ group: newGroup('latest'), topics: [topic], fromBeginning: false, handler: async (message) => void latest.push(message) }),
    );
    await bus.publish([busMessage(topic, 'k', 8)]);
    await eventually(() => expect(latest.map(seqOf)).toEqual([8]));
  });

  it('forgetGroup lets the log go past a group that will never come back, and is refused while it consumes', async () => {
    const topic = newTopic();
    await bus.publish(messagesOf(topic, 5));
    await consumeAll(newGroup('live'), topic, 5);
    const gone = newGroup('gone');
    await consumeUpTo(gone, topic, 1);
    await bus.pruneLog();
    expect(seqsInLog(topic)).toEqual([1, 2, 3, 4]);

    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started = false;
    const blocking = await bus.consume({
      group: gone,
      topics: [topic],
      handler: async () => {
        started = true;
        await released;
        throw new Error('interrupted by stop');
      },
    });
    await eventually(() => expect(started).toBe(true));
    expect(() => bus.forgetGroup(gone)).toThrow(/is consuming in this process/);
    const stopped = blocking.stop();
    release();
    await stopped;

    bus.forgetGroup(gone);
    expect(checkpointOf(gone, topic)).toBeUndefined();
    await bus.pruneLog();
    expect(seqsInLog(topic)).toEqual([]);
  });

  it('keeps every message at least the retention, counted from when the pruner first saw it in the log', async () => {
    const topic = newTopic();
    let now = 1_000_000;
    // A file of its own: the other tests leave prunable rows behind, and this one counts what a pass deletes.
    const own = openFile(path.join(dir, 'retention.db'));
    const ownBus = new EmbeddedEventBus({ db: own, pruning: false, logger: quiet });
    const pruner = new LogPruner(own, { retainMs: 60_000 }, quiet, () => now);
    const seqs = () =>
      (own.prepare(`SELECT data FROM bus_messages WHERE topic = ? ORDER BY "offset"`).pluck().all(topic) as string[]).map(
        (data) => (JSON.parse(data) as { seq: number }).seq,
      );
    await ownBus.publish(messagesOf(topic, 3));
    const group = newGroup('r');
    await consumeAll(group, topic, 3, ownBus);
    pruner.start(); // samples the log's end: these 3 are older than the retention 60 s from now
    try {
      expect(await pruner.prune()).toBe(0);
      now += 30_000;
      const later = [busMessage(topic, 'k', 3), busMessage(topic, 'k', 4)];
      await ownBus.publish(later);
      await consumeAll(newGroup('r2'), topic, 5, ownBus);
      await consumeAll(group, topic, 2, ownBus); // r goes on from its checkpoint: the 2 new ones
      expect(await pruner.prune()).toBe(0); // 30 s: nothing is old enough yet
      now += 30_000;
      expect(await pruner.prune()).toBe(3); // 60 s: what the first look saw
      expect(seqs()).toEqual([3, 4]);
      now += 30_000;
      expect(await pruner.prune()).toBe(2);
      expect(seqs()).toEqual([]);
    } finally {
      await pruner.stop();
      await ownBus.close();
      own.close();
    }
  });

  it('lets a group gone longer than the expiry stop holding the log back, as Kafka expires its offsets', async () => {
    const topic = newTopic();
    let now = Date.now();
    const own = openFile(path.join(dir, 'expiry.db'));
    const ownBus = new EmbeddedEventBus({ db: own, pruning: false, logger: quiet });
    const live = newGroup('live');
    // The live group consumes through the bus the pruner serves: seen at every pass.
    const pruner = new LogPruner(
      own,
      { retainMs: 60_000, groupExpiryMs: 3_600_000 },
      quiet,
      () => now,
      () => [live],
    );
    const seqs = () => own.prepare('SELECT count(*) FROM bus_messages WHERE topic = ?').pluck().get(topic) as number;
    try {
      await ownBus.publish(messagesOf(topic, 4));
      const gone = await ownBus.consume({ group: newGroup('gone'), topics: [topic], handler: async () => new Promise<void>(() => undefined) });
      void gone.stop(); // subscribed, never checkpointed, never back
      await consumeAll(live, topic, 4, ownBus);
      pruner.start();
      now += 120_000;
      expect(await pruner.prune()).toBe(0); // the gone group still holds everything (seen 2 min ago)
      expect(seqs()).toBe(4);
      now += 3_600_000;
      expect(await pruner.prune()).toBe(4); // gone for more than an hour: only the live group counts
      expect(seqs()).toBe(0);
    } finally {
      await pruner.stop();
      await ownBus.close();
      own.close();
    }
  });

  it('refuses a pruning setting that makes no sense', () => {
    expect(() => new EmbeddedEventBus({ db, logger: quiet, pruning: { batchSize: 0 } })).toThrow(/batchSize must be an integer >= 1/);
  });
});
