import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_MAX_IN_FLIGHT, EmbeddedEventBus, EventRelay } from '@sigillum/bus';
import { Topics } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import Database from 'better-sqlite3';
import { progressLine, within } from '../common/report';
import { benchLogger, CountingBus } from './counting-bus';
import { Countdown, notes, Progress, ratioText, record, seconds } from './results';
import { CATEGORY, CEILING_RUNS, type Payload, type Settings, STORE_BATCH_SIZE } from './setup';

// The SQLite phases of bus.bench.ts: raw ceilings, SqliteEventStore appends, the relay, the embedded bus, end to end.

function openDb(file: string, synchronous: Settings['synchronous']): Database.Database {
  // The same pragmas as the runtime's openLocalDatabase (libs/runtime/src/adapters.ts).
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('busy_timeout = 5000');
  return db;
}

const RAW_EVENTS_TABLE = `CREATE TABLE raw_events (
  id INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, stream_revision INTEGER NOT NULL, event_id TEXT NOT NULL,
  event_type TEXT NOT NULL, event_version INTEGER NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL)`;

/** Plain-table inserts, one transaction per STORE_BATCH_SIZE rows, serialising data and metadata as the store does. */
function rawInsert(db: Database.Database, table: string, payloads: readonly Payload[], progress?: Progress, batchSize = STORE_BATCH_SIZE): void {
  const insert = db.prepare(
    `INSERT INTO ${table} (stream_id, stream_revision, event_id, event_type, event_version, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const writeBatch = db.transaction((batch: readonly Payload[]) => {
    for (const { streamId, pending } of batch) {
      insert.run(
        streamId,
        0,
        pending.metadata.eventId,
        pending.event.type,
        pending.event.version,
        JSON.stringify(pending.event.data),
        JSON.stringify(pending.metadata),
      );
    }
  });
  for (let start = 0; start < payloads.length; start += batchSize) {
    writeBatch.immediate(payloads.slice(start, start + batchSize));
    progress?.update(Math.min(start + batchSize, payloads.length));
  }
}

export async function benchSqlite(settings: Settings, payloads: readonly Payload[], dir: string, open: Database.Database[]) {
  const n = payloads.length;
  const track = (db: Database.Database) => (open.push(db), db);

  // 1. Raw ceiling: warm up the code path on a throwaway table, then measure on a fresh one.
  const raw = track(openDb(path.join(dir, 'raw.db'), settings.synchronous));
  raw.exec(RAW_EVENTS_TABLE.replace('raw_events', 'warmup'));
  rawInsert(raw, 'warmup', payloads.slice(0, Math.min(n, 2_000)));
  raw.exec('DROP TABLE warmup');
  progressLine(`raw better-sqlite3 insert, ${STORE_BATCH_SIZE} rows per transaction (best of ${CEILING_RUNS})`);
  let insertSeconds = Infinity;
  for (let run = 0; run < CEILING_RUNS; run++) {
    raw.exec(RAW_EVENTS_TABLE.replace('raw_events', `raw_events_${run}`));
    const started = performance.now();
    rawInsert(raw, `raw_events_${run}`, payloads, run === 0 ? new Progress('raw insert', n) : undefined);
    insertSeconds = Math.min(insertSeconds, seconds(started));
  }
  record({ id: 'sqlite.raw.insert', adapter: 'sqlite (raw)', operation: `insert, ${STORE_BATCH_SIZE}/tx`, count: n, seconds: insertSeconds });
  let start: number;

  // The same with one row per transaction: what one-by-one appends cannot go below (a commit each).
  raw.exec(RAW_EVENTS_TABLE.replace('raw_events', 'raw_events_single'));
  progressLine('raw better-sqlite3 insert, 1 row per transaction');
  start = performance.now();
  rawInsert(raw, 'raw_events_single', payloads, new Progress('raw insert 1/tx', n), 1);
  record({ id: 'sqlite.raw.insert1', adapter: 'sqlite (raw)', operation: 'insert, 1/tx', count: n, seconds: seconds(start), ceiling: 'sqlite.raw.insert' });

  // The store's own SQL on the store's own schema (indexes, streams table), without its JS: separates schema cost from adapter cost.
  for (const batchSize of [STORE_BATCH_SIZE, 1]) {
    const schemaDb = track(openDb(path.join(dir, `store-sql-${batchSize}.db`), settings.synchronous));
    await new SqliteEventStore({ db: schemaDb }).close(); // creates the schema, leaves the handle open
    progressLine(`raw better-sqlite3, the store's SQL and schema, ${batchSize} append(s) per transaction`);
    start = performance.now();
    rawStoreSql(schemaDb, payloads, batchSize, new Progress(`raw store SQL ${batchSize}/tx`, n));
    record({
      id: `sqlite.raw.storeSql${batchSize}`,
      adapter: 'sqlite (raw)',
      operation: `store's SQL+schema, ${batchSize}/tx`,
      count: n,
      seconds: seconds(start),
      ceiling: 'sqlite.raw.insert',
    });
  }

  // 2a. Store: all appends issued at once, to distinct streams (group commit).
  const concurrentDb = track(openDb(path.join(dir, 'store-concurrent.db'), settings.synchronous));
  const store = new SqliteEventStore({ db: concurrentDb, maxBatchSize: STORE_BATCH_SIZE });
  progressLine('SqliteEventStore: concurrent appends to distinct streams (group commit)');
  const quarter = Math.ceil(n / 4);
  let progress = new Progress('store concurrent appends', n);
  start = performance.now();
  for (let from = 0; from < n; from += quarter) {
    await Promise.all(payloads.slice(from, from + quarter).map((p) => store.append(p.streamId, [p.pending], 'no-stream')));
    progress.update(Math.min(from + quarter, n));
  }
  record({
    id: 'store.concurrent',
    adapter: 'SqliteEventStore',
    operation: 'append, concurrent (group commit)',
    count: n,
    seconds: seconds(start),
    ceiling: 'sqlite.raw.insert',
  });
  notes.push(
    `SqliteEventStore concurrent appends run at ${ratioText('store.concurrent', `sqlite.raw.storeSql${STORE_BATCH_SIZE}`)} of ` +
      `the store's own SQL and schema run raw, which itself runs at ${ratioText(`sqlite.raw.storeSql${STORE_BATCH_SIZE}`, 'sqlite.raw.insert')} ` +
      'of the plain table: the schema (unique indexes on event_id and (stream_id, revision), the streams table) is that part of the gap, ' +
      'the adapter (a promise, validation and a savepoint per append) the rest.',
  );

  // 2b. Store: one append at a time, each awaited (one transaction per event).
  const serialDb = track(openDb(path.join(dir, 'store-serial.db'), settings.synchronous));
  const serialStore = new SqliteEventStore({ db: serialDb, maxBatchSize: STORE_BATCH_SIZE });
  progressLine('SqliteEventStore: one awaited append at a time');
  progress = new Progress('store awaited appends', n);
  start = performance.now();
  for (let index = 0; index < n; index++) {
    await serialStore.append(payloads[index].streamId, [payloads[index].pending], 'no-stream');
    progress.update(index + 1);
  }
  record({
    id: 'store.serial',
    adapter: 'SqliteEventStore',
    operation: 'append, one by one awaited',
    count: n,
    seconds: seconds(start),
    ceiling: 'sqlite.raw.insert',
  });
  notes.push(
    `SqliteEventStore one-by-one appends run at ${ratioText('store.serial', 'sqlite.raw.storeSql1')} of its own SQL and schema ` +
      `driven raw with one append per transaction (and ${ratioText('store.serial', 'sqlite.raw.insert1')} of plain 1-row transactions): ` +
      'awaiting each append costs one commit per event, and each commit writes every index page it touched to the WAL; ' +
      'concurrent callers share commits.',
  );
  await serialStore.close();

  // Ceiling of the relay: read the same event rows, parse them, and insert bus rows into a plain table.
  progressLine(`raw copy: read event rows, insert bus rows (the relay's ceiling, best of ${CEILING_RUNS})`);
  let copySeconds = Infinity;
  for (let run = 0; run < CEILING_RUNS; run++) {
    raw.exec(`CREATE TABLE raw_bus_${run} (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, key TEXT NOT NULL, message_id TEXT NOT NULL,
      type TEXT NOT NULL, source TEXT NOT NULL, time TEXT NOT NULL, correlation_id TEXT NOT NULL, causation_id TEXT NOT NULL,
      data_version INTEGER NOT NULL, data TEXT NOT NULL)`);
    const started = performance.now();
    rawCopy(concurrentDb, raw, `raw_bus_${run}`, run === 0 ? new Progress('raw copy', n) : undefined);
    copySeconds = Math.min(copySeconds, seconds(started));
  }
  record({ id: 'sqlite.raw.copy', adapter: 'sqlite (raw)', operation: 'copy events -> plain table, 256/tx', count: n, seconds: copySeconds });

  // 3a. Relay store -> embedded bus, catching up on the n events of 2a (store and bus share the file, as in the runtime).
  const bus = new EmbeddedEventBus({ db: concurrentDb, logger: benchLogger('EmbeddedEventBus') });
  const relayed = new CountingBus(bus, 'relay -> embedded bus', n);
  const relay = new EventRelay({ store, bus: relayed, db: concurrentDb, name: 'bench-embedded', logger: benchLogger('EventRelay') });
  progressLine('EventRelay: store -> embedded bus, catch-up of the events appended above');
  start = performance.now();
  await relay.start();
  let end = await within(
    relayed.countdown.done,
    settings.phaseTimeoutMs,
    () =>
      `The relay published only ${relayed.countdown.count} of ${n} events to the embedded bus within ${settings.phaseTimeoutMs / 1000} s. ` +
      'Look for [EventRelay] errors above; rerun with a smaller BENCH_EVENTS or a larger BENCH_PHASE_TIMEOUT_S.',
  );
  await relay.stop();
  record({
    id: 'embedded.relay',
    adapter: 'EventRelay -> embedded',
    operation: 'relay store -> bus (catch-up, rows+ckpt 1 tx)',
    count: n,
    seconds: seconds(start, end),
    ceiling: 'sqlite.raw.copy',
  });

  // Ceiling of the consumer: read the same bus rows in order and parse their data.
  const topic = Topics.eventsOf(CATEGORY);
  progressLine(`raw read of the same bus rows (the consumer's ceiling, best of ${CEILING_RUNS})`);
  let read = 0;
  let readSeconds = Infinity;
  for (let run = 0; run < CEILING_RUNS; run++) {
    const started = performance.now();
    read = rawRead(concurrentDb, topic, run === 0 ? new Progress('raw read', n) : undefined);
    readSeconds = Math.min(readSeconds, seconds(started));
  }
  record({ id: 'sqlite.raw.read', adapter: 'sqlite (raw)', operation: 'read bus rows + JSON.parse', count: read, seconds: readSeconds });
  if (read !== n) notes.push(`The raw read found ${read} bus rows instead of ${n}: the relay published duplicates or missed some; check the relay.`);

  // 3b. Embedded bus: a consumer group works through the n relayed messages.
  const consumed = new Countdown('embedded consume', n);
  progressLine('EmbeddedEventBus: consumer group reads the backlog');
  start = performance.now();
  const consumer = await bus.consume({ group: 'bench.embedded', topics: [topic], handler: async () => consumed.add() });
  end = await within(
    consumed.done,
    settings.phaseTimeoutMs,
    () =>
      `The embedded consumer handled only ${consumed.count} of ${n} messages within ${settings.phaseTimeoutMs / 1000} s. ` +
      'Look for [EmbeddedEventBus] errors above; rerun with a smaller BENCH_EVENTS or a larger BENCH_PHASE_TIMEOUT_S.',
  );
  await consumer.stop();
  record({
    id: 'embedded.consume',
    adapter: 'EmbeddedEventBus',
    operation: `consume (group, backlog, ${DEFAULT_MAX_IN_FLIGHT} in flight)`,
    count: n,
    seconds: seconds(start, end),
    ceiling: 'sqlite.raw.read',
  });
  await bus.close();

  // 3c. End to end on a fresh file: append -> relay -> embedded bus -> consumer, all running together.
  const e2eDb = track(openDb(path.join(dir, 'e2e.db'), settings.synchronous));
  const e2eStore = new SqliteEventStore({ db: e2eDb, maxBatchSize: STORE_BATCH_SIZE });
  const e2eBus = new EmbeddedEventBus({ db: e2eDb, logger: benchLogger('EmbeddedEventBus') });
  const e2eRelay = new EventRelay({ store: e2eStore, bus: e2eBus, db: e2eDb, name: 'bench-e2e', logger: benchLogger('EventRelay') });
  const delivered = new Countdown('embedded end to end (consumed)', n);
  const e2eConsumer = await e2eBus.consume({ group: 'bench.e2e', topics: [topic], handler: async () => delivered.add() });
  await e2eRelay.start();
  progressLine('end to end: concurrent appends -> relay -> embedded bus -> consumer');
  start = performance.now();
  for (let from = 0; from < n; from += quarter) {
    await Promise.all(payloads.slice(from, from + quarter).map((p) => e2eStore.append(p.streamId, [p.pending], 'no-stream')));
  }
  const appendedAt = performance.now();
  end = await within(
    delivered.done,
    settings.phaseTimeoutMs,
    () =>
      `End to end, the consumer handled only ${delivered.count} of ${n} events within ${settings.phaseTimeoutMs / 1000} s. ` +
      'Look for [EventRelay] or [EmbeddedEventBus] errors above; rerun with a smaller BENCH_EVENTS or a larger BENCH_PHASE_TIMEOUT_S.',
  );
  record({
    id: 'embedded.e2e',
    adapter: 'store+relay+embedded',
    operation: 'append -> relay -> consume',
    count: n,
    seconds: seconds(start, end),
    ceiling: 'sqlite.raw.insert',
  });
  notes.push(
    `End to end (embedded): the appends alone finished after ${seconds(start, appendedAt).toFixed(3)} s; the last event was consumed ${seconds(appendedAt, end).toFixed(3)} s later.`,
  );
  await e2eConsumer.stop();
  await e2eRelay.stop();
  await e2eBus.close();
  await e2eStore.close();

  return { store, storeDb: concurrentDb };
}

/**
 * What SqliteEventStore.writeAppend runs per append when the stream is not in its cache (head lookup, insert, the
 * stream's row when it is new), batched but without its JS.
 */
function rawStoreSql(db: Database.Database, payloads: readonly Payload[], batchSize: number, progress: Progress): void {
  const head = db.prepare('SELECT max(stream_revision) FROM events WHERE stream_id = ?').pluck();
  const insert = db.prepare(`INSERT INTO events (stream_id, stream_revision, event_id, event_type, event_version, data, metadata)
    VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const insertStream = db.prepare('INSERT INTO streams (stream_id, category) VALUES (?, ?) ON CONFLICT (stream_id) DO NOTHING');
  const writeBatch = db.transaction((batch: readonly Payload[]) => {
    for (const { streamId, pending } of batch) {
      const revision = ((head.get(streamId) as number | null) ?? -1) + 1;
      insert.run(
        streamId,
        revision,
        pending.metadata.eventId,
        pending.event.type,
        pending.event.version,
        JSON.stringify(pending.event.data),
        JSON.stringify(pending.metadata),
      );
      if (revision === 0) insertStream.run(streamId, CATEGORY);
    }
  });
  for (let start = 0; start < payloads.length; start += batchSize) {
    writeBatch.immediate(payloads.slice(start, start + batchSize));
    progress.update(Math.min(start + batchSize, payloads.length));
  }
}

function rawCopy(from: Database.Database, to: Database.Database, table: string, progress?: Progress): void {
  const page = from
    .prepare(
      `SELECT global_position, stream_id, event_type, event_version, data, metadata FROM events
              WHERE global_position > ? ORDER BY global_position LIMIT 256`,
    )
    .safeIntegers(true);
  const insert = to.prepare(`INSERT INTO ${table} (topic, key, message_id, type, source, time, correlation_id, causation_id, data_version, data)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  type Row = { global_position: bigint; stream_id: string; event_type: string; event_version: bigint; data: string; metadata: string };
  const writePage = to.transaction((rows: readonly Row[]) => {
    for (const row of rows) {
      const data = JSON.parse(row.data);
      const metadata = JSON.parse(row.metadata);
      insert.run(
        Topics.eventsOf(CATEGORY),
        row.stream_id,
        metadata.eventId,
        `sigillum.${CATEGORY}.${row.event_type}`,
        metadata.source,
        metadata.occurredAt,
        metadata.correlationId,
        metadata.causationId,
        row.event_version,
        JSON.stringify(data),
      );
    }
  });
  let after = 0n;
  let copied = 0;
  for (;;) {
    const rows = page.all(after) as Row[];
    if (rows.length === 0) return;
    writePage.immediate(rows);
    after = rows[rows.length - 1].global_position;
    copied += rows.length;
    progress?.update(copied);
  }
}

function rawRead(db: Database.Database, topic: string, progress?: Progress): number {
  let count = 0;
  for (const row of db.prepare('SELECT * FROM bus_messages WHERE topic = ? ORDER BY "offset"').iterate(topic) as IterableIterator<{ data: string }>) {
    JSON.parse(row.data);
    count++;
    progress?.update(count);
  }
  return count;
}
