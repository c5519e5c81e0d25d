/*
 * Bytes on disk per registered delivery, embedded (one process, every role, the embedded bus).
 *
 *   npm run bench:disk
 *
 * What it does: boots the whole app in-process on a fresh DATA_DIR (as `npm start` does) and enrols the operator's
 * processing operator, senders and recipients (shared set-up with bench:delivery). Then, BENCH_BATCHES times: prepares
 * BENCH_LETTERS registered letters (2 kB each: upload, draft, specimen, validation), sends them, waits until every
 * chain is completed and the recipient holds it, waits BENCH_SETTLE_S more (the embedded bus prunes its log behind
 * the slowest group after its retention, 60 s by default; checkpoints and timers land), and measures DATA_DIR:
 *
 *   - bytes of every file (the SQLite file, its -wal and -shm, the content archive, the keys), by kind;
 *   - per table (indexes counted with their table) of every SQLite file, from SQLite's `dbstat` virtual table
 *     (better-sqlite3 is built with SQLITE_ENABLE_DBSTAT_VTAB), and the pages on the free list;
 *   - bytes per delivery: each batch's growth divided by its letters. The first batch starts from the enrolled
 *     set-up; later batches show the steady state, where pages a pruning freed are reused.
 *
 * Environment: BENCH_LETTERS (default 200), BENCH_BATCHES (2), BENCH_SETTLE_S (75), BENCH_CONCURRENCY (32),
 * BENCH_PAIRS (10), BENCH_PHASE_TIMEOUT_S (600), SQLITE_SYNCHRONOUS (NORMAL | FULL), TMPDIR (where DATA_DIR goes).
 *
 * A benchmark, not a test: it asserts nothing. Progress goes to stderr, the tables to stdout.
 */
import '../bus/preflight';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LoopbackMailbox } from '@sigillum/channels';
import Database from 'better-sqlite3';
import { type BenchApp, DeliveryWatch, enrolParties, prepareLetters, sendAll, startBenchApp } from '../common/delivery-run';
import { BenchError, integerSetting, Client, formatInt, Progress, progressLine, within, runBench, synchronousSetting, refuseProblems } from '../common/report';

interface Settings {
  readonly letters: number;
  readonly batches: number;
  readonly settleMs: number;
  readonly concurrency: number;
  readonly pairs: number;
  readonly synchronous: 'NORMAL' | 'FULL';
  readonly phaseTimeoutMs: number;
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const problems: string[] = [];
  const integer = integerSetting(env, problems);
  const letters = integer('BENCH_LETTERS', 200, 1);
  const batches = integer('BENCH_BATCHES', 2, 1);
  const settleMs = integer('BENCH_SETTLE_S', 75, 0) * 1000;
  const concurrency = integer('BENCH_CONCURRENCY', 32, 1);
  const pairs = integer('BENCH_PAIRS', 10, 1);
  const phaseTimeoutMs = integer('BENCH_PHASE_TIMEOUT_S', 600, 1) * 1000;
  const synchronous = synchronousSetting(env, problems);
  if (env.KAFKA_BROKERS?.trim()) problems.push('bench:disk measures the embedded one-process app: unset KAFKA_BROKERS');
  refuseProblems(problems);
  return { letters, batches, settleMs, concurrency, pairs, synchronous, phaseTimeoutMs };
}

/** What DATA_DIR holds at one moment. */
interface Snapshot {
  /** Bytes per kind of file: the SQLite files (main, -wal, -shm) and the top-level directories (archive, keys...). */
  readonly files: Map<string, number>;
  /** Bytes per table of the SQLite files (its indexes included), from dbstat; `(free pages)` is the free list. */
  readonly tables: Map<string, number>;
  /** Rows of a few tables worth counting. */
  readonly rows: Map<string, number>;
  readonly total: number;
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

function isSqliteFile(file: string): boolean {
  const header = Buffer.alloc(16);
  const fd = fs.openSync(file, 'r');
  try {
    return fs.readSync(fd, header, 0, 16, 0) === 16 && header.equals(SQLITE_HEADER);
  } finally {
    fs.closeSync(fd);
  }
}

function walk(dir: string, visit: (file: string, size: number) => void): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, visit);
    else if (entry.isFile()) visit(full, fs.statSync(full).size);
  }
}

/** The kind a file is counted under: `<name>.db`, `<name>.db-wal`... at the top, else its top-level directory. */
function kindOf(dataDir: string, file: string): string {
  const relative = path.relative(dataDir, file);
  const [top, ...rest] = relative.split(path.sep);
  return rest.length === 0 ? top : `${top}/`;
}

const COUNTED_TABLES = ['events', 'bus_messages', 'bus_checkpoints'];

function snapshot(dataDir: string): Snapshot {
  const files = new Map<string, number>();
  const databases: string[] = [];
  let total = 0;
  walk(dataDir, (file, size) => {
    total += size;
    const kind = kindOf(dataDir, file);
    files.set(kind, (files.get(kind) ?? 0) + size);
    if (size >= 16 && isSqliteFile(file)) databases.push(file);
  });
  const tables = new Map<string, number>();
  const rows = new Map<string, number>();
  for (const file of databases) {
    // A second, read-only handle: it sees what the app committed, the WAL's pages included.
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const prefix = databases.length > 1 ? `${path.basename(file)}:` : '';
      const owners = new Map(
        (db.prepare("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')").all() as { name: string; tbl_name: string }[]).map((r) => [
          r.name,
          r.tbl_name,
        ]),
      );
      owners.set('sqlite_schema', 'sqlite_schema');
      owners.set('sqlite_master', 'sqlite_schema');
      for (const { name, bytes } of db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all() as { name: string; bytes: number }[]) {
        const table = prefix + (owners.get(name) ?? name);
        tables.set(table, (tables.get(table) ?? 0) + bytes);
      }
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      const free = (db.pragma('freelist_count', { simple: true }) as number) * pageSize;
      tables.set(`${prefix}(free pages)`, (tables.get(`${prefix}(free pages)`) ?? 0) + free);
      for (const table of COUNTED_TABLES) {
        if (owners.get(table) === table) rows.set(prefix + table, db.prepare(`SELECT count(*) FROM "${table}"`).pluck().get() as number);
      }
      if (owners.get('bus_messages') === 'bus_messages') {
        // What the embedded bus log still holds, per topic (dead letters apart).
        const perTopic = db
          .prepare(`SELECT topic || CASE WHEN dlq_group = '' THEN '' ELSE ' (dead letters)' END AS topic, count(*) AS n FROM bus_messages GROUP BY 1`)
          .all() as { topic: string; n: number }[];
        for (const { topic, n } of perTopic) rows.set(`${prefix}bus_messages ${topic}`, n);
      }
    } finally {
      db.close();
    }
  }
  return { files, tables, rows, total };
}

function printDelta(title: string, before: Map<string, number>, after: Map<string, number>, letters: number, absolute: boolean): void {
  const names = [...new Set([...before.keys(), ...after.keys()])];
  const lines = names
    .map((name) => ({ name, now: after.get(name) ?? 0, delta: (after.get(name) ?? 0) - (before.get(name) ?? 0) }))
    .filter((line) => line.now !== 0 || line.delta !== 0)
    .sort((a, b) => b.delta - a.delta || b.now - a.now);
  const width = Math.max(title.length, ...lines.map((line) => line.name.length));
  process.stdout.write(`  ${title.padEnd(width)}  ${'bytes now'.padStart(13)}  ${'growth'.padStart(13)}  ${'per delivery'.padStart(12)}\n`);
  for (const line of lines) {
    process.stdout.write(
      `  ${line.name.padEnd(width)}  ${formatInt(line.now).padStart(13)}  ${formatInt(line.delta).padStart(13)}  ${(absolute ? formatInt(line.delta / letters) : (line.delta / letters).toFixed(2)).padStart(12)}\n`,
    );
  }
}

/** Lets timers run (checkpoints, the bus log's pruning after its retention) before a measurement. */
async function settle(ms: number, when: string): Promise<void> {
  if (ms === 0) return;
  progressLine(`waiting ${ms / 1000} s ${when} (checkpoints, pruning of the bus log)`);
  await new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(): Promise<number> {
  const settings = readSettings(process.env);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-bench-disk-'));
  process.once('SIGINT', () => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.stderr.write(`\n[bench] interrupted; removed ${dataDir}.\n`);
    process.exit(130);
  });
  const mailbox = await new LoopbackMailbox().start();
  let bench: BenchApp | undefined;
  let client: Client | undefined;
  let watch: DeliveryWatch | undefined;
  try {
    progressLine(`booting the app in-process (embedded bus, data in ${dataDir})`);
    bench = await startBenchApp({ dataDir, mailbox, synchronous: settings.synchronous });
    const { config, port, store } = bench;
    if (config.eventBus.kind !== 'embedded') throw new BenchError(`bench:disk needs the embedded bus, the app chose ${config.eventBus.kind}`);
    client = new Client('127.0.0.1', port, Math.max(settings.concurrency, 4));
    const base = `http://127.0.0.1:${port}`;
    const timeout = settings.phaseTimeoutMs;
    watch = new DeliveryWatch();
    await watch.startAtEnd(store);

    progressLine(`setup: a hosted processing operator, ${settings.pairs} senders with an open session and ${settings.pairs} recipients`);
    const enrolled = await within(
      enrolParties(client, dataDir, mailbox, settings.pairs),
      timeout,
      () => `the enrolment did not finish within ${timeout / 1000} s`,
    );
    await settle(settings.settleMs, 'after the enrolment');
    const snapshots: Snapshot[] = [snapshot(dataDir)];
    for (let batch = 0; batch < settings.batches; batch++) {
      progressLine(`batch ${batch + 1}/${settings.batches}: ${formatInt(settings.letters)} letters prepared and validated`);
      const prepared = await within(
        prepareLetters(base, enrolled, settings.letters, batch * settings.letters),
        timeout,
        () => `the drafts were not ready within ${timeout / 1000} s`,
      );
      progressLine(`batch ${batch + 1}/${settings.batches}: sending them, ${settings.concurrency} in flight, until every chain is completed`);
      const progress = new Progress('delivered', settings.letters);
      let done = 0;
      await within(
        sendAll(client, prepared, watch, settings.concurrency, () => progress.update(++done)),
        timeout,
        () => `the deliveries did not all complete within ${timeout / 1000} s (${done} did)`,
      );
      await settle(settings.settleMs, `after batch ${batch + 1}`);
      snapshots.push(snapshot(dataDir));
    }

    const last = snapshots[snapshots.length - 1];
    process.stdout.write(`\nSigillum bytes on disk per registered delivery (${new Date().toISOString()})\n`);
    process.stdout.write(
      `  node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model?.trim() ?? 'cpu'}, bus ${config.eventBus.kind}, store ${config.eventStore.kind}, SQLITE_SYNCHRONOUS=${settings.synchronous}\n`,
    );
    process.stdout.write(
      `  ${settings.batches} batch(es) of ${formatInt(settings.letters)} registered letters (2 kB each), ${settings.pairs} sender/recipient pairs, settled ${settings.settleMs / 1000} s after each\n\n`,
    );
    process.stdout.write(`  DATA_DIR after the enrolment: ${formatInt(snapshots[0].total)} bytes; after everything: ${formatInt(last.total)} bytes\n`);
    for (let batch = 1; batch < snapshots.length; batch++) {
      const growth = snapshots[batch].total - snapshots[batch - 1].total;
      process.stdout.write(`  batch ${batch}: DATA_DIR grew ${formatInt(growth)} bytes = ${formatInt(growth / settings.letters)} bytes per delivery\n`);
    }
    const overall = last.total - snapshots[0].total;
    process.stdout.write(`  all batches: ${formatInt(overall / (settings.letters * settings.batches))} bytes per delivery\n\n`);
    const from = snapshots[0];
    const letters = settings.letters * settings.batches;
    printDelta('file (all batches)', from.files, last.files, letters, true);
    process.stdout.write('\n');
    printDelta('table, indexes included (all batches)', from.tables, last.tables, letters, true);
    process.stdout.write('\n');
    printDelta('rows (all batches)', from.rows, last.rows, letters, false);
    if (snapshots.length > 2) {
      process.stdout.write('\n');
      printDelta(`table, last batch only`, snapshots[snapshots.length - 2].tables, last.tables, settings.letters, true);
    }
    return 0;
  } finally {
    await watch?.stop();
    client?.close();
    await bench?.app.close();
    await mailbox.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

runBench(main);
