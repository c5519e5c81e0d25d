import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Topics, streamIdOf, type DeliveredMessage } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { eventually, newGroup, pendingEvent } from '@sigillum/testing';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { DeadLetterHeaders } from '../event-bus.port';
import { EmbeddedEventBus } from '../embedded/embedded-event-bus';
import { EventRelay } from './event-relay';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

/** A handle on the file as one process has it. */
function open(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

interface BusRow {
  message_id: string;
  data: string;
  event_position: number | null;
}

/**
 * The relay into the embedded bus on the event store's own file: a bus row refers to its event (global position)
 * instead of holding a second copy of its data, and every reader of the log gets the event's data.
 */
describe('EventRelay into the embedded bus on the store’s file: rows refer to the events', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-relay-ref-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const closers: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  function processOn(file: string) {
    const db = open(file);
    const store = new SqliteEventStore({ db, pollIntervalMs: 20 });
    const bus = new EmbeddedEventBus({ db, pollIntervalMs: 30, retryBackoffMs: 5, pruning: false, logger: quiet });
    const relay = new EventRelay({ store, bus, db, retryDelayMs: 20, logger: quiet });
    closers.push(
      () => void db.close(),
      () => store.close(),
      () => bus.close(),
      () => relay.stop(),
    );
    return { db, store, bus, relay };
  }

  async function consume(bus: EmbeddedEventBus, topics: string[], received: DeliveredMessage[], fail = false) {
    const consumer = await bus.consume({
      group: newGroup(),
      topics,
      maxAttempts: 1,
      handler: async (message) => {
        if (fail) throw new Error('refused');
        received.push(message);
      },
    });
    closers.push(() => consumer.stop());
  }

  const topicOf = (category: string) => Topics.eventsOf(category);
  const rowsOf = (db: Database.Database, topic: string) =>
    db.prepare('SELECT message_id, data, event_position FROM bus_messages WHERE topic = ? ORDER BY "offset"').all(topic) as BusRow[];

  it('writes no second copy of the data, and consumers here (tail) and in another process (SQL) get the events', async () => {
    const file = path.join(dir, `shared-${randomBytes(4).toString('hex')}.db`);
    const one = processOn(file);
    const category = `ref${randomBytes(4).toString('hex')}`;
    const here: DeliveredMessage[] = [];
    await consume(one.bus, [topicOf(category)], here);
    const other = new EmbeddedEventBus({ db: open(file), pollIntervalMs: 30, pruning: false, memoryTail: false, logger: quiet });
    closers.push(() => other.close());
    const there: DeliveredMessage[] = [];
    await consume(other, [topicOf(category)], there);
    await one.relay.start();

    const events = Array.from({ length: 5 }, (_, index) => pendingEvent('Noted', { index, text: 'x'.repeat(100) }));
    const traced = { ...events[1], metadata: { ...events[1].metadata, traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01` } };
    events[1] = traced;
    await one.store.append(streamIdOf(category, '1'), events, 'no-stream');

    const ids = events.map((event) => event.metadata.eventId);
    await eventually(() => expect(here.map((message) => message.id)).toEqual(ids));
    await eventually(() => expect(there.map((message) => message.id)).toEqual(ids));
    expect(there.map((message) => message.data)).toEqual(events.map((event) => event.event.data));
    expect(here.map((message) => message.data)).toEqual(events.map((event) => event.event.data));
    const stored = await one.store.readStream(streamIdOf(category, '1'));
    const positions = stored.map((event) => Number(event.globalPosition));
    expect(rowsOf(one.db, topicOf(category))).toEqual(ids.map((id, index) => ({ message_id: id, data: '', event_position: positions[index] })));
    // Here, from the tail, the very data objects the store parsed at its commit (no second parse of the text), and
    // messages equal in every attribute to those decoded from the rows by another process.
    here.forEach((message, index) => expect(message.data).toBe(stored[index].event.data));
    expect(here).toEqual(there);
    expect(here[1].traceparent).toBe(traced.metadata.traceparent);
  });

  it('a dead letter keeps its own copy of the data (the console replays it as it is)', async () => {
    const { db, store, bus, relay } = processOn(path.join(dir, `dlq-${randomBytes(4).toString('hex')}.db`));
    const category = `ref${randomBytes(4).toString('hex')}`;
    await consume(bus, [topicOf(category)], [], true);
    const deadLetters: DeliveredMessage[] = [];
    await consume(bus, [Topics.deadLetterOf(topicOf(category))], deadLetters);
    await relay.start();
    const event = pendingEvent('Noted', { index: 1 });
    await store.append(streamIdOf(category, '1'), [event], 'no-stream');

    await eventually(() => expect(deadLetters).toHaveLength(1));
    expect(deadLetters[0]).toMatchObject({ id: event.metadata.eventId, data: event.event.data });
    expect(rowsOf(db, Topics.deadLetterOf(topicOf(category)))).toEqual([
      { message_id: event.metadata.eventId, data: JSON.stringify(event.event.data), event_position: null },
    ]);
  });

  it('a message whose event the file no longer holds is poison: dead-lettered with the reason', async () => {
    const { db, store, relay } = processOn(path.join(dir, `gone-${randomBytes(4).toString('hex')}.db`));
    const category = `ref${randomBytes(4).toString('hex')}`;
    await relay.start();
    const event = pendingEvent('Noted', { index: 1 });
    await store.append(streamIdOf(category, '1'), [event], 'no-stream');
    await eventually(() => expect(rowsOf(db, topicOf(category))).toHaveLength(1));
    db.prepare('DELETE FROM events WHERE event_id = ?').run(event.metadata.eventId);
    const other = new EmbeddedEventBus({ db: open(db.name), pollIntervalMs: 30, pruning: false, logger: quiet });
    closers.push(() => other.close());
    const received: DeliveredMessage[] = [];
    await consume(other, [topicOf(category)], received);

    const headersOfDeadLetters = () =>
      db
        .prepare('SELECT headers FROM bus_messages WHERE topic = ?')
        .pluck()
        .all(Topics.deadLetterOf(topicOf(category))) as string[];
    await eventually(() => expect(headersOfDeadLetters()).toHaveLength(1));
    expect(received).toEqual([]);
    const reason = (JSON.parse(headersOfDeadLetters()[0]) as Record<string, string>)[DeadLetterHeaders.reason];
    expect(reason).toMatch(/refers to event \d+ of the event store, which this file does not hold/);
  });

  it('copies the data when the bus file does not hold the store’s events', async () => {
    const store = new SqliteEventStore({ filename: ':memory:', pollIntervalMs: 20 });
    const db = open(path.join(dir, `apart-${randomBytes(4).toString('hex')}.db`));
    new SqliteEventStore({ db }); // an events table, but not these events
    const bus = new EmbeddedEventBus({ db, pollIntervalMs: 30, pruning: false, logger: quiet });
    const relay = new EventRelay({ store, bus, db, retryDelayMs: 20, logger: quiet });
    closers.push(
      () => void db.close(),
      () => store.close(),
      () => bus.close(),
      () => relay.stop(),
    );
    const category = `ref${randomBytes(4).toString('hex')}`;
    await relay.start();
    const event = pendingEvent('Noted', { index: 1 });
    await store.append(streamIdOf(category, '1'), [event], 'no-stream');

    await eventually(() =>
      expect(rowsOf(db, topicOf(category))).toEqual([{ message_id: event.metadata.eventId, data: JSON.stringify(event.event.data), event_position: null }]),
    );
  });

  it('migrates a file of the previous bus schema: its rows keep their data, new ones refer', async () => {
    const file = path.join(dir, `old-${randomBytes(4).toString('hex')}.db`);
    const category = `ref${randomBytes(4).toString('hex')}`;
    const old = open(file);
    new EmbeddedEventBus({ db: old, pruning: false, logger: quiet });
    old.exec(`ALTER TABLE bus_messages DROP COLUMN event_position; UPDATE schema_versions SET version = 3 WHERE component = 'bus';`);
    old
      .prepare(
        `INSERT INTO bus_messages (topic, key, message_id, type, source, time, correlation_id, causation_id, data_version, data, headers, dlq_group)
         VALUES (?, 'k', 'old-1', 'sigillum.x.Noted', '/test', '2026-01-01T00:00:00Z', 'c', 'c', 1, '{"old":true}', NULL, '')`,
      )
      .run(topicOf(category));
    old.close();

    const { store, bus, relay } = processOn(file);
    const received: DeliveredMessage[] = [];
    await consume(bus, [topicOf(category)], received);
    await relay.start();
    const event = pendingEvent('Noted', { index: 1 });
    await store.append(streamIdOf(category, '1'), [event], 'no-stream');

    await eventually(() => expect(received.map((message) => message.data)).toEqual([{ old: true }, event.event.data]));
  });
});
