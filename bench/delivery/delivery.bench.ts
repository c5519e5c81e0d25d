/*
 * Registered deliveries end to end, through every role, in one process.
 *
 *   npm run bench:delivery                                              # embedded bus (the default)
 *   KAFKA_BROKERS=127.0.0.1:9092 npm run bench:delivery   # KAFKA_BROKERS implies EVENT_BUS=kafka (bash scripts/kafka.sh start)
 *
 * Target (issue): >= 1,000 registered deliveries per second end to end on 2 cores embedded, >= 500/s on Kafka.
 *
 * What it does: boots the whole app in-process (as `npm start` does); as the operator's staff (the first-start
 * admin credential under DATA_DIR, and a registrar credential it issues) enrols a processing operator hosted by the
 * processor (its keys made by the processor, certified by the CA), BENCH_PAIRS senders and recipients; each sender
 * opens its strong session, and through it prepares BENCH_DELIVERIES drafts, each shown as a specimen and validated
 * (setup, not timed). Then it sends them all, BENCH_CONCURRENCY in flight, and times each one from POST /drafts/:id/sending
 * until its chain is completed (seal, RFC 3161 time-stamp, deliver, archive — every token issued, acknowledged,
 * returned and certified) and the recipient holds it (DeliveredToRecipient), observed on the store's own log.
 * It counts the events and the signatures one delivery writes (and the node:crypto signatures and verifications the
 * process made in the timed phase, bench/common/crypto-count.ts), and measures in the same run the ceiling they rest
 * on (bench/common/ceiling.ts): raw better-sqlite3 inserts of those very events, batched (500 rows per transaction,
 * WAL, the same synchronous setting), and raw node:crypto Ed25519 / RSA-2048 signatures and verifications of one
 * delivery on one core. Ceiling (deliveries/s) = min(raw store, raw crypto); the ratio product / ceiling is printed.
 * It ends with one machine-readable line on stdout: `RESULT deliveries_per_s=… cpu_ms_per_delivery=… p99_ms=…
 * ceiling_ratio=… events_per_delivery=… signatures_per_delivery=…` (the main run).
 *
 * BENCH_COMPARE=1 runs first a quarter of the deliveries with every evidence record signed on its own
 * (EVIDENCE_RECORD_SIGNATURES=jws, as before the evidence log) and prints signatures, deliveries/s, CPU ms and bytes
 * per delivery before and after. That comparison is history now (the evidence log is the default): off by default.
 *
 * Environment: BENCH_DELIVERIES (default 1000), BENCH_CONCURRENCY (64), BENCH_PAIRS (20), BENCH_PHASE_TIMEOUT_S (600),
 * BENCH_COMPARE (0 | 1, default 0), SQLITE_SYNCHRONOUS (NORMAL | FULL), BENCH_KAFKA=1 with KAFKA_BROKERS, TMPDIR (SQLite files), BENCH_CPU_PROFILE=<file>, BENCH_HEAP_PROFILE=<file> (the allocations of the timed phase, bench/common/cpu-profile.ts)
 * (a V8 CPU profile of the timed phase only, for Chrome DevTools or speedscope). The domicile's per-address limit on
 * session requests is off unless set (SESSION_REQUESTS_PER_ADDRESS_PER_HOUR=0): one client address opens a session
 * for each of BENCH_PAIRS senders.
 *
 * A benchmark, not a test: it asserts nothing about timings. Progress goes to stderr, the table to stdout.
 */
import '../common/crypto-count';
import '../bus/preflight';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LoopbackMailbox } from '@sigillum/channels';
import type { RecordedEvent } from '@sigillum/contracts';
import { BATCH, countSignatures, cryptoCeiling, cryptoPerDelivery, rawBatchedInsertMs, rawCryptoRates, resultLine } from '../common/ceiling';
import { profileFiles, startProfiles } from '../common/cpu-profile';
import { type CryptoCounts, cryptoCounts, cryptoCountsSince } from '../common/crypto-count';
import { type BenchApp, DeliveryWatch, prepareDrafts, sendAll, startBenchApp } from '../common/delivery-run';
import { type SqliteCounts, sqliteCounts, sqliteCountsSince } from '../common/sqlite-count';
import { type BusCounts, busCounts, busCountsSince } from '../common/bus-count';
import { ReadModelWatch } from '../common/read-model-lag';
import { type ThreadCpu, threadCpuSince, threadTicks } from '../common/thread-cpu';
import {
  BenchError,
  integerSetting,
  Client,
  distribution,
  formatInt,
  formatRatio,
  notes,
  printTable,
  Progress,
  progressLine,
  rows,
  within,
  runBench,
  synchronousSetting,
  refuseProblems,
} from '../common/report';

interface Settings {
  readonly deliveries: number;
  readonly concurrency: number;
  readonly pairs: number;
  readonly synchronous: 'NORMAL' | 'FULL';
  readonly brokers?: string;
  readonly phaseTimeoutMs: number;
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const problems: string[] = [];
  const integer = integerSetting(env, problems);
  const deliveries = integer('BENCH_DELIVERIES', 1_000, 10);
  const concurrency = integer('BENCH_CONCURRENCY', 64, 1);
  const pairs = integer('BENCH_PAIRS', 20, 1);
  const phaseTimeoutMs = integer('BENCH_PHASE_TIMEOUT_S', 600, 1) * 1000;
  const synchronous = synchronousSetting(env, problems);
  // The apps' rule: KAFKA_BROKERS implies the Kafka bus (BENCH_KAFKA=1 only insists on it).
  const brokers = env.KAFKA_BROKERS?.trim() || undefined;
  if (env.BENCH_KAFKA?.trim() === '1' && !brokers) {
    problems.push('BENCH_KAFKA=1 needs KAFKA_BROKERS, e.g. KAFKA_BROKERS=127.0.0.1:9092 (bash scripts/kafka.sh start)');
  }
  refuseProblems(problems);
  return { deliveries, concurrency, pairs, synchronous, brokers, phaseTimeoutMs };
}

/** What one run measured. */
interface RunResult {
  readonly label: string;
  readonly deliveries: number;
  readonly latencies: number[];
  readonly deliveriesPerSecond: number;
  /** Process CPU (user + system) over the timed phase, per delivery. */
  readonly cpuMsPerDelivery: number;
  /** CPU of each thread over the timed phase (Linux), and the phase's length, ms. */
  readonly threads: (ThreadCpu & { readonly phaseMs: number }) | undefined;
  readonly events: RecordedEvent[];
  readonly signatures: { ed25519: number; rsa: number };
  /** node:crypto signatures and verifications by key type, counted over the timed phase. */
  readonly counted: CryptoCounts;
  /** SQLite commits and statements of the main thread, over the timed phase. */
  readonly sqlite: SqliteCounts;
  readonly bus: BusCounts;
  /** Milliseconds from the last delivery's completion until the read models held all of it; undefined: not within 30 s. */
  readonly readModelsCaughtUpMs: number | undefined;
  readonly readModelsBehind: number;
  readonly projectionsApply: string;
  readonly busKind: string;
  readonly storeKind: string;
  readonly dataDir: string;
}

/** One whole run: boot, set up, send `deliveries`, watch them complete; `env` applied over the bench's settings. */
async function runOnce(
  settings: Settings,
  label: string,
  deliveries: number,
  env: NodeJS.ProcessEnv,
  profile: boolean,
  keepDir: (dir: string) => void,
): Promise<RunResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-bench-delivery-'));
  keepDir(dataDir);
  const mailbox = await new LoopbackMailbox().start();
  let bench: BenchApp | undefined;
  let client: Client | undefined;
  let watch: DeliveryWatch | undefined;
  try {
    progressLine(`[${label}] booting the app in-process (${settings.brokers ? 'kafka' : 'embedded'} bus, data in ${dataDir})`);
    bench = await startBenchApp({ dataDir, mailbox, synchronous: settings.synchronous, brokers: settings.brokers, env });
    const { config, port, store } = bench;
    client = new Client('127.0.0.1', port, Math.max(settings.concurrency, 4));
    const timeout = settings.phaseTimeoutMs;

    progressLine(
      `[${label}] setup: a hosted processing operator, ${settings.pairs} senders with an open session and ${settings.pairs} recipients; ${formatInt(deliveries)} drafts validated`,
    );
    const prepared = await within(
      prepareDrafts(client, `http://127.0.0.1:${port}`, dataDir, mailbox, { ...settings, deliveries }),
      timeout,
      () => `setup did not finish within ${timeout / 1000} s; lower BENCH_DELIVERIES`,
    );
    watch = new DeliveryWatch();
    await watch.startAtEnd(store);
    watch.recording = true;

    progressLine(`[${label}] sending ${formatInt(deliveries)} registered deliveries, ${settings.concurrency} in flight`);
    const stopProfiles = await startProfiles(profile ? profileFiles(process.env) : {});
    const latencies: number[] = [];
    const progress = new Progress('delivered', deliveries);
    const cryptoBefore = cryptoCounts();
    const sqliteBefore = sqliteCounts();
    const busBefore = await busCounts();
    const cpuBefore = process.cpuUsage();
    const threadsBefore = threadTicks();
    const started = performance.now();
    const sending = sendAll(client, prepared, watch, settings.concurrency, (elapsed) => {
      latencies.push(elapsed);
      progress.update(latencies.length);
    });
    await within(sending, timeout, () => `the deliveries did not all complete within ${timeout / 1000} s (${latencies.length} did)`);
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const threads = threadCpuSince(threadsBefore);
    const counted = cryptoCountsSince(cryptoBefore);
    const sqlite = sqliteCountsSince(sqliteBefore);
    const bus = await busCountsSince(busBefore);
    await stopProfiles();
    const readModels = new ReadModelWatch(config.sqliteFile);
    const readModelsCaughtUpMs = await readModels.caughtUpWithin(30_000);
    const readModelsBehind = readModels.behind();
    readModels.close();
    // Let the evidence of the last deliveries (and a checkpoint of the evidence log) land before counting.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    watch.recording = false;
    const events = [...watch.events];
    return {
      label,
      deliveries,
      latencies,
      deliveriesPerSecond: deliveries / (elapsedMs / 1000),
      cpuMsPerDelivery: (cpu.user + cpu.system) / 1000 / deliveries,
      threads: threads && { ...threads, phaseMs: elapsedMs },
      events,
      signatures: countSignatures(events.map((e) => e.event.data)),
      counted,
      sqlite,
      bus,
      readModelsCaughtUpMs,
      readModelsBehind,
      projectionsApply: config.projectionsApply,
      busKind: config.eventBus.kind,
      storeKind: config.eventStore.kind,
      dataDir,
    };
  } finally {
    await watch?.stop();
    client?.close();
    await bench?.app.close();
    await mailbox.stop();
  }
}

async function main(): Promise<number> {
  const settings = readSettings(process.env);
  const dirs: string[] = [];
  const cleanup = () => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true }));
  process.once('SIGINT', () => {
    cleanup();
    process.stderr.write(`\n[bench] interrupted; removed ${dirs.join(', ')}.\n`);
    process.exit(130);
  });
  try {
    // Before: every evidence record signed on its own (EVIDENCE_RECORD_SIGNATURES=jws), a quarter of the deliveries;
    // after: the product's default, records proven by the evidence log. Only with BENCH_COMPARE=1 (history now).
    const compare = process.env.BENCH_COMPARE?.trim() === '1';
    const before = compare
      ? await runOnce(
          settings,
          'before: per-record JWS',
          Math.max(50, Math.floor(settings.deliveries / 4)),
          { EVIDENCE_RECORD_SIGNATURES: 'jws' },
          false,
          (dir) => dirs.push(dir),
        )
      : undefined;
    const after = await runOnce(
      settings,
      'evidence log',
      settings.deliveries,
      { EVIDENCE_RECORD_SIGNATURES: 'none' },
      true, // the main run is the one profiled, when BENCH_CPU_PROFILE / BENCH_HEAP_PROFILE ask for it
      (dir) => dirs.push(dir),
    );

    const { events, signatures } = after;
    const perDelivery = events.length / settings.deliveries;
    const byType = new Map<string, number>();
    for (const recorded of events) byType.set(recorded.event.type, (byType.get(recorded.event.type) ?? 0) + 1);

    progressLine(`ceiling: raw SQLite inserts of the same events (${BATCH} per transaction), raw node:crypto operations of one delivery`);
    const rawMs = rawBatchedInsertMs(after.dataDir, settings.synchronous, events);
    const rates = rawCryptoRates();
    const deliveriesPerSecond = after.deliveriesPerSecond;
    const rawStoreDeliveriesPerSecond = settings.deliveries / (rawMs / 1000);
    const edPerDelivery = signatures.ed25519 / settings.deliveries;
    const rsaPerDelivery = signatures.rsa / settings.deliveries;
    const perDeliveryCrypto = cryptoPerDelivery(signatures, after.counted, settings.deliveries);
    const rawCryptoDeliveriesPerSecond = cryptoCeiling(perDeliveryCrypto, rates);
    const ceiling = Math.min(rawStoreDeliveriesPerSecond, rawCryptoDeliveriesPerSecond);
    const ceilingRatio = deliveriesPerSecond / ceiling;
    const mainDist = distribution(after.latencies);

    if (before) {
      rows.push({
        what: `before: every evidence record signed (EVIDENCE_RECORD_SIGNATURES=jws), ${formatInt(before.deliveries)} deliveries`,
        dist: distribution(before.latencies),
        perSecond: before.deliveriesPerSecond,
      });
    }
    rows.push({
      what: `registered delivery, send → chain completed + delivered (${after.busKind})`,
      dist: mainDist,
      perSecond: deliveriesPerSecond,
    });
    rows.push({
      what: `ceiling: raw SQLite inserts of those events, ${BATCH} per transaction`,
      perSecond: rawStoreDeliveriesPerSecond,
      ratio: formatRatio(deliveriesPerSecond / rawStoreDeliveriesPerSecond),
      against: 'product / raw store',
    });
    rows.push({
      what: 'ceiling: raw node:crypto signatures + verifications of one delivery, one core',
      perSecond: rawCryptoDeliveriesPerSecond,
      ratio: formatRatio(deliveriesPerSecond / rawCryptoDeliveriesPerSecond),
      against: 'product / raw crypto',
    });
    rows.push({
      what: 'ceiling: min(raw store, raw crypto)',
      perSecond: ceiling,
      ratio: formatRatio(ceilingRatio),
      against: 'product / ceiling',
    });
    if (before) {
      const beforeEd = before.signatures.ed25519 / before.deliveries;
      const beforeBytes = bytesOf(before.events) / before.deliveries;
      const afterBytes = bytesOf(after.events) / after.deliveries;
      notes.push(
        `signatures per delivery: before (per-record JWS) ${beforeEd.toFixed(1)} Ed25519 + ${(before.signatures.rsa / before.deliveries).toFixed(2)} RSA, after (evidence log) ${edPerDelivery.toFixed(1)} Ed25519 + ${rsaPerDelivery.toFixed(2)} RSA: ${(beforeEd - edPerDelivery).toFixed(1)} fewer Ed25519 (checkpoint notes and time-stamps counted, shared by every delivery of their second)`,
      );
      notes.push(
        `before → after: ${before.deliveriesPerSecond.toFixed(1)} → ${deliveriesPerSecond.toFixed(1)} deliveries/s, ${before.cpuMsPerDelivery.toFixed(1)} → ${after.cpuMsPerDelivery.toFixed(1)} ms of process CPU per delivery, ${formatInt(beforeBytes)} → ${formatInt(afterBytes)} bytes of event data per delivery`,
      );
    }
    const p = perDeliveryCrypto;
    const counted = Object.entries(after.counted)
      .map(([name, n]) => `${name} ${(n / settings.deliveries).toFixed(2)}`)
      .join(', ');
    notes.push(
      `per run: ${deliveriesPerSecond.toFixed(1)} deliveries/s, p50 ${mainDist.p50.toFixed(0)} ms, p99 ${mainDist.p99.toFixed(0)} ms, ${after.cpuMsPerDelivery.toFixed(1)} ms of process CPU per delivery, ${perDelivery.toFixed(1)} events and ${(edPerDelivery + rsaPerDelivery).toFixed(2)} signatures per delivery, ${formatRatio(ceilingRatio)} the ceiling`,
    );
    if (after.threads) {
      const { mainMs, othersMs, phaseMs } = after.threads;
      const busiest = othersMs.slice(0, 4).map((ms) => `${(ms / settings.deliveries).toFixed(1)} ms (${((100 * ms) / phaseMs).toFixed(0)} %)`);
      notes.push(
        `CPU per delivery by thread (timed phase, /proc/self/task): main ${(mainMs / settings.deliveries).toFixed(1)} ms (busy ${((100 * mainMs) / phaseMs).toFixed(0)} % of the phase); the ${othersMs.length} others together ${(othersMs.reduce((a, b) => a + b, 0) / settings.deliveries).toFixed(1)} ms, the busiest ${busiest.join(', ')}`,
      );
    }
    const sq = after.sqlite;
    notes.push(
      `SQLite per delivery (main thread, timed phase): ${(sq.commits / settings.deliveries).toFixed(1)} commits (${(sq.autocommits / settings.deliveries).toFixed(1)} of them a statement run alone) taking ${(sq.commitMs / settings.deliveries).toFixed(2)} ms, ${(sq.statements / settings.deliveries).toFixed(0)} statements; ${formatInt(bytesOf(after.events) / settings.deliveries)} bytes of event data (JSON of the events' data)`,
    );
    notes.push(
      `bus consumers per delivery (timed phase): ${(after.bus.handlerCalls / settings.deliveries).toFixed(1)} handler calls, ${(after.bus.passedOver / settings.deliveries).toFixed(1)} messages passed over (a type none of the topic's handlers acts on)`,
    );
    notes.push(
      after.readModelsCaughtUpMs === undefined
        ? `read models (mailbox, audit): still ${after.readModelsBehind} events behind the log 30 s after the last delivery completed`
        : `read models (mailbox, audit): caught up with the log ${after.readModelsCaughtUpMs.toFixed(0)} ms after the last delivery completed (PROJECTIONS_APPLY=${after.projectionsApply})`,
    );
    if (sq.written) {
      notes.push(
        `written per delivery (the whole process, timed phase, /proc/self/io): ${formatInt(sq.written.bytes / 1024 / settings.deliveries)} kB in ${formatInt(sq.written.calls / settings.deliveries)} write calls (WAL frames, the checkpointer's copy, sockets)`,
      );
    }
    notes.push(
      `signatures per delivery (in its events): ${edPerDelivery.toFixed(1)} Ed25519, ${rsaPerDelivery.toFixed(2)} RSA-2048 (RFC 3161; checkpoint notes and their time-stamps are shared by every delivery of their second)`,
    );
    notes.push(
      `node:crypto calls per delivery in the timed phase: ${counted || 'none seen'}; the crypto ceiling counts ${p.ed25519Sign.toFixed(1)} Ed25519 signatures + ${p.ed25519Verify.toFixed(1)} verifications, ${p.rsaSign.toFixed(2)} RSA signatures + ${p.rsaVerify.toFixed(2)} verifications`,
    );
    notes.push(
      `node:crypto on this machine, one core: ${formatInt(rates.ed25519Sign)} Ed25519 signatures/s, ${formatInt(rates.ed25519Verify)} verifications/s, ${formatInt(rates.rsaSign)} RSA-2048 signatures/s, ${formatInt(rates.rsaVerify)} verifications/s`,
    );
    notes.push(
      `events per delivery by type: ${[...byType]
        .sort((a, b) => b[1] - a[1])
        .map(([type, n]) => `${type} ${(n / settings.deliveries).toFixed(2)}`)
        .join(', ')}`,
    );
    notes.push(`target: >= 1,000/s embedded, >= 500/s on Kafka, on 2 cores (this machine: ${os.cpus().length} cores)`);

    process.stdout.write(`\nSigillum registered-delivery benchmark (${new Date().toISOString()})\n`);
    process.stdout.write(
      `  node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model?.trim() ?? 'cpu'}, bus ${after.busKind}, store ${after.storeKind}, SQLITE_SYNCHRONOUS=${settings.synchronous}\n`,
    );
    process.stdout.write(
      `  ${formatInt(settings.deliveries)} deliveries, ${settings.concurrency} in flight, ${settings.pairs} sender/recipient pairs, kind "registered" (seal, timestamp, deliver, archive)\n`,
    );
    printTable();
    for (const note of notes) process.stdout.write(`  ${note}\n`);
    process.stdout.write(
      `${resultLine({
        deliveries_per_s: deliveriesPerSecond,
        cpu_ms_per_delivery: after.cpuMsPerDelivery,
        p99_ms: mainDist.p99,
        ceiling_ratio: ceilingRatio,
        events_per_delivery: perDelivery,
        signatures_per_delivery: edPerDelivery + rsaPerDelivery,
      })}\n`,
    );
    return 0;
  } finally {
    cleanup();
  }
}

/** Bytes of event data (JSON) the events hold. */
function bytesOf(events: readonly RecordedEvent[]): number {
  return events.reduce((sum, recorded) => sum + Buffer.byteLength(JSON.stringify(recorded.event.data)), 0);
}

runBench(main, 'If it mentions Kafka, start a broker (bash scripts/kafka.sh start) or unset KAFKA_BROKERS for the embedded bus.');
