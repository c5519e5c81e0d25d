import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { type BusMessage, streamIdOf } from '@sigillum/contracts';
import { PostgresEventStore, PostgresRelayLease } from '@sigillum/eventstore';
import { eventually, pendingEvent } from '@sigillum/testing';
import Database from 'better-sqlite3';
import type { BusConsumer, ConsumerOptions, EventBus } from '../event-bus.port';
import { EventRelay } from './event-relay';

/**
 * Two instances of one role on one PostgreSQL store: one relays, the other stands by and takes over from the shared
 * checkpoint when the first goes (its lease connection ends, as when its process is killed). Runs against
 * DATABASE_URL or the machine's PostgreSQL at 127.0.0.1:5432; says SKIPPED otherwise.
 */
const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/test';
const databaseUrl = process.env.DATABASE_URL || (answers(LOCAL_URL) ? LOCAL_URL : undefined);
const SCHEMA = `sigillum_lease${randomUUID().replace(/-/g, '').slice(0, 10)}`;
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

function answers(url: string): boolean {
  const probe = spawnSync(
    process.execPath,
    ['-e', "const c=new (require('pg').Client)(process.argv[1]);c.connect().then(()=>c.query('select 1')).then(()=>process.exit(0),()=>process.exit(1))", url],
    { timeout: 5_000, stdio: 'ignore' },
  );
  return probe.status === 0;
}

class RecordingBus implements EventBus {
  readonly published: BusMessage[] = [];
  async publish(messages: readonly BusMessage[]): Promise<void> {
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

if (!databaseUrl) {
  process.stderr.write(
    'Relay lease suite SKIPPED: no DATABASE_URL and no PostgreSQL at 127.0.0.1:5432 (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)\n',
  );
  describe('relay lease on PostgreSQL', () => {
    it.skip('needs DATABASE_URL or a PostgreSQL at 127.0.0.1:5432', () => undefined);
  });
} else {
  describe('relay lease on PostgreSQL: instances of a role take turns', () => {
    let store: PostgresEventStore;
    const relays: EventRelay[] = [];
    const dbs: Database.Database[] = [];

    beforeAll(async () => {
      store = new PostgresEventStore({ connectionString: databaseUrl, schema: SCHEMA, pollIntervalMs: 50 });
      await store.health();
    });
    afterAll(async () => {
      await Promise.all(relays.map((relay) => relay.stop()));
      await store.close();
      dbs.forEach((db) => db.close());
      const admin = new Pool({ connectionString: databaseUrl, max: 1 });
      await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`).finally(() => admin.end());
    });

    function instance(holder: string, bus: EventBus) {
      const lease = new PostgresRelayLease({ connectionString: databaseUrl!, schema: SCHEMA, name: 'relay:job', holder, retryMs: 100 });
      const db = new Database(':memory:');
      dbs.push(db);
      const relay = new EventRelay({ store, bus, db, categories: ['job'], lease, retryDelayMs: 50, logger: quiet });
      relays.push(relay);
      return { relay, lease };
    }

    it('relays through one holder only, and the other resumes from the shared checkpoint when it goes', async () => {
      const [busA, busB] = [new RecordingBus(), new RecordingBus()];
      const a = instance('processor-1', busA);
      await a.relay.start();
      await eventually(async () => expect((await a.relay.health()).detail).toMatch(/relay "relay"/));
      const b = instance('processor-2', busB);
      await b.relay.start();
      await eventually(async () => expect((await b.relay.health()).detail).toMatch(/standing by/));

      const first = Array.from({ length: 20 }, (_, i) => pendingEvent('Noted', { i }));
      await store.append(streamIdOf('job', 'one'), first, 'no-stream');
      await store.append(streamIdOf('other', 'x'), [pendingEvent('Noted', {})], 'no-stream'); // not this relay's category
      await eventually(() => expect(busA.published).toHaveLength(20));
      expect(busB.published).toHaveLength(0);

      // The holder goes (as its process would: its lease connection ends without a goodbye).
      await a.relay.stop();
      const second = Array.from({ length: 15 }, (_, i) => pendingEvent('Noted', { i: 20 + i }));
      await store.append(streamIdOf('job', 'two'), second, 'no-stream');
      await eventually(() => expect(busB.published).toHaveLength(15), 10_000);
      // Nothing lost, nothing published twice: B started from A's checkpoint, not from the beginning.
      const ids = [...busA.published, ...busB.published].map((message) => message.id);
      expect(new Set(ids).size).toBe(35);
      expect(ids).toEqual([...first, ...second].map((event) => event.metadata.eventId));
      expect((await b.relay.health()).up).toBe(true);
    });
  });
}
