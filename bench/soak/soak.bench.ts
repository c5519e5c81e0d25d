/*
 * Soak: registered deliveries at a fixed rate for minutes, watching the process's memory.
 *
 *   npm run bench:soak                                        # 10 minutes at half the measured maximum
 *   BENCH_SOAK_MINUTES=1 BENCH_SOAK_RATE=10 npm run bench:soak
 *
 * What it does: boots the whole app in-process (bench/common/delivery-run.ts), enrols BENCH_PAIRS senders and
 * recipients, and, unless BENCH_SOAK_RATE is given, measures a quick maximum (BENCH_SOAK_PROBE deliveries, 64 in
 * flight) and takes half of it. Drafts are prepared ahead, in batches (a first batch of 60 s worth before the clock
 * starts, then batches of 30 s worth in the background whenever fewer than 30 s worth are left): preparing is not part
 * of the rate. It then starts one delivery every 1/rate s for BENCH_SOAK_MINUTES (open loop: a delivery that has not
 * completed does not hold the next one back; at most BENCH_SOAK_MAX_IN_FLIGHT in flight, later starts counted as
 * skipped), samples RSS and heap every BENCH_SOAK_SAMPLE_S seconds, and prints the curve (time, RSS, heapUsed,
 * Buffers outside the heap, deliveries done). Verdict (bench/soak/verdict.ts), one line `VERDICT PASS|FAIL: …`: the
 * RSS trend after the warm-up (the first 20 % of the time) within 10 % (least-squares line over every sample after
 * it: two samples alone mostly say where each fell in V8's collection cycle; their figure is printed beside), and
 * every in-memory collection of the app's singletons (bench/soak/collections.ts) within the bound it declares, none
 * without one still growing; their sizes after the warm-up and at the end, with their bounds. Last line:
 * `RESULT rss_growth_pct=… rss_trend_pct=… verdict_pass=1|0 …`.
 *
 * Columns besides RSS: RssAnon (Linux: the anonymous part of RSS: V8's heap, malloc's arenas, ArrayBuffers; the rest
 * is mapped files and code), V8's heapTotal (what it reserved: live objects, garbage not collected yet, free space) and
 * heapUsed. RSS that grows while heapTotal and Buffers do not is native memory: malloc's arenas (glibc keeps freed
 * memory per arena; MALLOC_ARENA_MAX=2 bounds their number), SQLite's page caches, not a JavaScript leak.
 *
 * BENCH_SOAK_HEAP_SNAPSHOTS=<dir>: two heap snapshots, `1-warm.heapsnapshot` at the end of the warm-up and
 * `2-end.heapsnapshot` at the end, each with no delivery in flight (new starts wait, the soak's clock leaves the pause
 * out), and the memory right after each (a snapshot collects all garbage first: what is retained). Compare them with
 * `node -r ./bench/register-paths.js dist-bench/bench/soak/heap-diff.js <dir>/1-warm.heapsnapshot <dir>/2-end.heapsnapshot`
 * (ArrayBuffers by retainer path, the V8 heap by holder). Writing a snapshot costs hundreds of MB of native memory that stays in
 * RSS: the RSS verdict of such a run is not the soak's; run again without. BENCH_SOAK_RETAINED=1: at the same two
 * points, two full collections instead of snapshots (a pause of a second or so, not the snapshot's RSS), and the heap
 * and Buffers retained per delivery between them.
 *
 * Environment: BENCH_SOAK_RATE (deliveries/s; default half the probe), BENCH_SOAK_MINUTES (10), BENCH_SOAK_SAMPLE_S
 * (10), BENCH_SOAK_PROBE (200), BENCH_SOAK_MAX_IN_FLIGHT (512), BENCH_PAIRS (20), BENCH_SOAK_HEAP_SNAPSHOTS, BENCH_SOAK_RETAINED,
 * SQLITE_SYNCHRONOUS, BENCH_KAFKA=1 with KAFKA_BROKERS, TMPDIR.
 *
 * A benchmark, not a test: it asserts nothing. Progress goes to stderr, the curve and the verdict to stdout.
 */
import '../bus/preflight';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { LoopbackMailbox } from '@sigillum/channels';
import { resultLine } from '../common/ceiling';
import { type BenchApp, DeliveryWatch, enrolParties, sendAll } from '../common/delivery-run';
import { Client, formatInt, progressLine, runBench } from '../common/report';
import { type Collection, collectionsOf, UNREACHABLE } from './collections';
import { DraftSupply, memorySample, readSettings, type Sample, sendAtRate, startSoakApp, trendOf } from './run';
import { collectionVerdict, rssVerdict, verdictLines } from './verdict';

const mb = (bytes: number) => bytes / 1024 / 1024;

/** Writes `<dir>/<name>.heapsnapshot`; returns the memory right after (the snapshot collected all garbage first). */
function heapSnapshot(dir: string, name: string, seconds: number, done: number): Sample {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.heapsnapshot`);
  const started = performance.now();
  v8.writeHeapSnapshot(file);
  const after = memorySample(seconds, done, 0);
  progressLine(
    `heap snapshot ${file} in ${((performance.now() - started) / 1000).toFixed(1)} s; retained: heapUsed ${mb(after.heapUsed).toFixed(0)} MB, Buffers ${mb(after.arrayBuffers).toFixed(1)} MB`,
  );
  return after;
}

/** BENCH_SOAK_RETAINED=1: the memory after two full collections (what is retained), without a snapshot's cost. */
function retainedNow(seconds: number, done: number): Sample {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
  const after = memorySample(seconds, done, 0);
  progressLine(
    `collected: heapUsed ${mb(after.heapUsed).toFixed(0)} MB, Buffers ${mb(after.arrayBuffers).toFixed(1)} MB retained after ${formatInt(done)} deliveries`,
  );
  return after;
}

async function main(): Promise<number> {
  const settings = readSettings(process.env);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-bench-soak-'));
  const cleanup = () => fs.rmSync(dataDir, { recursive: true, force: true });
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  const mailbox = await new LoopbackMailbox().start();
  let bench: BenchApp | undefined;
  let client: Client | undefined;
  let watch: DeliveryWatch | undefined;
  let supply: DraftSupply | undefined;
  try {
    bench = await startSoakApp(dataDir, mailbox, settings);
    const base = `http://127.0.0.1:${bench.port}`;
    client = new Client('127.0.0.1', bench.port, settings.maxInFlight + 8);
    progressLine(`setup: ${settings.pairs} senders with an open session and ${settings.pairs} recipients (data in ${dataDir})`);
    const enrolled = await enrolParties(client, dataDir, mailbox, settings.pairs);
    watch = new DeliveryWatch();
    await watch.startAtEnd(bench.store);
    supply = new DraftSupply(base, enrolled);

    let rate = settings.rate;
    let probeRate: number | undefined;
    if (rate === undefined) {
      progressLine(`probe: ${settings.probe} deliveries, 64 in flight, for a quick maximum`);
      const drafts = await supply.take(settings.probe);
      const started = performance.now();
      await sendAll(client, drafts, watch, 64, () => undefined);
      probeRate = settings.probe / ((performance.now() - started) / 1000);
      rate = Math.max(0.5, Math.round(probeRate * 5) / 10);
      progressLine(`probe: ${probeRate.toFixed(1)} deliveries/s; the soak runs at half: ${rate}/s`);
    }
    const durationMs = settings.minutes * 60_000;
    const total = Math.ceil((rate * durationMs) / 1000);
    progressLine(`preparing the first ${formatInt(Math.min(total, rate * 60))} drafts (60 s worth) before the clock starts`);
    await supply.fill(Math.ceil(Math.min(total, rate * 60)));
    supply.keepAhead(Math.ceil(rate * 30), total);

    const samples: Sample[] = [];
    const retained: { at: string; sample: Sample }[] = [];
    let afterWarmUp: Map<string, Collection> | undefined;
    progressLine(`soak: ${rate} deliveries/s for ${settings.minutes} min (${formatInt(total)} deliveries), a sample every ${settings.sampleS} s`);
    const outcome = await sendAtRate({
      client,
      watch,
      supply,
      rate,
      total,
      durationMs,
      maxInFlight: settings.maxInFlight,
      sampleMs: settings.sampleS * 1000,
      pause:
        settings.heapSnapshots || settings.retained
          ? {
              afterMs: durationMs * 0.2,
              run: (done) =>
                retained.push({
                  at: 'after the warm-up',
                  sample: settings.heapSnapshots
                    ? heapSnapshot(settings.heapSnapshots, '1-warm', (durationMs * 0.2) / 1000, done)
                    : retainedNow((durationMs * 0.2) / 1000, done),
                }),
            }
          : undefined,
      onSample: (sample) => {
        // The harness's own SMTP sink keeps every mail it caught (notices of every delivery): not the product's memory.
        mailbox.mails.splice(0);
        samples.push(sample);
        process.stderr.write(
          `[bench]   ${sample.seconds.toFixed(0).padStart(5)} s  rss ${mb(sample.rss).toFixed(0).padStart(5)} MB  heapTotal ${mb(sample.heapTotal).toFixed(0).padStart(5)} MB  heapUsed ${mb(sample.heapUsed).toFixed(0).padStart(5)} MB  buffers ${mb(sample.arrayBuffers).toFixed(0).padStart(5)} MB  done ${formatInt(sample.done)}  in flight ${sample.inFlight}\n`,
        );
        if (!afterWarmUp && sample.seconds * 1000 >= durationMs * 0.2) afterWarmUp = collectionsOf(bench!.app);
      },
    });
    const atEnd = collectionsOf(bench.app);
    if (settings.heapSnapshots) retained.push({ at: 'at the end', sample: heapSnapshot(settings.heapSnapshots, '2-end', durationMs / 1000, outcome.done) });
    else if (settings.retained) retained.push({ at: 'at the end', sample: retainedNow(durationMs / 1000, outcome.done) });

    // The verdict: RSS at the end of the warm-up (first sample at or after 20 % of the time) against the last sample.
    const warm = samples.find((s) => s.seconds * 1000 >= durationMs * 0.2) ?? samples[0];
    const last = samples[samples.length - 1];
    const growthPct = (100 * (last.rss - warm.rss)) / warm.rss;
    const heapGrowthPct = (100 * (last.heapUsed - warm.heapUsed)) / warm.heapUsed;
    const heapTotalGrowthPct = (100 * (last.heapTotal - warm.heapTotal)) / warm.heapTotal;
    const buffersGrowthMb = mb(last.arrayBuffers - warm.arrayBuffers);
    const maxRss = Math.max(...samples.map((s) => s.rss));
    const rss = rssVerdict(samples, warm.seconds);
    const collections = collectionVerdict(afterWarmUp, atEnd);
    // Retained (collected) heap and Buffers per delivery between the two pauses, when measured.
    const [warmRetained, endRetained] = retained.map((r) => r.sample);
    const retainedPerDelivery =
      warmRetained && endRetained && endRetained.done > warmRetained.done
        ? (endRetained.heapUsed + endRetained.arrayBuffers - warmRetained.heapUsed - warmRetained.arrayBuffers) / (endRetained.done - warmRetained.done)
        : Number.NaN;
    const trendOfMb = (measure: (s: Sample) => number) => {
      const line = trendOf(samples, warm.seconds, measure);
      return line ? `${mb(line.from).toFixed(0)} -> ${mb(line.to).toFixed(0)} MB` : '-';
    };

    process.stdout.write(`\nSigillum soak benchmark (${new Date().toISOString()})\n`);
    process.stdout.write(
      `  node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model?.trim() ?? 'cpu'}, bus ${bench.config.eventBus.kind}, store ${bench.config.eventStore.kind}\n`,
    );
    process.stdout.write(
      `  ${rate} deliveries/s${probeRate ? ` (half the probe's ${probeRate.toFixed(1)}/s)` : ''} for ${settings.minutes} min: ${formatInt(outcome.done)} done, ${outcome.skipped} skipped (over ${settings.maxInFlight} in flight), ${outcome.failed} failed; achieved ${(outcome.done / (outcome.elapsedMs / 1000)).toFixed(1)}/s; p50 ${outcome.p50.toFixed(0)} ms, p99 ${outcome.p99.toFixed(0)} ms; drafts prepared during the run: ${formatInt(supply.preparedDuringRun)}\n\n`,
    );
    process.stdout.write(
      `  ${'time s'.padStart(7)} ${'rss MB'.padStart(8)} ${'rssAnon MB'.padStart(11)} ${'heapTotal MB'.padStart(13)} ${'heapUsed MB'.padStart(12)} ${'buffers MB'.padStart(11)} ${'deliveries'.padStart(11)} ${'in flight'.padStart(10)}\n`,
    );
    for (const s of samples) {
      process.stdout.write(
        `  ${s.seconds.toFixed(0).padStart(7)} ${mb(s.rss).toFixed(1).padStart(8)} ${mb(s.rssAnon).toFixed(1).padStart(11)} ${mb(s.heapTotal).toFixed(1).padStart(13)} ${mb(s.heapUsed).toFixed(1).padStart(12)} ${mb(s.arrayBuffers).toFixed(1).padStart(11)} ${formatInt(s.done).padStart(11)} ${String(s.inFlight).padStart(10)}\n`,
      );
    }
    for (const r of retained)
      process.stdout.write(
        `  retained ${r.at} (${settings.heapSnapshots ? 'right after its heap snapshot' : 'after two full collections'}, ${formatInt(r.sample.done)} deliveries done): heapUsed ${mb(r.sample.heapUsed).toFixed(1)} MB, Buffers ${mb(r.sample.arrayBuffers).toFixed(1)} MB, RSS ${mb(r.sample.rss).toFixed(0)} MB\n`,
      );
    if (Number.isFinite(retainedPerDelivery))
      process.stdout.write(`  retained heap + Buffers between the two: ${(retainedPerDelivery / 1024).toFixed(2)} kB a delivery\n`);
    if (settings.heapSnapshots) process.stdout.write(`  (heap snapshots written: the RSS after the first one is not the soak's verdict)\n`);
    process.stdout.write(`\n${verdictLines(rss, collections, warm.seconds).join('\n')}\n`);
    process.stdout.write(
      `  two samples: RSS ${mb(warm.rss).toFixed(0)} MB after the warm-up (${warm.seconds.toFixed(0)} s) -> ${mb(last.rss).toFixed(0)} MB at the end (${growthPct >= 0 ? '+' : ''}${growthPct.toFixed(1)} %); heapUsed ${heapGrowthPct >= 0 ? '+' : ''}${heapGrowthPct.toFixed(1)} %, heapTotal ${heapTotalGrowthPct >= 0 ? '+' : ''}${heapTotalGrowthPct.toFixed(1)} %; Buffers ${buffersGrowthMb >= 0 ? '+' : ''}${buffersGrowthMb.toFixed(0)} MB; max RSS ${mb(maxRss).toFixed(0)} MB\n`,
    );
    process.stdout.write(
      `  trends after the warm-up (least squares over the samples): RSS ${trendOfMb((s) => s.rss)} (${rss.trendPct >= 0 ? '+' : ''}${rss.trendPct.toFixed(1)} %), heapTotal ${trendOfMb((s) => s.heapTotal)}, heapUsed ${trendOfMb((s) => s.heapUsed)}, Buffers ${trendOfMb((s) => s.arrayBuffers)}; RssAnon - heapTotal - Buffers (native: malloc, SQLite) ${trendOfMb((s) => s.rssAnon - s.heapTotal - s.arrayBuffers)}\n`,
    );
    process.stdout.write(
      '\n  in-memory collections of the app (largest at the end; after the warm-up -> at the end, a max… number beside it shown as its bound):\n',
    );
    const listed = [...atEnd.values()].sort((a, b) => b.size - a.size).filter((c, i) => i < 20 || (afterWarmUp?.get(c.name)?.size ?? 0) < c.size / 2);
    for (const c of listed.slice(0, 30)) {
      const before = afterWarmUp?.get(c.name)?.size;
      process.stdout.write(
        `    ${c.name.padEnd(80)} ${String(before ?? '-').padStart(7)} -> ${String(c.size).padStart(7)}${c.bound !== undefined ? `  (bound ${c.bound})` : ''}${c.bytes !== undefined ? `  ${mb(c.bytes).toFixed(1)} MB of Buffers` : ''}\n`,
      );
    }
    process.stdout.write(`  not reachable from the container (held in closures): ${UNREACHABLE.join('; ')}\n`);
    process.stdout.write(`  the bench's own watch holds ${watch.held} correspondences; the machine is shared, figures are indicative\n`);
    const grown = [...atEnd.values()].filter((c) => c.size > 100 && c.size > 2 * (afterWarmUp?.get(c.name)?.size ?? 0)).length;
    process.stdout.write(
      `${resultLine({
        rss_growth_pct: growthPct,
        rss_trend_pct: rss.trendPct,
        verdict_pass: rss.pass && collections.pass ? 1 : 0,
        // Only when measured (BENCH_SOAK_RETAINED or snapshots): a 0 would read as a figure.
        ...(Number.isFinite(retainedPerDelivery) ? { retained_bytes_per_delivery: retainedPerDelivery } : {}),
        heap_growth_pct: heapGrowthPct,
        heap_total_growth_pct: heapTotalGrowthPct,
        buffers_growth_mb: buffersGrowthMb,
        rss_mb_end: mb(last.rss),
        rss_mb_max: mb(maxRss),
        rate_per_s: rate,
        deliveries: outcome.done,
        failed: outcome.failed,
        p99_ms: outcome.p99,
        collections_doubled: grown,
      })}\n`,
    );
    return 0;
  } finally {
    supply?.stop();
    await watch?.stop();
    client?.close();
    await bench?.app.close();
    await mailbox.stop();
    cleanup();
  }
}

runBench(main);
