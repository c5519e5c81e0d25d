/*
 * Event store and bus throughput, each next to its raw ceiling, in one run and with the same payloads.
 *
 *   npm run bench:bus                                   # SQLite store, embedded bus, relay
 *   KAFKA_BROKERS=127.0.0.1:9092 npm run bench:bus      # + raw kafkajs and KafkaEventBus (bash scripts/kafka.sh start)
 *
 * Environment: BENCH_EVENTS (default 20000), BENCH_PAYLOAD_BYTES (JSON size of each event's data, default 300),
 * SQLITE_SYNCHRONOUS (NORMAL | FULL, default NORMAL), KAFKA_BROKERS, KAFKA_TOPIC_PARTITIONS (default 3),
 * BENCH_PHASE_TIMEOUT_S (longest one phase may take before the run fails, default 120), TMPDIR (where the SQLite
 * files go: the disk decides what a commit costs, above all with FULL, which fsyncs each of the one-by-one commits).
 *
 * A benchmark, not a test: it asserts nothing about timings. It fails only when a phase cannot finish
 * (every message says what to do next). Progress goes to stderr, the results table to stdout.
 */
import './preflight';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  DEFAULT_MAX_IN_FLIGHT,
  EmbeddedEventBus,
  EventRelay,
  KafkaEventBus,
  toKafkaMessage,
  type BusConsumer,
  type BusLogger,
  type ConsumerOptions,
  type EventBus,
} from '@sigillum/bus';
import { Topics, type BusMessage, type PendingEvent } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import Database from 'better-sqlite3';
import { Kafka, Partitioners, logLevel, type Admin, type LogEntry, type Message } from 'kafkajs';

/** SqliteEventStore's default maxBatchSize; passed explicitly so the raw ceiling and the store batch alike. */
const STORE_BATCH_SIZE = 512;
/** KafkaEventBus's MAX_MESSAGES_PER_SEND; the raw producer sends the same chunks. */
const KAFKA_SEND_BATCH = 500;
/** The sub-second SQLite ceilings are each run this many times and the best kept: a ceiling is the best case. */
const CEILING_RUNS = 3;
const CATEGORY = 'bench';
const EVENT_TYPE = 'LetterDeposited';
const SOURCE = 'sigillum/bench';

// ---------------------------------------------------------------- settings

interface Settings {
  readonly events: number;
  readonly payloadBytes: number;
  readonly synchronous: 'NORMAL' | 'FULL';
  readonly brokers?: readonly string[];
  readonly partitions: number;
  readonly phaseTimeoutMs: number;
}

/** A failure whose message already says what to do next. */
class BenchError extends Error {}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const problems: string[] = [];
  const integer = (name: string, fallback: number, min: number, example: string): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw.replace(/_/g, ''));
    if (!Number.isSafeInteger(value) || value < min) {
      problems.push(`${name}=${JSON.stringify(raw)} must be an integer >= ${min}, e.g. ${name}=${example}`);
      return fallback;
    }
    return value;
  };
  const events = integer('BENCH_EVENTS', 20_000, 1, '20000');
  const payloadBytes = integer('BENCH_PAYLOAD_BYTES', 300, 64, '300');
  const partitions = integer('KAFKA_TOPIC_PARTITIONS', 3, 1, '3');
  const phaseTimeoutS = integer('BENCH_PHASE_TIMEOUT_S', 120, 1, '120');
  const synchronous = (env.SQLITE_SYNCHRONOUS?.trim() || 'NORMAL').toUpperCase();
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
    problems.push(`SQLITE_SYNCHRONOUS=${JSON.stringify(env.SQLITE_SYNCHRONOUS)} must be NORMAL or FULL (as for the apps)`);
  }
  const brokers = env.KAFKA_BROKERS?.split(',').map((broker) => broker.trim()).filter(Boolean);
  if (brokers?.some((broker) => !/^[^\s:]+:\d+$/.test(broker))) {
    problems.push(`KAFKA_BROKERS=${JSON.stringify(env.KAFKA_BROKERS)} must be host:port[,host:port...], e.g. KAFKA_BROKERS=127.0.0.1:9092`);
  }
  if (problems.length > 0) throw new BenchError(`Invalid settings:\n  - ${problems.join('\n  - ')}\nFix them and run again.`);
  return {
    events,
    payloadBytes,
    synchronous: synchronous as Settings['synchronous'],
    brokers: brokers && brokers.length > 0 ? brokers : undefined,
    partitions,
    phaseTimeoutMs: phaseTimeoutS * 1000,
  };
}

// ---------------------------------------------------------------- payloads

interface Payload {
  readonly streamId: string;
  readonly pending: PendingEvent;
  /** The bus message of this event; `topic` is replaced per phase. */
  readonly message: BusMessage;
}

function randomHex(length: number): string {
  return randomBytes(Math.ceil(length / 2)).toString('hex').slice(0, length);
}

/** N events on N distinct streams; each event's data is a JSON object of about `payloadBytes`. */
function makePayloads(count: number, payloadBytes: number): Payload[] {
  const occurredAt = new Date().toISOString();
  return Array.from({ length: count }, (_, index) => {
    const eventId = randomUUID();
    const streamId = `${CATEGORY}-${index.toString(36).padStart(5, '0')}${randomHex(6)}`;
    const data: Record<string, unknown> = {
      letterId: eventId,
      seq: index,
      sender: `party-${randomHex(12)}`,
      recipient: `party-${randomHex(12)}`,
      subject: `Registered letter ${index}`,
      digest: randomHex(64),
      padding: '',
    };
    data.padding = randomHex(Math.max(0, payloadBytes - JSON.stringify(data).length));
    const metadata = { eventId, correlationId: eventId, causationId: eventId, occurredAt, source: SOURCE };
    return {
      streamId,
      pending: { event: { type: EVENT_TYPE, version: 1, data }, metadata },
      message: {
        topic: Topics.eventsOf(CATEGORY),
        key: streamId,
        id: eventId,
        type: `sigillum.${CATEGORY}.${EVENT_TYPE}`,
        source: SOURCE,
        time: occurredAt,
        correlationId: eventId,
        causationId: eventId,
        dataVersion: 1,
        data,
      },
    };
  });
}

// ---------------------------------------------------------------- measuring and reporting

interface Result {
  readonly id: string;
  readonly adapter: string;
  readonly operation: string;
  readonly count: number;
  readonly seconds: number;
  /** Id of the raw ceiling this result is compared with; undefined for a ceiling itself. */
  readonly ceiling?: string;
}

const results: Result[] = [];
const notes: string[] = [];

function record(result: Result): void {
  results.push(result);
  const rate = result.count / result.seconds;
  progressLine(`${result.adapter} / ${result.operation}: ${formatInt(result.count)} in ${result.seconds.toFixed(3)} s = ${formatInt(rate)}/s`);
}

function progressLine(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

/** Prints a line each time another quarter of `total` is done. */
class Progress {
  private quarters = 0;
  private readonly started = performance.now();
  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}
  update(done: number): void {
    const reached = Math.min(4, Math.floor((done * 4) / this.total));
    while (this.quarters < reached) {
      this.quarters++;
      const seconds = ((performance.now() - this.started) / 1000).toFixed(2);
      progressLine(`  ${this.label}: ${this.quarters * 25}% (${formatInt(Math.round((this.total * this.quarters) / 4))}/${formatInt(this.total)}, ${seconds} s)`);
    }
  }
}

/** Counts deliveries; `done` resolves with the time the last one arrived. */
class Countdown {
  count = 0;
  first?: number;
  private resolveDone!: (at: number) => void;
  readonly done = new Promise<number>((resolve) => (this.resolveDone = resolve));
  private readonly progress: Progress;
  constructor(
    label: string,
    readonly total: number,
  ) {
    this.progress = new Progress(label, total);
  }
  add(n = 1): void {
    const now = performance.now();
    this.first ??= now;
    this.count += n;
    this.progress.update(this.count);
    if (this.count >= this.total) this.resolveDone(now);
  }
}

async function within<T>(promise: Promise<T>, ms: number, onTimeout: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new BenchError(onTimeout())), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function rateOf(id: string): number | undefined {
  const result = results.find((candidate) => candidate.id === id);
  return result && result.count / result.seconds;
}

/** "0.93x" of one result's rate over another's, once both are recorded. */
function ratioText(id: string, ceilingId: string): string {
  const [rate, ceiling] = [rateOf(id), rateOf(ceilingId)];
  return rate === undefined || !ceiling ? '?' : formatRatio(rate / ceiling);
}

function formatRatio(ratio: number): string {
  return `${ratio >= 0.1 ? ratio.toFixed(2) : ratio.toFixed(3)}x`;
}

function formatInt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function seconds(from: number, to = performance.now()): number {
  return Math.max(to - from, 1e-6) / 1000;
}

function printTable(): void {
  const byId = new Map(results.map((result) => [result.id, result]));
  const header = ['adapter', 'operation', 'count', 'seconds', 'per second', 'ratio', 'vs raw ceiling'];
  const rows = results.map((result) => {
    const rate = result.count / result.seconds;
    const ceiling = result.ceiling ? byId.get(result.ceiling) : undefined;
    const ratio = ceiling && ceiling.count > 0 ? rate / (ceiling.count / ceiling.seconds) : undefined;
    return [
      result.adapter,
      result.operation,
      formatInt(result.count),
      result.seconds.toFixed(3),
      formatInt(rate),
      ratio === undefined ? (result.ceiling ? '?' : 'ceiling') : formatRatio(ratio),
      ceiling ? ceiling.operation : '—',
    ];
  });
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const numeric = new Set([2, 3, 4, 5]);
  const line = (cells: string[]) =>
    cells.map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column]) : cell.padEnd(widths[column]))).join(' | ').trimEnd();
  process.stdout.write(`\n${line(header)}\n${widths.map((width) => '-'.repeat(width)).join('-|-')}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}

// ---------------------------------------------------------------- SQLite

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
      insert.run(streamId, 0, pending.metadata.eventId, pending.event.type, pending.event.version,
        JSON.stringify(pending.event.data), JSON.stringify(pending.metadata));
    }
  });
  for (let start = 0; start < payloads.length; start += batchSize) {
    writeBatch.immediate(payloads.slice(start, start + batchSize));
    progress?.update(Math.min(start + batchSize, payloads.length));
  }
}

async function benchSqlite(settings: Settings, payloads: readonly Payload[], dir: string, open: Database.Database[]) {
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
    record({ id: `sqlite.raw.storeSql${batchSize}`, adapter: 'sqlite (raw)', operation: `store's SQL+schema, ${batchSize}/tx`, count: n, seconds: seconds(start), ceiling: 'sqlite.raw.insert' });
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
  record({ id: 'store.concurrent', adapter: 'SqliteEventStore', operation: 'append, concurrent (group commit)', count: n, seconds: seconds(start), ceiling: 'sqlite.raw.insert' });
  notes.push(`SqliteEventStore concurrent appends run at ${ratioText('store.concurrent', `sqlite.raw.storeSql${STORE_BATCH_SIZE}`)} of ` +
    `the store's own SQL and schema run raw, which itself runs at ${ratioText(`sqlite.raw.storeSql${STORE_BATCH_SIZE}`, 'sqlite.raw.insert')} ` +
    'of the plain table: the schema (unique indexes on event_id and (stream_id, revision), the streams table) is that part of the gap, ' +
    'the adapter (a promise, validation and a savepoint per append) the rest.');

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
  record({ id: 'store.serial', adapter: 'SqliteEventStore', operation: 'append, one by one awaited', count: n, seconds: seconds(start), ceiling: 'sqlite.raw.insert' });
  notes.push(`SqliteEventStore one-by-one appends run at ${ratioText('store.serial', 'sqlite.raw.storeSql1')} of its own SQL and schema ` +
    `driven raw with one append per transaction (and ${ratioText('store.serial', 'sqlite.raw.insert1')} of plain 1-row transactions): ` +
    'awaiting each append costs one commit per event, and each commit writes every index page it touched to the WAL; ' +
    'concurrent callers share commits.');
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
  let end = await within(relayed.countdown.done, settings.phaseTimeoutMs, () =>
    `The relay published only ${relayed.countdown.count} of ${n} events to the embedded bus within ${settings.phaseTimeoutMs / 1000} s. ` +
      'Look for [EventRelay] errors above; rerun with a smaller BENCH_EVENTS or a larger BENCH_PHASE_TIMEOUT_S.');
  await relay.stop();
  record({ id: 'embedded.relay', adapter: 'EventRelay -> embedded', operation: 'relay store -> bus (catch-up, rows+ckpt 1 tx)', count: n, seconds: seconds(start, end), ceiling: 'sqlite.raw.copy' });

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
  end = await within(consumed.done, settings.phaseTimeoutMs, () =>
    `The embedded consumer handled only ${consumed.count} of ${n} messages within ${settings.phaseTimeoutMs / 1000} s. ` +
      'Look for [EmbeddedEventBus] errors above; rerun with a smaller BENCH_EVENTS or a larger BENCH_PHASE_TIMEOUT_S.');
  await consumer.stop();
  record({ id: 'embedded.consume', adapter: 'EmbeddedEventBus', operation: `consume (group, backlog, ${DEFAULT_MAX_IN_FLIGHT} in flight)`, count: n, seconds: seconds(start, end), ceiling: 'sqlite.raw.read' });
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
  end = await within(delivered.done, settings.phaseTimeoutMs, () =>
    `End to end, the consumer handled only ${delivered.count} of ${n} events within ${settings.phaseTimeoutMs / 1000} s. ` +
      'Look for [EventRelay] or [EmbeddedEventBus] errors above; rerun with a smaller BENCH_EVENTS or a larger BENCH_PHASE_TIMEOUT_S.');
  record({ id: 'embedded.e2e', adapter: 'store+relay+embedded', operation: 'append -> relay -> consume', count: n, seconds: seconds(start, end), ceiling: 'sqlite.raw.insert' });
  notes.push(`End to end (embedded): the appends alone finished after ${seconds(start, appendedAt).toFixed(3)} s; the last event was consumed ${seconds(appendedAt, end).toFixed(3)} s later.`);
  await e2eConsumer.stop();
  await e2eRelay.stop();
  await e2eBus.close();
  await e2eStore.close();

  return { store, storeDb: concurrentDb };
}

/** What SqliteEventStore.writeAppend runs per append (head lookup, insert, head upsert), batched but without its JS. */
function rawStoreSql(db: Database.Database, payloads: readonly Payload[], batchSize: number, progress: Progress): void {
  const head = db.prepare('SELECT revision FROM streams WHERE stream_id = ?').pluck();
  const insert = db.prepare(`INSERT INTO events (stream_id, stream_revision, event_id, event_type, event_version, data, metadata)
    VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const upsertHead = db.prepare(`INSERT INTO streams (stream_id, revision, category) VALUES (?, ?, ?)
    ON CONFLICT (stream_id) DO UPDATE SET revision = excluded.revision`);
  const writeBatch = db.transaction((batch: readonly Payload[]) => {
    for (const { streamId, pending } of batch) {
      const revision = ((head.get(streamId) as number | undefined) ?? -1) + 1;
      insert.run(streamId, revision, pending.metadata.eventId, pending.event.type, pending.event.version,
        JSON.stringify(pending.event.data), JSON.stringify(pending.metadata));
      upsertHead.run(streamId, revision, CATEGORY);
    }
  });
  for (let start = 0; start < payloads.length; start += batchSize) {
    writeBatch.immediate(payloads.slice(start, start + batchSize));
    progress.update(Math.min(start + batchSize, payloads.length));
  }
}

function rawCopy(from: Database.Database, to: Database.Database, table: string, progress?: Progress): void {
  const page = from
    .prepare(`SELECT global_position, stream_id, event_type, event_version, data, metadata FROM events
              WHERE global_position > ? ORDER BY global_position LIMIT 256`)
    .safeIntegers(true);
  const insert = to.prepare(`INSERT INTO ${table} (topic, key, message_id, type, source, time, correlation_id, causation_id, data_version, data)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  type Row = { global_position: bigint; stream_id: string; event_type: string; event_version: bigint; data: string; metadata: string };
  const writePage = to.transaction((rows: readonly Row[]) => {
    for (const row of rows) {
      const data = JSON.parse(row.data);
      const metadata = JSON.parse(row.metadata);
      insert.run(Topics.eventsOf(CATEGORY), row.stream_id, metadata.eventId, `sigillum.${CATEGORY}.${row.event_type}`, metadata.source,
        metadata.occurredAt, metadata.correlationId, metadata.causationId, row.event_version, JSON.stringify(data));
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

// ---------------------------------------------------------------- buses

function benchLogger(name: string): BusLogger {
  return {
    log: () => undefined,
    warn: (message) => process.stderr.write(`[${name}] WARN ${message}\n`),
    error: (message) => process.stderr.write(`[${name}] ERROR ${message}\n`),
  };
}

/** Passes publishes through and counts the messages the inner bus accepted. */
class CountingBus implements EventBus {
  readonly countdown: Countdown;
  constructor(
    private readonly inner: EventBus,
    label: string,
    total: number,
  ) {
    this.countdown = new Countdown(label, total);
  }
  async publish(messages: readonly BusMessage[]): Promise<void> {
    await this.inner.publish(messages);
    this.countdown.add(messages.length);
  }
  /** Forwarded, so the relay still commits bus rows and its checkpoint together (TransactionalPublisher) through this wrapper. */
  get database(): Database.Database | undefined {
    return this.inner instanceof EmbeddedEventBus ? this.inner.database : undefined;
  }
  async publishInTransaction(messages: readonly BusMessage[], alsoInTransaction: () => void): Promise<void> {
    if (!(this.inner instanceof EmbeddedEventBus)) throw new Error('publishInTransaction needs the embedded bus');
    await this.inner.publishInTransaction(messages, alsoInTransaction);
    this.countdown.add(messages.length);
  }
  consume(options: ConsumerOptions): Promise<BusConsumer> {
    return this.inner.consume(options);
  }
  health() {
    return this.inner.health();
  }
  async close(): Promise<void> {
    // the inner bus belongs to the caller
  }
}

// ---------------------------------------------------------------- Kafka

const KAFKA_HINT = 'Start a broker with `bash scripts/kafka.sh start` (check it with `bash scripts/kafka.sh status`, logs with `bash scripts/kafka.sh logs`), or unset KAFKA_BROKERS to run the SQLite part only.';

async function benchKafka(
  settings: Settings,
  payloads: readonly Payload[],
  store: SqliteEventStore,
  storeDb: Database.Database,
  cleanups: Array<() => Promise<void>>,
): Promise<void> {
  const brokers = [...settings.brokers!];
  const n = payloads.length;
  const suffix = `${Date.now()}-${randomHex(4)}`;
  const topics = { raw: `bench.raw.${suffix}`, bus: `bench.bus.${suffix}`, relay: `bench.relay.${suffix}` };
  const groups = { raw: `bench.raw.${suffix}`, rawCommit: `bench.raw-commit.${suffix}`, bus: `bench.bus.${suffix}` };
  const timeout = settings.phaseTimeoutMs;
  const kafka = new Kafka({
    clientId: 'sigillum-bench',
    brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { retries: 3 },
    logLevel: logLevel.ERROR,
    logCreator: () => ({ namespace, log }: LogEntry) => process.stderr.write(`[kafkajs ${namespace}] ERROR ${log.message}\n`),
  });

  const admin: Admin = kafka.admin();
  let replicationFactor: number;
  try {
    await admin.connect();
    replicationFactor = Math.min(3, (await admin.describeCluster()).brokers.length);
  } catch (error) {
    await admin.disconnect().catch(() => undefined);
    throw new BenchError(`Cannot reach Kafka at ${brokers.join(',')} (${(error as Error).message}). ${KAFKA_HINT}`);
  }
  const created: string[] = [];
  cleanups.push(async () => {
    // Groups first (they must be empty: every consumer has left by now), then the topics.
    await admin.deleteGroups(Object.values(groups)).catch(() => undefined);
    const existing = new Set(await admin.listTopics().catch(() => [] as string[]));
    const toDelete = created.filter((topic) => existing.has(topic));
    if (toDelete.length > 0) {
      try {
        await admin.deleteTopics({ topics: toDelete, timeout: 10_000 });
        progressLine(`deleted Kafka topics ${toDelete.join(', ')}`);
      } catch (error) {
        progressLine(`could not delete Kafka topics ${toDelete.join(', ')} (${(error as Error).message}); ` +
          'delete them by hand with kafka-topics.sh --delete, or `bash scripts/kafka.sh stop --clean` to wipe the local broker.');
      }
    }
    await admin.disconnect().catch(() => undefined);
  });
  progressLine(`Kafka ${brokers.join(',')}: ${settings.partitions} partition(s) per topic, replication factor ${replicationFactor}, topics *.${suffix}`);

  // 4a. Raw kafkajs produce: idempotent, acks=all, sends of KAFKA_SEND_BATCH records, the same records the bus writes.
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: topics.raw, numPartitions: settings.partitions, replicationFactor }] });
  created.push(topics.raw);
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  cleanups.unshift(() => producer.disconnect().catch(() => undefined));
  const records: Message[] = payloads.map((p) => toKafkaMessage({ ...p.message, topic: topics.raw }));
  progressLine(`raw kafkajs produce (idempotent, acks=all, ${KAFKA_SEND_BATCH} per send) to ${topics.raw}`);
  let progress = new Progress('raw produce', n);
  let start = performance.now();
  for (let from = 0; from < n; from += KAFKA_SEND_BATCH) {
    await within(producer.send({ topic: topics.raw, acks: -1, messages: records.slice(from, from + KAFKA_SEND_BATCH) }), timeout,
      () => `A raw produce to ${topics.raw} got no answer within ${timeout / 1000} s. ${KAFKA_HINT}`);
    progress.update(Math.min(from + KAFKA_SEND_BATCH, n));
  }
  record({ id: 'kafka.raw.produce', adapter: 'kafkajs (raw)', operation: `produce, idempotent acks=all, ${KAFKA_SEND_BATCH}/send`, count: n, seconds: seconds(start) });

  // 4b. Raw kafkajs consume: eachBatch, auto-commit, parse each value. Timed from the group join (connect and join excluded).
  const rawConsumer = kafka.consumer({ groupId: groups.raw, allowAutoTopicCreation: false });
  const rawConsumed = new Countdown('raw consume', n);
  progressLine(`raw kafkajs consume (eachBatch, auto-commit) from ${topics.raw}`);
  start = performance.now();
  let joinedAt: number | undefined;
  rawConsumer.on(rawConsumer.events.GROUP_JOIN, () => (joinedAt ??= performance.now()));
  await rawConsumer.connect();
  cleanups.unshift(() => rawConsumer.disconnect().catch(() => undefined));
  await rawConsumer.subscribe({ topics: [topics.raw], fromBeginning: true });
  await rawConsumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) JSON.parse(message.value!.toString('utf8'));
      rawConsumed.add(batch.messages.length);
    },
  });
  let end = await within(rawConsumed.done, timeout, () =>
    `The raw kafkajs consumer received only ${rawConsumed.count} of ${n} records from ${topics.raw} within ${timeout / 1000} s. ${KAFKA_HINT}`);
  let joined = Math.min(joinedAt ?? Infinity, rawConsumed.first!);
  notes.push(`Kafka consumers are timed from the moment their group is joined to the last record handled; connecting and joining ` +
    `(${seconds(start, joined).toFixed(3)} s for the raw eachBatch consumer) are left out.`);
  await rawConsumer.disconnect();
  record({ id: 'kafka.raw.consume', adapter: 'kafkajs (raw)', operation: 'consume, eachBatch + auto-commit', count: n, seconds: seconds(joined, end) });

  // 4b'. The consume pattern KafkaEventBus used before its batched commits, without the adapter: eachMessage, then commitOffsets of that message.
  const commitConsumer = kafka.consumer({ groupId: groups.rawCommit, allowAutoTopicCreation: false });
  const commitConsumed = new Countdown('raw consume, commit per message', n);
  progressLine(`raw kafkajs consume (eachMessage + commitOffsets per message) from ${topics.raw}`);
  joinedAt = undefined;
  commitConsumer.on(commitConsumer.events.GROUP_JOIN, () => (joinedAt ??= performance.now()));
  await commitConsumer.connect();
  cleanups.unshift(() => commitConsumer.disconnect().catch(() => undefined));
  await commitConsumer.subscribe({ topics: [topics.raw], fromBeginning: true });
  await commitConsumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      JSON.parse(message.value!.toString('utf8'));
      await commitConsumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      commitConsumed.add();
    },
  });
  end = await within(commitConsumed.done, timeout, () =>
    `The raw kafkajs consumer (commit per message) received only ${commitConsumed.count} of ${n} records within ${timeout / 1000} s. ` +
      `Rerun with a smaller BENCH_EVENTS or a larger BENCH_PHASE_TIMEOUT_S; if it received none, ${KAFKA_HINT}`);
  await commitConsumer.disconnect();
  joined = Math.min(joinedAt ?? Infinity, commitConsumed.first!);
  record({ id: 'kafka.raw.consume.commit', adapter: 'kafkajs (raw)', operation: 'consume, eachMessage + commit each', count: n, seconds: seconds(joined, end), ceiling: 'kafka.raw.consume' });

  // 4c. KafkaEventBus publish of the same payloads (topic created and producer connected beforehand, as in a running process).
  const bus = new KafkaEventBus({
    brokers,
    clientId: 'sigillum-bench',
    defaultPartitions: settings.partitions,
    replicationFactor,
    logLevel: 'error',
    logger: benchLogger('KafkaEventBus'),
  });
  cleanups.unshift(() => bus.close());
  await bus.ensureTopics([topics.bus, topics.relay]);
  created.push(topics.bus, topics.relay);
  await bus.connectedProducer();
  const messages = payloads.map((p) => ({ ...p.message, topic: topics.bus }));
  const quarter = Math.ceil(n / 4);
  progressLine(`KafkaEventBus.publish to ${topics.bus} (${formatInt(quarter)} messages per call)`);
  progress = new Progress('bus publish', n);
  start = performance.now();
  for (let from = 0; from < n; from += quarter) {
    await within(bus.publish(messages.slice(from, from + quarter)), timeout, () =>
      `KafkaEventBus.publish to ${topics.bus} got no answer within ${timeout / 1000} s. ${KAFKA_HINT}`);
    progress.update(Math.min(from + quarter, n));
  }
  record({ id: 'kafka.bus.publish', adapter: 'KafkaEventBus', operation: 'publish', count: n, seconds: seconds(start), ceiling: 'kafka.raw.produce' });

  // 4d. KafkaEventBus consume: one group, runtime defaults (eachBatch, partitions in parallel, batched commits of handled offsets).
  const busConsumed = new Countdown('bus consume', n);
  progressLine(`KafkaEventBus.consume from ${topics.bus} (group ${groups.bus}, runtime defaults)`);
  start = performance.now();
  const busConsumer = await bus.consume({ group: groups.bus, topics: [topics.bus], fromBeginning: true, handler: async () => busConsumed.add() });
  const consumeResolvedAt = performance.now(); // consume() resolves once the group is joined
  end = await within(busConsumed.done, timeout, () =>
    `The KafkaEventBus consumer handled only ${busConsumed.count} of ${n} messages from ${topics.bus} within ${timeout / 1000} s. ` +
      `Rerun with a smaller BENCH_EVENTS or a larger BENCH_PHASE_TIMEOUT_S; if it handled none, ${KAFKA_HINT}`);
  await busConsumer.stop();
  joined = Math.min(consumeResolvedAt, busConsumed.first!);
  notes.push(`KafkaEventBus.consume() took ${seconds(start, joined).toFixed(3)} s to connect and join its group (left out of its rate).`);
  record({ id: 'kafka.bus.consume', adapter: 'KafkaEventBus', operation: 'consume (group, eachBatch, batched commits)', count: n, seconds: seconds(joined, end), ceiling: 'kafka.raw.consume' });
  const vsCommitEach = rateOf('kafka.bus.consume')! / rateOf('kafka.raw.consume.commit')!;
  notes.push(`KafkaEventBus.consume runs at ${formatRatio(rateOf('kafka.bus.consume')! / rateOf('kafka.raw.consume')!)} of raw kafkajs eachBatch ` +
    `and ${formatRatio(vsCommitEach)} of raw kafkajs committing after every message: it handles each partition in order (partitions in ` +
    'parallel), resolves each offset once its message is handled or dead-lettered, and commits the resolved offsets every ' +
    '1000 ms / 1000 messages and at the end of each fetched batch; the rest of its gap is decoding, the retry policy and a heartbeat check per message.');

  // 4e. Relay store -> KafkaEventBus: the production path with EVENT_BUS=kafka, catching up on the store of 2a.
  const relayed = new CountingBus(bus, 'relay -> Kafka', n);
  const relay = new EventRelay({ store, bus: relayed, db: storeDb, name: 'bench-kafka', topicOf: () => topics.relay, logger: benchLogger('EventRelay') });
  cleanups.unshift(() => relay.stop());
  progressLine(`EventRelay: store -> KafkaEventBus (${topics.relay}), catch-up`);
  start = performance.now();
  await relay.start();
  end = await within(relayed.countdown.done, timeout, () =>
    `The relay published only ${relayed.countdown.count} of ${n} events to Kafka within ${timeout / 1000} s. ` +
      `Look for [EventRelay] errors above. ${KAFKA_HINT}`);
  await relay.stop();
  record({ id: 'kafka.relay', adapter: 'EventRelay -> Kafka', operation: 'relay store -> bus (catch-up)', count: n, seconds: seconds(start, end), ceiling: 'kafka.raw.produce' });
}

// ---------------------------------------------------------------- main

/** The file system under `dir`, which decides what a commit (and an fsync with FULL) costs. */
function fileSystemOf(dir: string): string {
  const known: Record<number, string> = {
    0xef53: 'ext4', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x01021994: 'tmpfs', 0x794c7630: 'overlayfs', 0x2fc12fc1: 'zfs', 0x6969: 'nfs',
  };
  try {
    const type = fs.statfsSync(dir).type;
    return known[type] ?? `file system 0x${type.toString(16)}`;
  } catch {
    return 'file system unknown';
  }
}

function printFacts(settings: Settings, payloads: readonly Payload[]): void {
  const cpus = os.cpus();
  const dataBytes = payloads.reduce((sum, p) => sum + Buffer.byteLength(JSON.stringify(p.pending.event.data)), 0) / payloads.length;
  const metadataBytes = payloads.reduce((sum, p) => sum + Buffer.byteLength(JSON.stringify(p.pending.metadata)), 0) / payloads.length;
  const memory = new Database(':memory:');
  const sqliteVersion = memory.prepare('SELECT sqlite_version()').pluck().get() as string;
  memory.close();
  const kafkajsVersion = (require('kafkajs/package.json') as { version: string }).version;
  const facts: Array<[string, string]> = [
    ['node', `${process.version} (${process.platform} ${process.arch})`],
    ['cpus', `${cpus.length} x ${cpus[0]?.model?.trim() ?? 'unknown'}`],
    ['memory', `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ['SQLite', `${sqliteVersion}, WAL, SQLITE_SYNCHRONOUS=${settings.synchronous}, files in ${os.tmpdir()} (${fileSystemOf(os.tmpdir())}; TMPDIR moves them)`],
    ['events', `${formatInt(settings.events)} (BENCH_EVENTS), data ~${Math.round(dataBytes)} B JSON + metadata ~${Math.round(metadataBytes)} B, 1 event per stream`],
    ['batching', `store ${STORE_BATCH_SIZE} appends/tx, relay 256/publish (embedded: bus rows + relay checkpoint in 1 tx), embedded consumer page 100, ${DEFAULT_MAX_IN_FLIGHT} in flight per group, checkpoint every 250 ms, Kafka ${KAFKA_SEND_BATCH} records/send`],
    ['Kafka', settings.brokers ? `${settings.brokers.join(',')}, kafkajs ${kafkajsVersion}, ${settings.partitions} partition(s)/topic` : 'skipped (KAFKA_BROKERS not set)'],
  ];
  const width = Math.max(...facts.map(([name]) => name.length));
  process.stdout.write(`\nSigillum bus benchmark (${new Date().toISOString()})\n`);
  for (const [name, value] of facts) process.stdout.write(`  ${name.padEnd(width)}  ${value}\n`);
}

async function main(): Promise<number> {
  const settings = readSettings(process.env);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-bench-'));
  const databases: Database.Database[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
  process.once('SIGINT', () => {
    for (const db of databases) if (db.open) db.close();
    removeDir();
    process.stderr.write(`\n[bench] interrupted; removed ${dir}. Kafka topics and groups named bench.*.<timestamp> may remain on the broker.\n`);
    process.exit(130);
  });

  let failure: unknown;
  let sample: readonly Payload[] = [];
  try {
    const started = performance.now();
    progressLine(`preparing ${formatInt(settings.events)} payloads in ${dir}`);
    const payloads = makePayloads(settings.events, settings.payloadBytes);
    sample = payloads.slice(0, 1_000);
    const { store, storeDb } = await benchSqlite(settings, payloads, dir, databases);
    cleanups.push(() => store.close());
    if (settings.brokers) {
      try {
        await benchKafka(settings, payloads, store, storeDb, cleanups);
      } catch (error) {
        failure = error instanceof BenchError ? error : new BenchError(`The Kafka part failed: ${(error as Error)?.message ?? String(error)}. ${KAFKA_HINT}`);
      }
    }
    progressLine(`measurements done in ${seconds(started).toFixed(1)} s`);
  } catch (error) {
    failure = error;
  } finally {
    for (const cleanup of cleanups) {
      try {
        await within(cleanup(), 15_000, () => 'a cleanup step hung for 15 s');
      } catch (error) {
        progressLine(`cleanup: ${(error as Error).message}`);
      }
    }
    for (const db of databases) if (db.open) db.close();
    removeDir();
  }

  printFacts(settings, sample.length > 0 ? sample : makePayloads(Math.min(settings.events, 100), settings.payloadBytes));
  if (results.length > 0) printTable();
  process.stdout.write('\nratio = per second / per second of the raw ceiling named in the last column (same payloads, same run).\n');
  process.stdout.write(`Ceilings (the SQLite batched insert, copy and read: best of ${CEILING_RUNS}, everything else one run; repeat the whole run to judge the noise):\n`);
  process.stdout.write('  raw insert = plain table without indexes, JSON.stringify of data and metadata, batched as the store;\n');
  process.stdout.write('  raw copy = read event rows, parse, insert bus rows; raw read = SELECT the bus rows in order + JSON.parse;\n');
  process.stdout.write('  kafkajs raw = the same records (key, value, CloudEvents headers) sent/received without the adapter.\n');
  for (const note of notes) process.stdout.write(`Note: ${note}\n`);
  if (!settings.brokers) {
    process.stdout.write(
      '\nKafka: SKIPPED (KAFKA_BROKERS is not set). To include it: `bash scripts/kafka.sh start`, then\n' +
        '  KAFKA_BROKERS=127.0.0.1:9092 npm run bench:bus\n',
    );
  }
  if (failure) {
    const message = failure instanceof BenchError ? failure.message : `${(failure as Error)?.stack ?? String(failure)}\n` +
      'This is unexpected: rerun with a smaller BENCH_EVENTS to see whether it is load-related, and report the output above.';
    process.stderr.write(`\n[bench] FAILED: ${message}\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`[bench] FAILED: ${error instanceof BenchError ? error.message : (error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
