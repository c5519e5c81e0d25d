/*
 * Offline evidence verification: the regulator's `npm run audit -- verify` over a real export.
 *
 *   npm run bench:verify
 *   BENCH_DELIVERIES=1000 npm run bench:verify
 *
 * Target (issue #12): >= 10,000 records/s on one core.
 *
 * What it does: boots the whole app in-process, runs BENCH_DELIVERIES real registered deliveries
 * (bench/common/delivery-run.ts), issues an auditor's staff credential, and exports their evidence into one bundle
 * with the code of `npm run audit -- export --correspondence …` (each one sent) (scripts/audit/export.ts; the bundle format
 * sigillum.audit-bundle/1). The app is then closed and the bundle verified offline, BENCH_VERIFY_REPEAT times,
 * with the code of `npm run audit -- verify` (scripts/audit/bundle.ts readBundle, scripts/audit/verify.ts
 * verifyBundle): reading and parsing the file, checkpoint signatures, RFC 3161 time-stamps, leaves, inclusion
 * proofs, chains, completeness. Printed: records/s (the verifier is synchronous: one core; the process CPU time is
 * printed too) of the best repetition, and the time split by kind of work (bench/verify/split.ts: each kind done
 * again alone over the same bundle). Last line: `RESULT records_per_s=… …`.
 *
 * Environment: BENCH_DELIVERIES (default 200), BENCH_VERIFY_REPEAT (5), BENCH_CONCURRENCY (64), BENCH_PAIRS (20),
 * SQLITE_SYNCHRONOUS (NORMAL | FULL), TMPDIR (the data directory and the bundle), BENCH_VERIFY_BUNDLE=<file> (verify
 * this bundle; when the file does not exist yet, the run makes it there and keeps it: two builds compared on the same
 * bundle, minutes of deliveries saved), BENCH_CPU_PROFILE=<file> (the verify repetitions only; bench/common/cpu-profile.ts).
 *
 * A benchmark, not a test: it asserts nothing about timings. Progress goes to stderr, the table to stdout.
 */
import '../bus/preflight';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LoopbackMailbox } from '@sigillum/channels';
import { readAdminCredential } from '../../apps/gateway/src/demo/staff';
import { readBundle } from '../../scripts/audit/bundle';
import { exportBundle } from '../../scripts/audit/export';
import { AuditClient } from '../../scripts/audit/http';
import { verifyBundle } from '../../scripts/audit/verify';
import { resultLine } from '../common/ceiling';
import { profileFiles, startProfiles } from '../common/cpu-profile';
import { DeliveryWatch, prepareDrafts, sendAll, startBenchApp } from '../common/delivery-run';
import {
  BenchError,
  Client,
  formatInt,
  integerSetting,
  ms,
  notes,
  printTable,
  Progress,
  progressLine,
  rows,
  runBench,
  synchronousSetting,
  refuseProblems,
} from '../common/report';
import { bearer } from '../common/staff';
import { splitOf } from './split';

function readSettings(env: NodeJS.ProcessEnv) {
  const problems: string[] = [];
  const integer = integerSetting(env, problems);
  const settings = {
    deliveries: integer('BENCH_DELIVERIES', 200, 10),
    repeat: integer('BENCH_VERIFY_REPEAT', 5, 1),
    concurrency: integer('BENCH_CONCURRENCY', 64, 1),
    pairs: integer('BENCH_PAIRS', 20, 1),
    synchronous: synchronousSetting(env, problems),
  };
  refuseProblems(problems);
  return settings;
}

/** Runs the deliveries and exports their evidence into `bundleFile`, as a regulator would (an auditor's token, each correspondence named). */
async function produceBundle(dataDir: string, bundleFile: string, settings: ReturnType<typeof readSettings>): Promise<void> {
  const mailbox = await new LoopbackMailbox().start();
  const bench = await startBenchApp({ dataDir, mailbox, synchronous: settings.synchronous });
  const client = new Client('127.0.0.1', bench.port, Math.max(settings.concurrency, 4));
  const watch = new DeliveryWatch();
  try {
    const base = `http://127.0.0.1:${bench.port}`;
    progressLine(`${formatInt(settings.deliveries)} real deliveries through the in-process app (data in ${dataDir})`);
    const prepared = await prepareDrafts(client, base, dataDir, mailbox, settings);
    await watch.startAtEnd(bench.store);
    watch.recording = true;
    const progress = new Progress('delivered', prepared.length);
    let done = 0;
    await sendAll(client, prepared, watch, settings.concurrency, () => progress.update(++done));
    const ids = [...new Set(watch.events.filter((e) => e.event.type === 'ChainCompleted').map((e) => e.streamId.slice(e.streamId.indexOf('-') + 1)))];
    watch.recording = false;
    const issued = await client.expect(
      201,
      'POST',
      '/staff/credentials',
      { subject: 'bench-auditor', roles: ['auditor'] },
      bearer(readAdminCredential(dataDir)),
    );
    progressLine(`exporting the evidence of ${ids.length} correspondences (npm run audit -- export --correspondence …)`);
    const started = performance.now();
    await exportBundle(
      new AuditClient(base, String(issued.credential)),
      { correspondences: ids, parties: [], out: bundleFile, waitMs: 30_000 },
      (line) => progressLine(line),
      () => undefined,
    );
    progressLine(`exported in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await watch.stop();
    client.close();
    await bench.app.close();
    await mailbox.stop();
  }
}

async function main(): Promise<number> {
  const settings = readSettings(process.env);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-bench-verify-'));
  const cleanup = () => fs.rmSync(dataDir, { recursive: true, force: true });
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    const kept = process.env.BENCH_VERIFY_BUNDLE?.trim();
    const bundleFile = kept ? path.resolve(kept) : path.join(dataDir, 'bundle.json');
    if (kept && fs.existsSync(bundleFile)) progressLine(`verifying ${bundleFile} (BENCH_VERIFY_BUNDLE), made before`);
    else await produceBundle(dataDir, bundleFile, settings);

    progressLine(`verifying the bundle offline, ${settings.repeat} times (npm run audit -- verify)`);
    const stopProfiles = await startProfiles(profileFiles(process.env));
    const runs: { wallMs: number; cpuMs: number; parseMs: number; records: number; correspondences: number; valid: boolean }[] = [];
    for (let i = 0; i < settings.repeat; i++) {
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const bundle = readBundle(bundleFile);
      const parseMs = performance.now() - started;
      const report = verifyBundle(bundle);
      const wallMs = performance.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      const records = bundle.correspondences.reduce((sum, item) => sum + item.records.length, 0);
      runs.push({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000, parseMs, records, correspondences: bundle.correspondences.length, valid: report.valid });
      if (!report.valid) throw new BenchError(`the bundle does not verify: ${report.lines.slice(-5).join(' / ')}`);
    }
    await stopProfiles();
    const best = runs.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
    const recordsPerSecond = best.records / (best.wallMs / 1000);
    const split = splitOf(readBundle(bundleFile));
    const bytes = fs.statSync(bundleFile).size;

    rows.push({
      what: `verify (read + parse + verifyBundle), ${formatInt(best.records)} records of ${formatInt(best.correspondences)} correspondences, best of ${runs.length}`,
      perSecond: recordsPerSecond,
      ratio: `${(recordsPerSecond / 10_000).toFixed(2)}x`,
      against: 'records/s vs target 10,000/s',
    });
    rows.push({
      what: 'the same, records per second of process CPU (the machine is shared: wall time may include waiting)',
      perSecond: best.records / (best.cpuMs / 1000),
    });
    const perCpu = runs.map((run) => run.records / (run.cpuMs / 1000)).sort((a, b) => a - b);
    const medianPerCpu = perCpu[Math.floor(perCpu.length / 2)];
    rows.push({ what: `records per second of process CPU, median of the ${runs.length} runs (steadier than the best wall run)`, perSecond: medianPerCpu });
    rows.push({ what: 'the same, correspondences per second', perSecond: best.correspondences / (best.wallMs / 1000) });
    const parts: [string, number][] = [
      ['read + JSON.parse of the bundle', best.parseMs],
      ['canonical JSON of the records', split.canonicalJsonMs],
      ['SHA-256 (record digests, leaf hashes)', split.hashingMs],
      [`signed notes (${split.notes}: distinct checkpoints and completeness statements, Ed25519)`, split.noteSignaturesMs],
      [`RFC 3161 tokens of the distinct checkpoints (${split.tokens}, CMS + RSA + certificate path)`, split.timeStampTokensMs],
      ['inclusion proofs', split.inclusionProofsMs],
      ['quoted operator signatures (acknowledgements, returns; Ed25519 + certificate path)', split.processingSignaturesMs],
    ];
    const accounted = parts.reduce((sum, [, value]) => sum + value, 0);
    parts.push(['the rest (chains, completeness, report lines)', Math.max(0, best.wallMs - accounted)]);
    for (const [what, value] of parts) notes.push(`${what.padEnd(84)} ${ms(value).padStart(8)} ms  ${((100 * value) / best.wallMs).toFixed(0).padStart(3)} %`);
    notes.unshift(
      `time split of the best run (${ms(best.wallMs)} ms wall, ${ms(best.cpuMs)} ms CPU; each kind of work timed again alone over the same bundle):`,
    );
    notes.push(
      `bundle: ${(bytes / 1e6).toFixed(1)} MB, ${formatInt(bytes / best.records)} bytes per record; runs (ms): ${runs.map((r) => ms(r.wallMs)).join(', ')}`,
    );
    notes.push('target: >= 10,000 records/s per core; the machine is shared, figures are indicative');

    process.stdout.write(`\nSigillum offline evidence verification benchmark (${new Date().toISOString()})\n`);
    process.stdout.write(`  node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model?.trim() ?? 'cpu'}, one core (the verifier is synchronous)\n`);
    printTable();
    for (const note of notes) process.stdout.write(`  ${note}\n`);
    process.stdout.write(
      `${resultLine({
        records_per_s: recordsPerSecond,
        records_per_cpu_s: best.records / (best.cpuMs / 1000),
        records_per_cpu_s_median: medianPerCpu,
        records: best.records,
        correspondences: best.correspondences,
        verify_ms: best.wallMs,
        cpu_ms: best.cpuMs,
        parse_ms: best.parseMs,
        timestamp_tokens_ms: split.timeStampTokensMs,
        notes_ms: split.noteSignaturesMs,
        hashing_ms: split.hashingMs + split.canonicalJsonMs,
        inclusion_ms: split.inclusionProofsMs,
        processing_signatures_ms: split.processingSignaturesMs,
      })}\n`,
    );
    return 0;
  } finally {
    cleanup();
  }
}

runBench(main);
