import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import type { RecordedEvent } from '@sigillum/contracts';
import { eventStoreContract, pendingEvent } from '@sigillum/testing';
import { createEventStore } from '../event-store.factory';
import { DuplicateEventIdError } from '../event-store.port';
import { migratePostgresSchema, POSTGRES_SCHEMA_VERSION } from './migrations';
import { PostgresEventStore, type PostgresEventStoreOptions } from './postgres-event-store';

/**
 * Runs against DATABASE_URL when set (`.ci/run` sets it); otherwise against the machine's PostgreSQL at
 * 127.0.0.1:5432 (trust auth, database `test`) if one answers; otherwise says SKIPPED. Every run works in fresh
 * schemas (`sigillum_t<random>_*`) and drops them at the end.
 */
const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/test';
const databaseUrl = process.env.DATABASE_URL || (answers(LOCAL_URL) ? LOCAL_URL : undefined);
const RUN = `sigillum_t${randomUUID().replace(/-/g, '').slice(0, 10)}`;

/** A synchronous probe (the suites are declared synchronously): can pg connect and run a query? */
function answers(url: string): boolean {
  const probe = spawnSync(
    process.execPath,
    ['-e', "const c=new (require('pg').Client)(process.argv[1]);c.connect().then(()=>c.query('select 1')).then(()=>process.exit(0),()=>process.exit(1))", url],
    { timeout: 5_000, stdio: 'ignore' },
  );
  return probe.status === 0;
}

async function dropSchemas(url: string, prefix: string): Promise<void> {
  const admin = new Pool({ connectionString: url, max: 1 });
  try {
    const { rows } = await admin.query<{ name: string }>("SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE $1 || '%'", [prefix]);
    for (const { name } of rows) await admin.query(`DROP SCHEMA "${name}" CASCADE`);
  } finally {
    await admin.end();
  }
}

if (!databaseUrl) {
  process.stdout.write(
    'PostgreSQL event store suite SKIPPED: no DATABASE_URL and no PostgreSQL at 127.0.0.1:5432 (database "test", trust auth). ' +
      'Set DATABASE_URL=postgres://user@host:5432/db, or start the local one: ' +
      'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n',
  );
  describe('EventStore contract: PostgreSQL', () => {
    it.skip('needs DATABASE_URL or a PostgreSQL at 127.0.0.1:5432', () => undefined);
  });
} else {
  const url = databaseUrl;
  eventStoreContract('PostgreSQL', () => PostgresEventStore.open({ connectionString: url, schema: `${RUN}_contract` }));

  describe('PostgresEventStore', () => {
    let admin: Pool;
    const open: PostgresEventStore[] = [];
    let schemaCount = 0;

    function freshSchema(): string {
      return `${RUN}_${++schemaCount}`;
    }

    async function openStore(options: Partial<PostgresEventStoreOptions> = {}): Promise<PostgresEventStore> {
      const store = await PostgresEventStore.open({ connectionString: url, schema: freshSchema(), ...options });
      open.push(store);
      return store;
    }

    beforeAll(() => {
      admin = new Pool({ connectionString: url, max: 2 });
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((store) => store.close()));
    });
    afterAll(async () => {
      await admin.end();
      await dropSchemas(url, RUN);
    });

    describe('migrations', () => {
      it('are versioned in schema_migrations and idempotent: a second run applies nothing', async () => {
        const schema = freshSchema();
        const pool = new Pool({ connectionString: url, max: 2 });
        try {
          await expect(migratePostgresSchema(pool, schema)).resolves.toEqual({ applied: [1, 2] });
          await expect(migratePostgresSchema(pool, schema)).resolves.toEqual({ applied: [] });
        } finally {
          await pool.end();
        }
        const { rows } = await admin.query(`SELECT version, name FROM "${schema}".schema_migrations ORDER BY version`);
        expect(rows).toEqual([
          { version: 1, name: 'events' },
          { version: 2, name: 'relay checkpoints' },
        ]);
        expect(POSTGRES_SCHEMA_VERSION).toBe(2);
      });

      it('take turns when several processes migrate the same schema at once', async () => {
        const schema = freshSchema();
        const pools = Array.from({ length: 4 }, () => new Pool({ connectionString: url, max: 1 }));
        try {
          const outcomes = await Promise.all(pools.map((pool) => migratePostgresSchema(pool, schema)));
          expect(outcomes.map((outcome) => outcome.applied).flat()).toEqual([1, 2]);
        } finally {
          await Promise.all(pools.map((pool) => pool.end()));
        }
        const { rows } = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".schema_migrations`);
        expect(rows[0].n).toBe(2);
      });

      it('refuses a schema written by a newer release, and a schema name that is not an identifier', async () => {
        const store = await openStore();
        await admin.query(`INSERT INTO "${store.schema}".schema_migrations (version, name) VALUES (99, 'future')`);

        await expect(PostgresEventStore.open({ connectionString: url, schema: store.schema })).rejects.toThrow(/schema version 99.*Upgrade Sigillum/);
        expect(() => new PostgresEventStore({ connectionString: url, schema: 'x"; DROP TABLE y; --' })).toThrow(/Invalid PostgreSQL schema name/);
      });
    });

    it('refuses an append that reuses an event id and writes none of it; health is up, then down once closed', async () => {
      const store = await openStore();
      const taken = pendingEvent('NoteTaken', {});
      await store.append('note-1', [taken], 'no-stream');

      const refused = store.append('note-2', [pendingEvent('NoteTaken', {}), pendingEvent('NoteTaken', {}, { eventId: taken.metadata.eventId })], 'no-stream');

      await expect(refused).rejects.toBeInstanceOf(DuplicateEventIdError);
      await expect(refused).rejects.toThrow(taken.metadata.eventId);
      expect(await store.readStream('note-2')).toEqual([]);
      await expect(store.health()).resolves.toMatchObject({ up: true });
      await store.close();
      await expect(store.health()).resolves.toMatchObject({ up: false });
      await expect(store.append('note-1', [pendingEvent('NoteTaken', {})], 'any')).rejects.toThrow(/closed/);
    });

    it('is what createEventStore gives for kind "postgres" (EVENT_STORE=postgres), migrating on first use', async () => {
      const schema = freshSchema();
      const store = createEventStore({ kind: 'postgres', connectionString: url, schema });
      try {
        expect(store).toBeInstanceOf(PostgresEventStore);
        await expect(store.append('note-1', [pendingEvent('NoteTaken', {})], 'no-stream')).resolves.toMatchObject({ nextExpectedVersion: 0 });
        await expect(store.health()).resolves.toEqual({ up: true, detail: `postgres schema ${schema}` });
      } finally {
        await store.close();
      }
    });

    it('concurrent writers with delayed commits: a reader polling readAll sees every event exactly once, in global order, never skipping the slow ones', async () => {
      const store = await openStore({ poolSize: 16 });
      const slowMs = 700;
      // A second instance on the same schema whose appends to "slow-*" streams hold their transaction open after
      // the insert (pg_sleep), one of them then rolling back; meanwhile the fast writers commit later positions.
      const slowWriter = await PostgresEventStore.open({
        connectionString: url,
        schema: store.schema,
        poolSize: 4,
        beforeCommit: async (client, streamId) => {
          if (!streamId.startsWith('slow')) return;
          await client.query('SELECT pg_sleep($1::float8 / 1000)', [slowMs]);
          awake.set(streamId, step++);
          if (streamId.startsWith('slowrollback')) throw new Error('deliberate rollback after the delay');
        },
      });
      open.push(slowWriter);

      // Order of events in this test, not wall-clock time: `step` counts, `at` is the step an append resolved at,
      // `awake` the step a slow transaction woke at, just before its commit.
      let step = 0;
      const awake = new Map<string, number>();
      const committed = new Map<string, { at: number; position: bigint; streamId: string }>();
      const rolledBack: string[] = [];
      let slowSettled = false;

      const fastWriter = async (writer: number) => {
        const streamId = `fast-${writer}-${randomUUID()}`;
        let version = -1;
        let extraRounds = 3;
        while (!slowSettled || extraRounds-- > 0) {
          const events = version % 3 === 0 ? [pendingEvent('Fast', { writer }), pendingEvent('Fast', { writer })] : [pendingEvent('Fast', { writer })];
          const result = await store.append(streamId, events, version === -1 ? 'no-stream' : version);
          version = result.nextExpectedVersion;
          for (const { metadata } of events) committed.set(metadata.eventId, { at: step++, position: result.lastGlobalPosition, streamId });
          await sleep(5);
        }
      };
      const slowAppend = async (delayMs: number, kind: 'slow' | 'slowrollback') => {
        await sleep(delayMs);
        const events = [pendingEvent('Slow', { kind }), pendingEvent('Slow', { kind })];
        const streamId = `${kind}-${randomUUID()}`;
        try {
          const result = await slowWriter.append(streamId, events, 'no-stream');
          for (const { metadata } of events) committed.set(metadata.eventId, { at: step++, position: result.lastGlobalPosition, streamId });
        } catch (error) {
          if (kind !== 'slowrollback') throw error;
          rolledBack.push(...events.map(({ metadata }) => metadata.eventId));
        }
      };

      // The reader under test, and a naive one (position > last seen, no horizon) to show the gap is real.
      const seen: RecordedEvent[] = [];
      const naiveSeen: string[] = [];
      let reading = true;
      const reader = (async () => {
        let checkpoint: bigint | undefined;
        while (reading) {
          const page = await store.readAll({ after: checkpoint, maxCount: 7 });
          for (const event of page) {
            seen.push(event);
            checkpoint = event.globalPosition;
          }
          if (page.length < 7) await sleep(3);
        }
      })();
      const naiveReader = (async () => {
        let checkpoint = 0n;
        while (reading) {
          const { rows } = await admin.query<{ position: string; event_id: string }>(
            `SELECT global_position::text AS position, event_id::text FROM "${store.schema}".events
               WHERE global_position > $1 ORDER BY global_position LIMIT 50`,
            [checkpoint.toString()],
          );
          for (const row of rows) {
            naiveSeen.push(row.event_id);
            checkpoint = BigInt(row.position);
          }
          await sleep(3);
        }
      })();
      const delivered: RecordedEvent[] = [];
      const subscription = store.subscribeAll(async (event) => void delivered.push(event));

      const started = performance.now();
      const writers = Array.from({ length: 8 }, (_, writer) => fastWriter(writer));
      await Promise.all([slowAppend(50, 'slow'), slowAppend(150, 'slowrollback'), slowAppend(300, 'slow'), slowAppend(320, 'slow')]);
      slowSettled = true;
      await Promise.all(writers);
      const writtenIn = performance.now() - started;
      await waitUntil(() => seen.length >= committed.size && delivered.length >= committed.size, 10_000);
      await sleep(300); // would reveal duplicates or late strays
      reading = false;
      await Promise.all([reader, naiveReader]);
      await subscription.stop();

      const ids = seen.map((event) => event.metadata.eventId);
      // Exactly once, nothing rolled back, nothing missing.
      expect(new Set(ids).size).toBe(ids.length);
      expect(new Set(ids)).toEqual(new Set(committed.keys()));
      expect(ids.filter((id) => rolledBack.includes(id))).toEqual([]);
      expect(rolledBack).toHaveLength(2);
      // In the order of the global positions it reports, which is also each stream's revision order.
      for (let index = 1; index < seen.length; index++) expect(seen[index].globalPosition).toBeGreaterThan(seen[index - 1].globalPosition);
      const revisions = new Map<string, number>();
      for (const event of seen) {
        expect(event.streamRevision).toBe((revisions.get(event.streamId) ?? -1) + 1);
        revisions.set(event.streamId, event.streamRevision);
      }
      // The subscription delivered the same sequence.
      expect(delivered.map((event) => event.metadata.eventId)).toEqual(ids);

      // The scenario did happen: each slow append's events sit before fast events that had committed while it slept
      // (their append resolved before the slow transaction woke to commit)...
      const slowIds = seen.filter((event) => event.streamId.startsWith('slow-')).map((event) => event.metadata.eventId);
      expect(slowIds).toHaveLength(6);
      for (const slowId of slowIds) {
        const slow = committed.get(slowId)!;
        const woke = awake.get(slow.streamId)!;
        const overtaken = [...committed.values()].filter((fast) => fast.streamId.startsWith('fast-') && fast.position > slow.position && fast.at < woke);
        expect(overtaken.length).toBeGreaterThan(0);
      }
      // ...and a reader without the horizon skipped some of them for good.
      const naiveMissed = slowIds.filter((id) => !naiveSeen.includes(id));
      expect(naiveMissed.length).toBeGreaterThan(0);
      process.stdout.write(
        `gap test: ${committed.size} events committed by 8 fast writers and 3 slow (${slowMs} ms) transactions in ` +
          `${Math.round(writtenIn)} ms, 1 slow rolled back; readAll saw all ${seen.length} exactly once; ` +
          `a naive position reader missed ${naiveMissed.length} of the 6 slow events\n`,
      );
    }, 30_000);

    it('an append that waited for a slow writer of the same stream sorts after it in global order', async () => {
      const store = await openStore();
      let holding: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (holding = resolve));
      const slowWriter = await PostgresEventStore.open({
        connectionString: url,
        schema: store.schema,
        beforeCommit: async (client) => {
          holding(); // written, not committed: the stream is locked
          await client.query('SELECT pg_sleep(0.4)');
        },
      });
      open.push(slowWriter);
      const streamId = `note-${randomUUID()}`;
      const marker = await store.append(`other-${randomUUID()}`, [pendingEvent('Marker', {})], 'no-stream');

      const slow = slowWriter.append(streamId, [pendingEvent('NoteTaken', 'first')], 'no-stream');
      await held; // the slow writer holds the stream lock, asleep before its commit (an event, not a guessed delay)
      const waiting = store.append(streamId, [pendingEvent('NoteTagged', 'second')], 'any');
      const [first, second] = await Promise.all([slow, waiting]);

      expect([first.nextExpectedVersion, second.nextExpectedVersion]).toEqual([0, 1]);
      expect(second.lastGlobalPosition).toBeGreaterThan(first.lastGlobalPosition);
      const all = (await store.readAll({ after: marker.lastGlobalPosition })).filter((event) => event.streamId === streamId);
      expect(all.map((event) => [event.streamRevision, event.event.data])).toEqual([
        [0, 'first'],
        [1, 'second'],
      ]);
    });

    describe('subscriptions', () => {
      // No latency bound: the poll is 60 s away and the test's own timeout 20 s, so any delivery came from a notification.
      it('wake on NOTIFY from another instance, without waiting for the poll', async () => {
        const subscriber = await openStore({ pollIntervalMs: 60_000 });
        const writer = await PostgresEventStore.open({ connectionString: url, schema: subscriber.schema });
        open.push(writer);
        const received: RecordedEvent[] = [];
        subscriber.subscribeAll(async (event) => void received.push(event));
        await waitUntil(() => subscriber.listenerProcessId !== undefined, 5_000);

        for (let round = 0; round < 3; round++) {
          await writer.append(`note-${randomUUID()}`, [pendingEvent('NoteTaken', { round })], 'no-stream');
          await waitUntil(() => received.length === round + 1, 5_000); // a hang guard, far below the 60 s poll
        }
        expect(received.map((event) => event.event.data)).toEqual([{ round: 0 }, { round: 1 }, { round: 2 }]);
      }, 20_000);

      it('fall back to polling when notifications are lost (LISTEN connection killed), and listen again later', async () => {
        const subscriber = await openStore({ pollIntervalMs: 200, listenReconnectMs: 3_000 });
        const writer = await PostgresEventStore.open({ connectionString: url, schema: subscriber.schema });
        open.push(writer);
        const received: RecordedEvent[] = [];
        subscriber.subscribeAll(async (event) => void received.push(event), { categories: ['note'] });
        await waitUntil(() => subscriber.listenerProcessId !== undefined, 5_000);
        const killed = subscriber.listenerProcessId!;

        await admin.query('SELECT pg_terminate_backend($1)', [killed]);
        await waitUntil(() => subscriber.listenerProcessId === undefined, 5_000);
        await writer.append('note-1', [pendingEvent('NoteTaken', {})], 'no-stream');
        await waitUntil(() => received.length === 1, 2_000);
        expect(subscriber.listenerProcessId).toBeUndefined(); // delivered by the poll, not by a notification

        await waitUntil(() => subscriber.listenerProcessId !== undefined, 8_000);
        expect(subscriber.listenerProcessId).not.toBe(killed);
        await writer.append('note-2', [pendingEvent('NoteTaken', {})], 'no-stream');
        await waitUntil(() => received.length === 2, 2_000);
        expect(received.map((event) => event.streamId)).toEqual(['note-1', 'note-2']);
      }, 20_000);

      it('with listen: false, polling alone delivers', async () => {
        const store = await openStore({ listen: false, pollIntervalMs: 100 });
        const received: RecordedEvent[] = [];
        store.subscribeAll(async (event) => void received.push(event));
        await store.append('note-1', [pendingEvent('NoteTaken', {})], 'no-stream');
        await waitUntil(() => received.length === 1, 2_000);
        expect(store.listenerProcessId).toBeUndefined();
      });
    });
  });
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await sleep(5);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
