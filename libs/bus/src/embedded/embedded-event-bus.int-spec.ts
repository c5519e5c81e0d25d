import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { DeliveredMessage } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { TurnCommit } from '@sigillum/eventstore/sqlite/turn-commit';
import { busMessage, eventBusContract, eventually, newGroup, newTopic } from '@sigillum/testing';
import Database from 'better-sqlite3';
import type { BusConsumer } from '../event-bus.port';
import { EmbeddedEventBus } from './embedded-event-bus';

const quiet = { log: () => undefined, warn: () => undefined, error: (message: string) => console.error(message) };

function openFile(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

describe('EmbeddedEventBus', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-bus-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  let contractDb: Database.Database;
  eventBusContract(
    'embedded (SQLite file)',
    async () => {
      contractDb = openFile(path.join(dir, 'contract.db'));
      return new EmbeddedEventBus({ db: contractDb, retryBackoffMs: 5, pollIntervalMs: 200, logger: quiet });
    },
    async () => {
      contractDb.close();
    },
  );

  describe('embedded specifics', () => {
    let db: Database.Database;
    let bus: EmbeddedEventBus;
    const consumers: BusConsumer[] = [];
    beforeAll(() => {
      db = openFile(path.join(dir, 'specifics.db'));
      bus = new EmbeddedEventBus({ db, retryBackoffMs: 5, pollIntervalMs: 100, logger: quiet });
    });
    afterEach(async () => {
      await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
    });
    afterAll(async () => {
      await bus.close();
      db.close();
    });

    const collectInto = (into: DeliveredMessage[]) => async (message: DeliveredMessage) => void into.push(message);

    it("writes the publishes of one event-loop turn in one commit, the turn's, and settles each once it is committed", async () => {
      const topic = newTopic();
      const reader = openFile(path.join(dir, 'specifics.db'));
      const countRows = () => (reader.prepare('SELECT count(*) AS n FROM bus_messages WHERE topic = ?').get(topic) as { n: number }).n;
      const turn = TurnCommit.of(db) as unknown as { run: () => void };
      const runs = jest.spyOn(turn, 'run');
      const first = bus.publish([busMessage(topic, 'k', 0)]);
      const second = bus.publish([busMessage(topic, 'k', 1), busMessage(topic, 'k', 2)]);
      expect(countRows()).toBe(0); // nothing written yet: the turn has not ended
      await Promise.all([first, second]);
      expect(countRows()).toBe(3);
      expect(runs).toHaveBeenCalledTimes(1);
      runs.mockRestore();
      reader.close();
    });

    it('publishing an already published (topic, id) is a no-op, so at-least-once publishing becomes exactly-once', async () => {
      const topic = newTopic();
      const message = busMessage(topic, 'note-1', 0);
      await bus.publish([message]);
      await bus.publish([message, busMessage(topic, 'note-1', 1)]);
      await bus.publish([{ ...message, data: { changed: true } }]);

      const rows = db.prepare('SELECT message_id, data FROM bus_messages WHERE topic = ? ORDER BY "offset"').all(topic) as {
        message_id: string;
        data: string;
      }[];
      expect(rows).toHaveLength(2);
      expect(rows[0]).toEqual({ message_id: message.id, data: JSON.stringify({ seq: 0 }) });
    });

    it('a second consumer of the same group stands by and takes over, from the checkpoint, when the first stops', async () => {
      const topic = newTopic();
      const group = newGroup();
      const [first, second]: DeliveredMessage[][] = [[], []];
      const active = await bus.consume({ group, topics: [topic], handler: collectInto(first) });
      consumers.push(active, await bus.consume({ group, topics: [topic], handler: collectInto(second) }));

      await bus.publish([busMessage(topic, 'note-1', 0), busMessage(topic, 'note-1', 1)]);
      await eventually(() => expect(first).toHaveLength(2));
      await active.stop();
      await bus.publish([busMessage(topic, 'note-1', 2)]);

      await eventually(() => expect(second.map((message) => (message.data as { seq: number }).seq)).toEqual([2]));
      expect(first).toHaveLength(2);
    });

    it('delivers messages published by another process (another handle on the file) through the poll', async () => {
      const topic = newTopic();
      const received: DeliveredMessage[] = [];
      consumers.push(await bus.consume({ group: newGroup(), topics: [topic], handler: collectInto(received) }));
      await bus.publish([busMessage(topic, 'note-1', 0)]);
      await eventually(() => expect(received).toHaveLength(1)); // now idle, waiting for a notification or the poll
      const otherHandle = openFile(db.name);
      const otherBus = new EmbeddedEventBus({ db: otherHandle, logger: quiet });
      try {
        await otherBus.publish([busMessage(topic, 'note-1', 1)]);
        await eventually(() => expect(received).toHaveLength(2), 5_000);
      } finally {
        await otherBus.close();
        otherHandle.close();
      }
    });

    it('fromBeginning: false starts after what was published before consume()', async () => {
      const topic = newTopic();
      await bus.publish([busMessage(topic, 'note-1', 0)]);
      const received: DeliveredMessage[] = [];
      consumers.push(await bus.consume({ group: newGroup(), topics: [topic], fromBeginning: false, handler: collectInto(received) }));
      await bus.publish([busMessage(topic, 'note-1', 1)]);
      await eventually(() => expect(received.map((message) => (message.data as { seq: number }).seq)).toEqual([1]));
    });

    it('consumes several topics in log order, with a checkpoint per topic', async () => {
      const [a, b] = [newTopic(), newTopic()];
      const group = newGroup();
      const messages = Array.from({ length: 30 }, (_, seq) => busMessage(seq % 3 === 0 ? a : b, `k-${randomUUID()}`, seq));
      await bus.publish(messages);
      const received: DeliveredMessage[] = [];
      const consumer = await bus.consume({ group, topics: [a, b], handler: collectInto(received) });
      await eventually(() => expect(received).toHaveLength(30));
      await consumer.stop();
      expect(received.map((message) => message.id)).toEqual(messages.map((message) => message.id));
      const checkpoints = db.prepare('SELECT topic, "offset" FROM bus_checkpoints WHERE group_id = ? ORDER BY topic').all(group);
      expect(checkpoints).toEqual(
        [a, b].sort().map((topic) => ({ topic, offset: Math.max(...received.filter((m) => m.topic === topic).map((m) => Number(m.offset))) })),
      );
    });

    const checkpointOf = (group: string, topic: string): number | undefined =>
      db.prepare('SELECT "offset" FROM bus_checkpoints WHERE group_id = ? AND topic = ?').pluck().get(group, topic) as number | undefined;
    const offsetOf = (topic: string, id: string): number =>
      db.prepare('SELECT "offset" FROM bus_messages WHERE topic = ? AND message_id = ? AND dlq_group = \'\'').pluck().get(topic, id) as number;

    it('handles up to maxInFlight messages at once, never two of one key, each key in order', async () => {
      const topic = newTopic();
      const keys = Array.from({ length: 10 }, (_, index) => `k${index}-${randomUUID()}`);
      const messages = Array.from({ length: 8 }, (_, seq) => keys.map((key) => busMessage(topic, key, seq))).flat();
      const active = new Set<string>();
      let peak = 0;
      const overlaps: string[] = [];
      const seen = new Map<string, number[]>(keys.map((key) => [key, []]));
      consumers.push(
        await bus.consume({
          group: newGroup(),
          topics: [topic],
          maxInFlight: 4,
          handler: async (message) => {
            if (active.has(message.key)) overlaps.push(message.id);
            active.add(message.key);
            peak = Math.max(peak, active.size);
            await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
            seen.get(message.key)!.push((message.data as { seq: number }).seq);
            active.delete(message.key);
          },
        }),
      );
      await bus.publish(messages);
      await eventually(() => expect([...seen.values()].flat()).toHaveLength(messages.length));
      expect(overlaps).toEqual([]);
      expect(peak).toBe(4);
      for (const key of keys) expect(seen.get(key)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it('maxInFlight: 1 handles the log strictly one message at a time, in log order', async () => {
      const topic = newTopic();
      const messages = Array.from({ length: 40 }, (_, seq) => busMessage(topic, `k${seq % 7}-${topic}`, seq));
      let active = 0;
      let peak = 0;
      const received: string[] = [];
      consumers.push(
        await bus.consume({
          group: newGroup(),
          topics: [topic],
          maxInFlight: 1,
          handler: async (message) => {
            peak = Math.max(peak, ++active);
            await new Promise((resolve) => setTimeout(resolve, Math.random() * 2));
            received.push(message.id);
            active--;
          },
        }),
      );
      await bus.publish(messages);
      await eventually(() => expect(received).toHaveLength(40));
      expect(received).toEqual(messages.map((message) => message.id));
      expect(peak).toBe(1);
    });

    it('refuses a maxInFlight below 1', async () => {
      await expect(bus.consume({ group: newGroup(), topics: [newTopic()], maxInFlight: 0, handler: async () => undefined })).rejects.toThrow(
        /maxInFlight must be an integer >= 1/,
      );
    });

    it('the checkpoint never passes an unfinished message, even when later ones finished: they come again after a restart', async () => {
      const topic = newTopic();
      const group = newGroup();
      const stuck = busMessage(topic, `stuck-${randomUUID()}`, 0);
      const others = Array.from({ length: 6 }, (_, index) => busMessage(topic, `other-${index}-${randomUUID()}`, index + 1));
      await bus.publish([stuck, ...others]);
      let stopRequested!: () => void;
      const stopping = new Promise<void>((resolve) => (stopRequested = resolve));
      const firstRun: string[] = [];
      const first = await bus.consume({
        group,
        topics: [topic],
        maxInFlight: 4,
        handler: async (message) => {
          if (message.id === stuck.id) {
            await stopping;
            throw new Error('interrupted by stop');
          }
          firstRun.push(message.id);
        },
      });
      // Every other message is handled while the first one is still unfinished...
      await eventually(() => expect(firstRun).toEqual(others.map((message) => message.id)));
      const stopped = first.stop();
      stopRequested();
      await stopped;
      // ...yet the checkpoint stays before it.
      expect(checkpointOf(group, topic) ?? 0).toBeLessThan(offsetOf(topic, stuck.id));

      const secondRun: string[] = [];
      consumers.push(await bus.consume({ group, topics: [topic], handler: async (message) => void secondRun.push(message.id) }));
      await eventually(() => expect(secondRun).toEqual([stuck, ...others].map((message) => message.id)));
    });

    it('writes checkpoints by timer, one commit per interval, and at stop: a crash redelivers at most that interval', async () => {
      const slowCheckpoints = new EmbeddedEventBus({ db, checkpointIntervalMs: 300, pollIntervalMs: 100, logger: quiet });
      const topic = newTopic();
      const group = newGroup();
      const received: string[] = [];
      const consumer = await slowCheckpoints.consume({ group, topics: [topic], handler: async (message) => void received.push(message.id) });
      try {
        const messages = Array.from({ length: 5 }, (_, seq) => busMessage(topic, `k-${seq}`, seq));
        await slowCheckpoints.publish(messages);
        await eventually(() => expect(received).toHaveLength(5));
        expect(checkpointOf(group, topic)).toBeUndefined(); // handled, not yet written: a crash now would redeliver them
        await eventually(() => expect(checkpointOf(group, topic)).toBe(offsetOf(topic, messages[4].id)), 2_000);
        const last = busMessage(topic, 'k-5', 5);
        await slowCheckpoints.publish([last]);
        await eventually(() => expect(received).toHaveLength(6));
        await consumer.stop(); // stop writes at once
        expect(checkpointOf(group, topic)).toBe(offsetOf(topic, last.id));
      } finally {
        await slowCheckpoints.close();
      }
    });

    it('shares its file with the SQLite event store', async () => {
      const store = new SqliteEventStore({ db });
      await store.close(); // leaves the shared handle open

      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
      expect(tables).toEqual(expect.arrayContaining(['bus_checkpoints', 'bus_messages', 'events', 'schema_versions', 'streams']));
      const versions = db.prepare('SELECT component, version FROM schema_versions ORDER BY component').all();
      expect(versions).toEqual(
        expect.arrayContaining([
          { component: 'bus', version: 4 },
          { component: 'eventstore', version: 2 },
        ]),
      );
    });
  });
});
