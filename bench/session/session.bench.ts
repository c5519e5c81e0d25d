/*
 * Opening a strongly authenticated session (claim 1), end to end through every role, in one process.
 *
 *   npm run bench:session                                              # embedded bus (the default)
 *   KAFKA_BROKERS=127.0.0.1:9092 npm run bench:session   # KAFKA_BROKERS implies EVENT_BUS=kafka (bash scripts/kafka.sh start)
 *
 * Target (issue): p99 <= 10 ms per opening in embedded mode, out-of-band transport excluded, and thousands
 * of openings per second on 2 cores.
 *
 * What it does: boots the whole app in-process (createSigillumApp, as `npm start` does) with the file
 * transport for e-mail codes (OOB_EMAIL_TRANSPORT=file, written to tmpfs when /dev/shm exists); as the operator's
 * staff (the first-start admin credential under DATA_DIR, and a registrar credential it issues) registers and
 * certifies a processing operator, BENCH_USERS users with a verified e-mail channel and as many counterparts
 * (setup, not timed); then, as the users' clients do, anonymously (opening a session is how a party authenticates),
 * measures:
 *   (a) latency, BENCH_SESSIONS openings one after the other, split into
 *       request = POST /sessions until it answers 201 "challenged" (trust check, secret issue, event hops),
 *       code    = POST /sessions/:id/code until 200 "open";
 *       the time between the two (the code travelling over the file channel, then read back) is left out
 *       and reported on its own, as is the time the file transport's send() took inside the certifier;
 *   (b) throughput, BENCH_SESSIONS openings with BENCH_CONCURRENCY of them in flight.
 * In the same run, the floors it compares with: a bare node:http server answering the same client (the HTTP
 * floor), GET /health of the app (Nest + express), and raw better-sqlite3 inserts of the very events an
 * opening writes, one transaction each as the product commits them (the storage floor).
 *
 * Environment: BENCH_SESSIONS (default 2000), BENCH_CONCURRENCY (32), BENCH_USERS (users, and as many
 * counterparts; default 50), BENCH_WARMUP (openings before measuring, default 200), SQLITE_SYNCHRONOUS
 * (NORMAL | FULL), BENCH_KAFKA=1 with KAFKA_BROKERS, BENCH_PHASE_TIMEOUT_S (default 300), TMPDIR (SQLite files),
 * BENCH_OUTBOX_DIR (where the file transport writes; default /dev/shm/… when it exists, else TMPDIR),
 * BENCH_CPU_PROFILE=<file> / BENCH_HEAP_PROFILE=<file> (the throughput phase, or the sequential one with
 * BENCH_PROFILE_PHASE=sequential; bench/common/cpu-profile.ts).
 * CPU per opening (process.cpuUsage: the app, its threadpool and the bench's client, all in this process) is printed
 * for both phases: on a shared machine it compares builds better than wall time; so do the SQLite statements and
 * commits per opening (bench/common/sqlite-count.ts), which do not depend on the load at all. Last line: `RESULT …`.
 * The domicile's abuse limits are lifted unless set in the environment (SESSION_CODES_PER_USER_PER_HOUR=10000,
 * SESSION_REQUESTS_PER_ADDRESS_PER_HOUR=0): one client address opens thousands of sessions for BENCH_USERS users.
 *
 * A benchmark, not a test: it asserts nothing about timings. Progress goes to stderr, the table to stdout.
 */
import '../bus/preflight';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { INestApplication } from '@nestjs/common';
import { OUT_OF_BAND_SENDER, type OutOfBandSender } from '@sigillum/channels';
import { loadConfig, type SigillumConfig } from '@sigillum/config';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import Database from 'better-sqlite3';
import { rolesFor } from '../../apps/gateway/src/roles';
import {
  BenchError,
  Client,
  distribution,
  formatInt,
  formatRatio,
  ms,
  notes,
  printTable,
  Progress,
  progressLine,
  rows,
  within,
  runBench,
} from '../common/report';
import { resultLine } from '../common/ceiling';
import { describeTail, gcByKind, tailCauses, watchGc } from '../common/tail-causes';
import { profileFiles, startProfiles } from '../common/cpu-profile';
import { type SqliteCounts, sqliteCounts, sqliteCountsSince } from '../common/sqlite-count';
import { appHealthFloor, bareHttpFloor, rawAppendFloor } from './floors';
import { OutboxWatch } from './outbox-watch';
import { openOne, type Opening, setUp } from './scene';
import { readSettings, type Settings } from './settings';
import { startSqlTally, takeSqlTally } from './sql-tally';

// Beside this file: settings.ts, outbox-watch.ts (the file channel observed), scene.ts (parties, one opening), floors.ts.

// ---------------------------------------------------------------- main

function fileSystemOf(dir: string): string {
  const known: Record<number, string> = {
    0xef53: 'ext4',
    0x58465342: 'xfs',
    0x9123683e: 'btrfs',
    0x01021994: 'tmpfs',
    0x794c7630: 'overlayfs',
    0x2fc12fc1: 'zfs',
  };
  try {
    const type = fs.statfsSync(dir).type;
    return known[type] ?? `fs 0x${type.toString(16)}`;
  } catch {
    return 'fs unknown';
  }
}

function printFacts(settings: Settings, config: SigillumConfig | undefined, outbox: string, eventsPerOpening: Map<string, number> | undefined): void {
  const cpus = os.cpus();
  const memory = new Database(':memory:');
  const sqliteVersion = memory.prepare('SELECT sqlite_version()').pluck().get() as string;
  memory.close();
  const facts: Array<[string, string]> = [
    ['node', `${process.version} (${process.platform} ${process.arch})`],
    [
      'cpus',
      `${cpus.length} x ${cpus[0]?.model?.trim() ?? 'unknown'}${cpus.length !== 2 ? '  (the target is stated for 2 cores: taskset -c 0,1 to match)' : ''}`,
    ],
    ['SQLite', `${sqliteVersion}, WAL, SQLITE_SYNCHRONOUS=${settings.synchronous}, files in ${os.tmpdir()} (${fileSystemOf(os.tmpdir())})`],
    ['bus', config ? `${config.eventBus.kind}${settings.brokers ? ` (${settings.brokers})` : ''}, store ${config.eventStore.kind}` : '?'],
    ['out-of-band', `OOB_EMAIL_TRANSPORT=file into ${outbox}`],
    [
      'abuse limits',
      Object.entries(settings.sessionLimits)
        .map(([name, value]) => `${name}=${value}`)
        .join(', '),
    ],
    ['staff', "set-up by the first-start admin and a registrar it issued a credential to; openings anonymous, as a party's client"],
    [
      'sessions',
      `${formatInt(settings.sessions)} (BENCH_SESSIONS) after ${settings.warmup} warm-up, concurrency ${settings.concurrency}, ${settings.users} users + ${settings.users} counterparts, kind "registered" (1 chain operator)`,
    ],
  ];
  if (eventsPerOpening) {
    facts.push(['events/opening', [...eventsPerOpening].map(([type, n]) => `${type} ${n % 1 === 0 ? n : n.toFixed(2)}`).join(', ')]);
  }
  const width = Math.max(...facts.map(([name]) => name.length));
  process.stdout.write(`\nSigillum session-opening benchmark (${new Date().toISOString()})\n`);
  for (const [name, value] of facts) process.stdout.write(`  ${name.padEnd(width)}  ${value}\n`);
}

/** Milliseconds of CPU (user + system) the process spent since `since`. */
function cpuMsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

function perOpening(counts: SqliteCounts, openings: number): string {
  const each = (n: number) => (n / openings).toFixed(2);
  return `${each(counts.statements)} statements, ${each(counts.commits)} commits (${each(counts.autocommits)} of them a statement run alone; ${(counts.commitMs / openings).toFixed(3)} ms committing)`;
}

async function main(): Promise<number> {
  const settings = readSettings(process.env);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-bench-session-'));
  const outboxDir = fs.mkdtempSync(path.join(settings.outboxRoot, 'sigillum-bench-outbox-'));
  const outboxFact = `${outboxDir} (${fileSystemOf(outboxDir)})`;
  const removeDirs = () => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(outboxDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    removeDirs();
    process.stderr.write(`\n[bench] interrupted; removed ${dataDir} and ${outboxDir}.\n`);
    process.exit(130);
  });

  let app: INestApplication | undefined;
  let client: Client | undefined;
  let config: SigillumConfig | undefined;
  let failure: unknown;
  let eventsPerOpening: Map<string, number> | undefined;
  let result: string | undefined;
  try {
    config = loadConfig({
      ...process.env,
      ...(settings.brokers ? { EVENT_BUS: 'kafka', KAFKA_BROKERS: settings.brokers } : { EVENT_BUS: 'embedded' }),
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      ...settings.sessionLimits,
      OOB_EMAIL_TRANSPORT: 'file',
      OOB_FILE_DIR: outboxDir,
      SQLITE_SYNCHRONOUS: settings.synchronous,
      KEYSTORE_PASSPHRASE: 'bench passphrase for a throw-away data directory',
    });
    progressLine(`booting the app in-process (${config.eventBus.kind} bus, data in ${dataDir})`);
    const bootStarted = performance.now();
    app = await createSigillumApp(config, rolesFor(config.roles));
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    progressLine(`app up in ${((performance.now() - bootStarted) / 1000).toFixed(2)} s on 127.0.0.1:${port}`);
    const store = app.get<EventStore>(EVENT_STORE);
    const outbox = new OutboxWatch(app.get<OutOfBandSender>(OUT_OF_BAND_SENDER));
    client = new Client('127.0.0.1', port, Math.max(settings.concurrency, 1));
    const timeout = settings.phaseTimeoutMs;

    progressLine(`setup: a processing operator, ${settings.users} users (verified e-mail) and ${settings.users} counterparts, all certified "substantial"`);
    const scene = await within(setUp(client, dataDir, outbox, settings), timeout, () => `setup did not finish within ${timeout / 1000} s`);
    const pair = (i: number) => [scene.users[i % scene.users.length], scene.counterparts[(i * 7 + 3) % scene.counterparts.length]] as const;

    // Floors, measured now, in the same process and with the same client.
    progressLine('floors: bare node:http round trip, GET /health of the app');
    const bare = await bareHttpFloor(2_000);
    const health = await appHealthFloor(client, 2_000);

    if (settings.warmup > 0) {
      progressLine(`warm-up: ${settings.warmup} openings (not measured)`);
      for (let i = 0; i < settings.warmup; i++) await openOne(client, outbox, ...pair(i));
    }

    // (a) latency, one opening at a time.
    const last = await store.readAll({ after: undefined, maxCount: undefined });
    const positionBefore = last.length > 0 ? last[last.length - 1].globalPosition : undefined;
    progressLine(`latency: ${formatInt(settings.sessions)} openings, one at a time`);
    const progress = new Progress('latency', settings.sessions);
    const openings: Opening[] = [];
    startSqlTally(process.env);
    takeSqlTally(1);
    const profilePhase = process.env.BENCH_PROFILE_PHASE?.trim() === 'sequential' ? 'sequential' : 'throughput';
    const stopLatencyProfiles = await startProfiles(profilePhase === 'sequential' ? profileFiles(process.env) : {});
    const latencySqlite = sqliteCounts();
    const latencyGc = watchGc();
    const latencyCpu = process.cpuUsage();
    const latencyStarted = performance.now();
    await within(
      (async () => {
        for (let i = 0; i < settings.sessions; i++) {
          openings.push(await openOne(client!, outbox, ...pair(i)));
          progress.update(openings.length);
        }
      })(),
      timeout,
      () => `the latency phase did only ${openings.length} of ${settings.sessions} openings within ${timeout / 1000} s`,
    );
    const latencyWall = performance.now() - latencyStarted;
    const latencyCpuMs = cpuMsSince(latencyCpu) / settings.sessions;
    const latencyStatements = sqliteCountsSince(latencySqlite);
    const latencyTally = takeSqlTally(settings.sessions);
    latencyGc.stop();
    notes.push(
      describeTail(
        'the sequential openings',
        tailCauses(
          openings.map((o) => o.windows),
          latencyGc.pauses(),
        ),
      ),
    );
    notes.push(
      `GC pauses of the sequential phase, main thread: ${gcByKind(latencyGc.pauses())}; heap used at its end ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB.`,
    );
    await stopLatencyProfiles();
    // Let the asynchronous tails (relay of SessionOpened, projections) land before counting what the openings wrote.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const written = await store.readAll({ after: positionBefore });
    const sessionsMeasured = new Set(openings.map((o) => o.sessionId));
    const ofOpenings = written.filter((recorded) => {
      const data = recorded.event.data as { sessionId?: string; subjectOf?: string };
      return sessionsMeasured.has(data.sessionId ?? data.subjectOf ?? '');
    });
    const byType = new Map<string, number>();
    for (const recorded of ofOpenings) byType.set(recorded.event.type, (byType.get(recorded.event.type) ?? 0) + 1);
    eventsPerOpening = new Map([...byType].map(([type, n]) => [type, n / openings.length]));
    if (written.length !== ofOpenings.length) {
      notes.push(`${written.length - ofOpenings.length} other event(s) were appended during the latency phase (not counted per opening).`);
    }

    const request = distribution(openings.map((o) => o.requestMs));
    const code = distribution(openings.map((o) => o.codeMs));
    const total = distribution(openings.map((o) => o.requestMs + o.codeMs));
    const outOfBand = distribution(openings.map((o) => o.outOfBandMs));
    const send = distribution(openings.map((o) => o.sendMs));

    // (b) throughput, BENCH_CONCURRENCY openings in flight.
    progressLine(`throughput: ${formatInt(settings.sessions)} openings, ${settings.concurrency} in flight`);
    const loadProgress = new Progress('throughput', settings.sessions);
    const loaded: Opening[] = [];
    let next = 0;
    const stopProfiles = await startProfiles(profilePhase === 'throughput' ? profileFiles(process.env) : {});
    const throughputSqlite = sqliteCounts();
    const throughputGc = watchGc();
    const throughputCpu = process.cpuUsage();
    const throughputStarted = performance.now();
    await within(
      Promise.all(
        Array.from({ length: settings.concurrency }, async () => {
          while (next < settings.sessions) {
            const i = next++;
            loaded.push(await openOne(client!, outbox, ...pair(settings.warmup + settings.sessions + i)));
            loadProgress.update(loaded.length);
          }
        }),
      ),
      timeout,
      () => `the throughput phase did only ${loaded.length} of ${settings.sessions} openings within ${timeout / 1000} s`,
    );
    const throughputWall = performance.now() - throughputStarted;
    const throughputCpuMs = cpuMsSince(throughputCpu) / settings.sessions;
    const throughputStatements = sqliteCountsSince(throughputSqlite);
    const throughputTally = takeSqlTally(settings.sessions);
    throughputGc.stop();
    notes.push(
      describeTail(
        `the openings ${settings.concurrency} in flight`,
        tailCauses(
          loaded.map((o) => o.windows),
          throughputGc.pauses(),
        ),
      ),
    );
    for (const [phase, lines] of [
      ['sequential', latencyTally],
      [`${settings.concurrency} in flight`, throughputTally],
    ] as const) {
      if (lines.length > 0) notes.push(`SQL statements per opening, ${phase} (BENCH_SQL_TALLY=1):\n${lines.join('\n')}`);
    }
    await stopProfiles();
    const loadedTotal = distribution(loaded.map((o) => o.requestMs + o.codeMs));
    const loadedRequest = distribution(loaded.map((o) => o.requestMs));
    const loadedOutOfBand = distribution(loaded.map((o) => o.outOfBandMs));
    const loadedSendTotal = loaded.reduce((sum, o) => sum + o.sendMs, 0);

    // The storage floor: the same events, raw.
    progressLine(`raw substrate: ${formatInt(ofOpenings.length)} events of the latency phase re-inserted with raw better-sqlite3, 1 per transaction`);
    const raw = rawAppendFloor(dataDir, settings.synchronous, ofOpenings, openings.length);

    const eventsEach = ofOpenings.length / openings.length;
    rows.push(
      { what: 'HTTP floor: bare node:http GET', dist: bare, perSecond: 1000 / bare.mean },
      {
        what: 'HTTP floor: app GET /health',
        dist: health,
        perSecond: 1000 / health.mean,
        ratio: formatRatio(health.p50 / bare.p50),
        against: 'bare node:http (p50)',
      },
      { what: `raw SQLite: ${eventsEach.toFixed(1)} appends (1/tx) per opening`, dist: raw, perSecond: (openings.length * 1000) / raw.total },
      { what: 'open, sequential: POST /sessions → challenged', dist: request },
      { what: 'open, sequential: POST /:id/code → open', dist: code },
      {
        what: 'open, sequential: request + code',
        dist: total,
        perSecond: (openings.length * 1000) / (latencyWall - openings.reduce((sum, o) => sum + o.outOfBandMs, 0)),
        ratio: formatRatio(total.p50 / raw.p50),
        against: 'raw SQLite per opening (p50)',
      },
      { what: '  excluded: out-of-band (201 → code read)', dist: outOfBand },
      { what: '  of which FileSender.send() in certifier', dist: send },
      {
        what: `open, ${settings.concurrency} in flight: request + code`,
        dist: loadedTotal,
        perSecond: (loaded.length * 1000) / throughputWall,
        ratio: formatRatio((loaded.length * 1000) / throughputWall / ((openings.length * 1000) / raw.total)),
        against: 'raw SQLite openings/s',
      },
      { what: `  ${settings.concurrency} in flight: POST /sessions → challenged`, dist: loadedRequest },
      { what: `  ${settings.concurrency} in flight: out-of-band (not excluded from /s)`, dist: loadedOutOfBand },
    );
    notes.push(
      `Sequential: ${formatInt(openings.length)} openings in ${(latencyWall / 1000).toFixed(2)} s wall, of which ` +
        `${(openings.reduce((sum, o) => sum + o.outOfBandMs, 0) / 1000).toFixed(2)} s waiting for the file channel (left out of "per second").`,
      `Throughput: ${formatInt(loaded.length)} openings in ${(throughputWall / 1000).toFixed(2)} s wall; its per-second INCLUDES the file ` +
        `channel (FileSender.send() took ${(loadedSendTotal / 1000).toFixed(2)} s summed over the openings, running concurrently).`,
      `HTTP floor: every opening makes 2 HTTP calls, so about ${ms(2 * bare.p50)} ms (bare) to ${ms(2 * health.p50)} ms (Nest) of its p50 is the HTTP round trip itself.`,
      `p99 of request + code, sequential: ${ms(total.p99)} ms (target <= 10 ms); under ${settings.concurrency} in flight: ${ms(loadedTotal.p99)} ms.`,
      `CPU per opening (process, both legs, the bench's client included): sequential ${ms(latencyCpuMs)} ms, ` +
        `${settings.concurrency} in flight ${ms(throughputCpuMs)} ms.`,
      `SQLite per opening (main thread; deterministic, unlike the times): sequential ${perOpening(latencyStatements, settings.sessions)}; ` +
        `${settings.concurrency} in flight ${perOpening(throughputStatements, settings.sessions)}.`,
    );
    result = resultLine({
      seq_p50_ms: total.p50,
      seq_p99_ms: total.p99,
      seq_per_s: (openings.length * 1000) / (latencyWall - openings.reduce((sum, o) => sum + o.outOfBandMs, 0)),
      seq_cpu_ms: latencyCpuMs,
      conc_per_s: (loaded.length * 1000) / throughputWall,
      conc_p99_ms: loadedTotal.p99,
      conc_cpu_ms: throughputCpuMs,
      seq_statements: latencyStatements.statements / settings.sessions,
      seq_commits: latencyStatements.commits / settings.sessions,
      conc_statements: throughputStatements.statements / settings.sessions,
      conc_commits: throughputStatements.commits / settings.sessions,
      http_floor_bare_p50_ms: bare.p50,
      http_floor_nest_p50_ms: health.p50,
    });
  } catch (error) {
    failure = error;
  } finally {
    client?.close();
    if (app) {
      try {
        await within(app.close(), 30_000, () => 'app.close() hung for 30 s');
      } catch (error) {
        progressLine(`cleanup: ${(error as Error).message}`);
      }
    }
    removeDirs();
  }

  printFacts(settings, config, outboxFact, eventsPerOpening);
  if (rows.length > 0) printTable();
  process.stdout.write(
    '\nrequest = POST /sessions until 201 challenged (trust check, secret issue, event hops); code = POST /sessions/:id/code until 200.\n' +
      'The out-of-band leg (certifier → file → bench reads the code) is timed apart and left out of "request + code".\n' +
      "ratio: p50 over the floor's p50 (sequential), or openings/s over the raw SQLite floor's openings/s (in flight).\n",
  );
  for (const note of notes) process.stdout.write(`Note: ${note}\n`);
  if (result) process.stdout.write(`${result}\n`);
  if (failure) {
    const message = failure instanceof BenchError ? failure.message : `${(failure as Error)?.stack ?? String(failure)}`;
    process.stderr.write(`\n[bench] FAILED: ${message}\n`);
    return 1;
  }
  return 0;
}

runBench(main);
