/*
 * Rebuilding read models from the log: the mailbox and audit projections replayed from position 0.
 *
 *   npm run bench:rebuild
 *   BENCH_REBUILD_EVENTS=1000000 npm run bench:rebuild
 *
 * Target (issue #12): >= 200,000 events/s.
 *
 * What it does (bench/rebuild/fill.ts): boots the whole app in-process, runs BENCH_DELIVERIES real registered
 * deliveries, closes the app, then appends copies of the events those deliveries wrote, with fresh ids, through the
 * product's SqliteEventStore until the log holds BENCH_REBUILD_EVENTS events. Then, on that SQLite file (events and
 * read models in one file, as the embedded app has them), it times ProjectionRunner#rebuild() — the code behind
 * POST /projections/:name/rebuild — of the mailbox projection, then of the audit projection, then of both together
 * (ProjectionRunner.rebuildTogether: each on a worker thread of its own, reading the log on its own connection): drop
 * the read model, read the events of the projection's categories from position 0 (pages of 500), apply them, one
 * savepoint per page, into a scratch file moved into place at the end; the CPU figures include the workers' (the
 * process's CPU time). The app is not running meanwhile (its live consumers would react to the
 * copies), so the runners are built here as ProjectionRunners builds them, on the same database and store classes.
 *
 * Printed: per run the log events scanned per second and the events of its categories applied per second; the log
 * events per second of mailbox then audit (log events / the two rebuilds' time) and of both rebuilt together (the
 * target's figure: `events_per_s` of the RESULT line), the CPU per log event of each run; the floors measured on
 * the same file: raw better-sqlite3 reads of the log (pages of 500, JSON.parse of data and metadata as the store
 * does), and SqliteEventStore#readAll pages. Last line: `RESULT events_per_s=… …`.
 *
 * Environment: BENCH_REBUILD_EVENTS (default 80000), BENCH_DELIVERIES (real deliveries of the seed, default 100),
 * BENCH_CONCURRENCY (64), BENCH_PAIRS (20), SQLITE_SYNCHRONOUS (NORMAL | FULL), TMPDIR (the SQLite file),
 * BENCH_CPU_PROFILE=<file> (a V8 CPU profile of the two rebuilds only; npm run bench:profile -- <file>),
 * BENCH_REBUILD_THREADS=0 (both together on the main thread, one read of the log for both, as without worker threads),
 * BENCH_REBUILD_LOG=<file> (the filled log kept there; when the file exists, a copy of it is rebuilt instead of
 * seeding and filling a new one: before/after pairs on the very same log, and a minute less per run).
 *
 * A benchmark, not a test: it asserts nothing about timings. Progress goes to stderr, the table to stdout.
 */
import { startCpuProfile } from '../common/cpu-profile';
import '../bus/preflight';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Logger } from '@nestjs/common';
import { LoopbackMailbox } from '@sigillum/channels';
import { SqliteEventStore } from '@sigillum/eventstore';
import { WalCheckpointer } from '@sigillum/eventstore/sqlite/wal-checkpointer';
import Database from 'better-sqlite3';
import { auditProjection } from '../../apps/projections/src/audit/audit.projection';
import { mailboxProjection } from '../../apps/projections/src/mailbox/mailbox.projection';
import { ProjectionRunner, type RebuildableProjection } from '../../apps/projections/src/rebuild/projection-runner';
import { resultLine } from '../common/ceiling';
import {
  BenchError,
  formatInt,
  formatRatio,
  integerSetting,
  notes,
  printTable,
  progressLine,
  rows,
  runBench,
  synchronousSetting,
  refuseProblems,
} from '../common/report';
import { replicate, seedRun } from './fill';

const PAGE = 500;

function readSettings(env: NodeJS.ProcessEnv) {
  const problems: string[] = [];
  const integer = integerSetting(env, problems);
  const settings = {
    events: integer('BENCH_REBUILD_EVENTS', 80_000, 1_000),
    deliveries: integer('BENCH_DELIVERIES', 100, 10),
    concurrency: integer('BENCH_CONCURRENCY', 64, 1),
    pairs: integer('BENCH_PAIRS', 20, 1),
    threads: integer('BENCH_REBUILD_THREADS', 1, 0) > 0,
    synchronous: synchronousSetting(env, problems),
  };
  refuseProblems(problems);
  return settings;
}

/** Raw better-sqlite3: the whole log read in pages of 500, data and metadata parsed; milliseconds. */
function rawReadMs(db: Database.Database): { ms: number; events: number } {
  const page = db
    .prepare(
      'SELECT global_position, stream_id, stream_revision, event_type, event_version, data, metadata FROM events WHERE global_position > ? ORDER BY global_position LIMIT ?',
    )
    .safeIntegers(true);
  const started = performance.now();
  let after = 0n;
  let events = 0;
  for (;;) {
    const batch = page.all(after, PAGE) as { global_position: bigint; data: string; metadata: string }[];
    for (const row of batch) {
      JSON.parse(row.data);
      JSON.parse(row.metadata);
    }
    events += batch.length;
    if (batch.length < PAGE) break;
    after = batch[batch.length - 1].global_position;
  }
  return { ms: performance.now() - started, events };
}

/** The product's store: the whole log through SqliteEventStore#readAll, pages of 500; milliseconds. */
async function storeReadMs(store: SqliteEventStore): Promise<number> {
  const started = performance.now();
  let after: bigint | undefined;
  for (;;) {
    const page = await store.readAll({ after, maxCount: PAGE });
    if (page.length < PAGE) break;
    after = page[page.length - 1].globalPosition;
  }
  return performance.now() - started;
}

async function main(): Promise<number> {
  const settings = readSettings(process.env);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-bench-rebuild-'));
  const cleanup = () => fs.rmSync(dataDir, { recursive: true, force: true });
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  const mailbox = await new LoopbackMailbox().start();
  let db: Database.Database | undefined;
  let checkpointer: WalCheckpointer | undefined;
  try {
    const kept = process.env.BENCH_REBUILD_LOG?.trim() || undefined;
    const open = (file: string) => {
      const opened = new Database(file);
      opened.pragma('journal_mode = WAL');
      opened.pragma(`synchronous = ${settings.synchronous}`);
      opened.pragma('busy_timeout = 5000');
      return opened;
    };
    let logNote: string;
    let sqliteFile: string;
    if (kept && fs.existsSync(kept)) {
      sqliteFile = path.join(dataDir, 'rebuild.db');
      fs.copyFileSync(kept, sqliteFile);
      await mailbox.stop();
      db = open(sqliteFile);
      logNote = `the log kept in ${kept} (BENCH_REBUILD_LOG)`;
    } else {
      const seed = await seedRun(dataDir, mailbox, settings);
      await mailbox.stop();
      if (seed.events.length === 0) throw new BenchError('the seed deliveries wrote no events');
      sqliteFile = seed.sqliteFile;
      db = open(sqliteFile);
      const fillStore = new SqliteEventStore(db);
      const before = Number(db.prepare('SELECT count(*) FROM events').pluck().get());
      const copies = Math.max(0, Math.ceil((settings.events - before) / seed.events.length));
      progressLine(`filling the log: ${copies} copies of the ${formatInt(seed.events.length)} events of the seed, fresh ids`);
      const fillStarted = performance.now();
      await replicate(fillStore, seed.events, seed.keep, copies);
      const fillSeconds = (performance.now() - fillStarted) / 1000;
      logNote = `a seed of ${settings.deliveries} real deliveries, ${formatInt(seed.events.length)} events, copied ${copies} times in ${fillSeconds.toFixed(1)} s`;
      if (kept) {
        db.pragma('wal_checkpoint(TRUNCATE)');
        fs.copyFileSync(sqliteFile, kept);
        logNote += `; kept in ${kept}`;
      }
    }
    const store = new SqliteEventStore(db);
    const logEvents = Number(db.prepare('SELECT count(*) FROM events').pluck().get());
    db.pragma('wal_checkpoint(TRUNCATE)');
    // As the product runs (libs/runtime/src/adapters.ts): the WAL is copied back by a worker thread, not inside the
    // page commits of the rebuild (SQLite's auto-checkpoint would charge them the copy and its fsync).
    checkpointer = WalCheckpointer.start(db, { onWarning: (message) => progressLine(`WAL checkpointer: ${message}`) });

    Logger.overrideLogger(['warn', 'error']); // as the bench app runs (LOG_LEVEL=warn): no progress line per page
    const results: { name: string; seconds: number; eventsRead: number; applied: number; poison: number; cpuMs: number }[] = [];
    const stopProfile = await startCpuProfile(process.env.BENCH_CPU_PROFILE?.trim() || undefined); // the rebuilds only
    // Each projection alone, then both together (ProjectionRunner.rebuildTogether: the log read once for both).
    const runs: RebuildableProjection[][] = [[mailboxProjection], [auditProjection], [mailboxProjection, auditProjection]];
    for (const projections of runs) {
      // As ProjectionRunners builds them on the SQLite store: projections rebuilt together each on a worker thread.
      const runners = projections.map((projection) => new ProjectionRunner(db!, store, projection, () => new Date(), undefined, settings.threads));
      const name = projections.map((projection) => projection.name).join(' + ');
      progressLine(`rebuilding ${name} from position 0 (${formatInt(logEvents)} events in the log)`);
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const reports = await Promise.all(ProjectionRunner.rebuildTogether(runners));
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      const sum = (count: (report: (typeof reports)[number]) => number) => reports.reduce((total, report) => total + count(report), 0);
      results.push({
        name,
        seconds,
        eventsRead: sum((report) => report.eventsRead),
        applied: sum((report) => report.applied),
        poison: sum((report) => report.poison),
        cpuMs: (cpu.user + cpu.system) / 1000,
      });
    }

    await stopProfile();
    progressLine('floors: raw better-sqlite3 reads of the log, SqliteEventStore#readAll');
    const raw = rawReadMs(db);
    const rawPerSecond = raw.events / (raw.ms / 1000);
    const storePerSecond = logEvents / ((await storeReadMs(store)) / 1000);
    const by = (name: string) => results.find((r) => r.name === name)!;
    const togetherPerSecond = logEvents / by('mailbox + audit').seconds;
    const sequentialPerSecond = logEvents / (by('mailbox').seconds + by('audit').seconds);

    for (const r of results) {
      rows.push({
        what: `rebuild ${r.name}: log events scanned (${formatInt(r.eventsRead)} of its categories, ${formatInt(r.applied)} applied, ${r.poison} refused)`,
        perSecond: logEvents / r.seconds,
        ratio: formatRatio(logEvents / r.seconds / rawPerSecond),
        against: 'rebuild / raw read',
      });
      rows.push({ what: `rebuild ${r.name}: events of its categories applied`, perSecond: r.eventsRead / r.seconds });
    }
    rows.push({ what: 'mailbox, then audit: log events per second (log events / both rebuilds)', perSecond: sequentialPerSecond });
    rows.push({
      what: 'mailbox + audit rebuilt together: log events per second',
      perSecond: togetherPerSecond,
      ratio: formatRatio(togetherPerSecond / 200_000),
      against: 'vs target 200,000/s',
    });
    rows.push({ what: 'floor: SqliteEventStore#readAll of the log, pages of 500', perSecond: storePerSecond });
    rows.push({ what: 'floor: raw better-sqlite3 read of the log + JSON.parse, pages of 500', perSecond: rawPerSecond });
    for (const r of results) {
      notes.push(
        `${r.name}: ${r.seconds.toFixed(2)} s, ${(r.cpuMs / 1000).toFixed(2)} s CPU, ${((r.cpuMs * 1000) / logEvents).toFixed(1)} µs CPU per log event`,
      );
    }
    notes.push(`log: ${formatInt(logEvents)} events (${logNote}); file ${(fs.statSync(sqliteFile).size / 1e6).toFixed(0)} MB`);
    notes.push(settings.threads ? 'mailbox + audit: each on a worker thread' : 'mailbox + audit: on the main thread (BENCH_REBUILD_THREADS=0)');
    notes.push('target: >= 200,000 events/s; the machine is shared, figures are indicative');

    process.stdout.write(`\nSigillum projection rebuild benchmark (${new Date().toISOString()})\n`);
    process.stdout.write(
      `  node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model?.trim() ?? 'cpu'}, store sqlite, SQLITE_SYNCHRONOUS=${settings.synchronous}\n`,
    );
    printTable();
    for (const note of notes) process.stdout.write(`  ${note}\n`);
    process.stdout.write(
      `${resultLine({
        events_per_s: togetherPerSecond,
        sequential_events_per_s: sequentialPerSecond,
        mailbox_events_per_s: logEvents / by('mailbox').seconds,
        audit_events_per_s: logEvents / by('audit').seconds,
        cpu_us_per_log_event: (by('mailbox + audit').cpuMs * 1000) / logEvents,
        raw_read_events_per_s: rawPerSecond,
        log_events: logEvents,
      })}\n`,
    );
    return 0;
  } finally {
    await checkpointer?.stop();
    db?.close();
    await mailbox.stop().catch(() => undefined);
    cleanup();
  }
}

runBench(main);
