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
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_MAX_IN_FLIGHT } from '@sigillum/bus';
import Database from 'better-sqlite3';
import { BenchError, formatInt, progressLine, within, runBench } from '../common/report';
import { benchKafka, KAFKA_HINT } from './kafka-phases';
import { notes, printTable, results, seconds } from './results';
import { CEILING_RUNS, KAFKA_SEND_BATCH, makePayloads, type Payload, readSettings, type Settings, STORE_BATCH_SIZE } from './setup';
import { benchSqlite } from './sqlite-phases';

// The phases live beside this file: setup.ts (settings, payloads), sqlite-phases.ts, kafka-phases.ts, results.ts (rates, table).

// ---------------------------------------------------------------- main

/** The file system under `dir`, which decides what a commit (and an fsync with FULL) costs. */
function fileSystemOf(dir: string): string {
  const known: Record<number, string> = {
    0xef53: 'ext4',
    0x58465342: 'xfs',
    0x9123683e: 'btrfs',
    0x01021994: 'tmpfs',
    0x794c7630: 'overlayfs',
    0x2fc12fc1: 'zfs',
    0x6969: 'nfs',
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
    [
      'events',
      `${formatInt(settings.events)} (BENCH_EVENTS), data ~${Math.round(dataBytes)} B JSON + metadata ~${Math.round(metadataBytes)} B, 1 event per stream`,
    ],
    [
      'batching',
      `store ${STORE_BATCH_SIZE} appends/tx, relay 256/publish (embedded: bus rows + relay checkpoint in 1 tx), embedded consumer page 100, ${DEFAULT_MAX_IN_FLIGHT} in flight per group, checkpoint every 250 ms, Kafka ${KAFKA_SEND_BATCH} records/send`,
    ],
    [
      'Kafka',
      settings.brokers
        ? `${settings.brokers.join(',')}, kafkajs ${kafkajsVersion}, ${settings.partitions} partition(s)/topic`
        : 'skipped (KAFKA_BROKERS not set)',
    ],
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
  process.stdout.write(
    `Ceilings (the SQLite batched insert, copy and read: best of ${CEILING_RUNS}, everything else one run; repeat the whole run to judge the noise):\n`,
  );
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
    const message =
      failure instanceof BenchError
        ? failure.message
        : `${(failure as Error)?.stack ?? String(failure)}\n` +
          'This is unexpected: rerun with a smaller BENCH_EVENTS to see whether it is load-related, and report the output above.';
    process.stderr.write(`\n[bench] FAILED: ${message}\n`);
    return 1;
  }
  return 0;
}

runBench(main);
