import { Topics, streamIdOf, type BusMessage } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { eventually, pendingEvent } from '@sigillum/testing';
import { randomBytes } from 'node:crypto';
import type { BusConsumer, ConsumerOptions, EventBus } from '../event-bus.port';
import { EmbeddedEventBus } from '../embedded/embedded-event-bus';
import { EventRelay } from './event-relay';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

/** A bus that records what it is given and fails while `failing` is set. */
class RecordingBus implements EventBus {
  readonly published: BusMessage[] = [];
  readonly calls: number[] = [];
  failing = false;
  async publish(messages: readonly BusMessage[]): Promise<void> {
    this.calls.push(messages.length);
    if (this.failing) throw new Error('broker unreachable');
    this.published.push(...messages);
  }
  async consume(_options: ConsumerOptions): Promise<BusConsumer> {
    throw new Error('not used');
  }
  async health() {
    return { up: true };
  }
  async close(): Promise<void> {}
}

describe('EventRelay', () => {
  let store: SqliteEventStore;
  let bus: RecordingBus;
  const relays: EventRelay[] = [];
  const category = () => `relay${randomBytes(4).toString('hex')}`;

  beforeEach(() => {
    store = new SqliteEventStore({ filename: ':memory:', pollIntervalMs: 20 });
    bus = new RecordingBus();
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((relay) => relay.stop()));
    await store.close();
  });

  function relay(options: Partial<ConstructorParameters<typeof EventRelay>[0]> = {}): EventRelay {
    const created = new EventRelay({ store, bus, db: store.database, retryDelayMs: 20, logger: quiet, ...options });
    relays.push(created);
    return created;
  }

  async function appendTo(streamId: string, count: number): Promise<string[]> {
    const events = Array.from({ length: count }, (_, index) => pendingEvent('Noted', { index }));
    await store.append(streamId, events, 'any');
    return events.map((event) => event.metadata.eventId);
  }

  it('publishes every event in global order as bus messages on the category topic, in batches', async () => {
    const [a, b] = [category(), category()];
    const ids = [...(await appendTo(streamIdOf(a, '1'), 300)), ...(await appendTo(streamIdOf(b, '1'), 5))];
    await relay({ maxBatchSize: 100 }).start();

    await eventually(() => expect(bus.published.map((message) => message.id)).toEqual(ids));
    expect(bus.published[0]).toMatchObject({ topic: Topics.eventsOf(a), key: streamIdOf(a, '1'), type: `sigillum.${a}.Noted` });
    expect(bus.published[300].topic).toBe(Topics.eventsOf(b));
    expect(Math.max(...bus.calls)).toBe(100);
    expect(bus.calls.length).toBeLessThan(20);
  });

  it('resumes from its persisted checkpoint after a restart, without publishing again what was acknowledged', async () => {
    const streamId = streamIdOf(category(), '1');
    const first = await appendTo(streamId, 10);
    const one = relay({ name: 'resume' });
    await one.start();
    await eventually(() => expect(bus.published).toHaveLength(10));
    await one.stop();
    const second = await appendTo(streamId, 5);

    await relay({ name: 'resume' }).start();

    await eventually(() => expect(bus.published.map((message) => message.id)).toEqual([...first, ...second]));
  });

  it('keeps the checkpoint when the bus fails, reports it, and catches up in order once the bus is back', async () => {
    const streamId = streamIdOf(category(), '1');
    const ids = await appendTo(streamId, 20);
    bus.failing = true;
    const relayUnderTest = relay();
    await relayUnderTest.start();

    const down = await eventually(async () => {
      const health = await relayUnderTest.health();
      expect(health.up).toBe(false);
      return health;
    });
    expect(down).toMatchObject({ checkpoint: null, lag: 20 });
    expect(down.detail).toMatch(/retrying after: publishing from position \d+ \(stream .+\) failed: broker unreachable/);
    ids.push(...(await appendTo(streamId, 3)));
    bus.failing = false;

    await eventually(() => expect(bus.published.map((message) => message.id)).toEqual(ids));
    await eventually(async () => expect(await relayUnderTest.health()).toMatchObject({ up: true, lag: 0 }));
  });

  it('relays only the given categories, and nothing at all for an empty list', async () => {
    const [mine, theirs] = [category(), category()];
    const ids = await appendTo(streamIdOf(mine, '1'), 3);
    await appendTo(streamIdOf(theirs, '1'), 3);
    await relay({ categories: [mine] }).start();
    const idle = relay({ name: 'idle', categories: [] });
    await idle.start();

    await eventually(() => expect(bus.published.map((message) => message.id)).toEqual(ids));
    expect(await idle.health()).toMatchObject({ up: true, detail: 'no stream category to relay' });
  });

  it('reports a publish that hangs, and stop() does not wait for it beyond stopTimeoutMs', async () => {
    const streamId = streamIdOf(category(), '1');
    await appendTo(streamId, 2);
    let publishes = 0;
    bus.publish = () => {
      publishes++;
      return new Promise<void>(() => undefined); // a broker that never answers
    };
    const stuck = relay({ stopTimeoutMs: 50, stalledAfterMs: 20 });
    await stuck.start();

    await eventually(async () => expect(await stuck.health()).toMatchObject({ up: false, detail: expect.stringMatching(/is the bus reachable/) }));
    await stuck.stop();
    expect(publishes).toBe(1);
    expect(await stuck.health()).toMatchObject({ checkpoint: null, lag: 2 });
  });

  it('on the embedded bus in its own file, writes the bus rows and its checkpoint in one transaction', async () => {
    const embedded = new EmbeddedEventBus({ db: store.database, logger: quiet });
    const topicCategory = category();
    const streamId = streamIdOf(topicCategory, '1');
    const db = store.database;
    const busRows = () => db.prepare('SELECT count(*) FROM bus_messages WHERE topic = ?').pluck().get(Topics.eventsOf(topicCategory)) as number;
    const sameFile = relay({ bus: embedded, name: 'same-file' });
    await sameFile.start(); // creates relay_checkpoints
    // The checkpoint write fails: the bus rows of the same batch must roll back with it.
    db.exec(`CREATE TRIGGER refuse_checkpoint BEFORE INSERT ON relay_checkpoints BEGIN SELECT RAISE(ABORT, 'disk says no'); END;`);
    try {
      const ids = await appendTo(streamId, 3);
      await eventually(async () => expect((await sameFile.health()).detail).toMatch(/disk says no/));
      expect(busRows()).toBe(0);

      db.exec('DROP TRIGGER refuse_checkpoint');
      await eventually(() => expect(busRows()).toBe(3));
      await eventually(async () => expect(await sameFile.health()).toMatchObject({ up: true, lag: 0 }));
      const published = db.prepare('SELECT message_id FROM bus_messages WHERE topic = ? ORDER BY "offset"').pluck().all(Topics.eventsOf(topicCategory));
      expect(published).toEqual(ids);
    } finally {
      db.exec('DROP TRIGGER IF EXISTS refuse_checkpoint');
      await embedded.close();
    }
  });

  it('is down before start and after stop', async () => {
    const relayUnderTest = relay();
    expect(await relayUnderTest.health()).toMatchObject({ up: false, detail: expect.stringContaining('not started') });
    await relayUnderTest.start();
    await relayUnderTest.stop();
    expect(await relayUnderTest.health()).toMatchObject({ up: false, detail: expect.stringContaining('stopped') });
  });
});
