/** The soak's machinery: settings, the app, drafts prepared ahead in batches, deliveries started at a fixed rate. */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { LoopbackMailbox } from '@sigillum/channels';
import { type BenchApp, type DeliveryWatch, type Enrolled, type Prepared, prepareLetters, startBenchApp } from '../common/delivery-run';
import { BenchError, type Client, distribution, integerSetting, synchronousSetting, refuseProblems } from '../common/report';

export interface SoakSettings {
  /** Deliveries per second; undefined: half a quick measured maximum. */
  readonly rate?: number;
  readonly minutes: number;
  readonly sampleS: number;
  readonly probe: number;
  readonly maxInFlight: number;
  readonly pairs: number;
  readonly synchronous: 'NORMAL' | 'FULL';
  readonly brokers?: string;
  /** Directory for two heap snapshots (after the warm-up and at the end), each with deliveries paused; unset: none. */
  readonly heapSnapshots?: string;
  /** BENCH_SOAK_RETAINED=1: the retained heap (two full collections) at those two points instead, no snapshot. */
  readonly retained: boolean;
}

export function readSettings(env: NodeJS.ProcessEnv): SoakSettings {
  const problems: string[] = [];
  const integer = integerSetting(env, problems);
  const positive = (name: string, fallback: number | undefined, min: number) => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) problems.push(`${name}=${JSON.stringify(raw)} must be a number >= ${min}`);
    return value;
  };
  const synchronous = synchronousSetting(env, problems);
  const brokers = env.KAFKA_BROKERS?.trim() || undefined;
  if (env.BENCH_KAFKA?.trim() === '1' && !brokers) problems.push('BENCH_KAFKA=1 needs KAFKA_BROKERS, e.g. KAFKA_BROKERS=127.0.0.1:9092');
  const settings: SoakSettings = {
    rate: positive('BENCH_SOAK_RATE', undefined, 0.1),
    minutes: positive('BENCH_SOAK_MINUTES', 10, 0.1)!,
    sampleS: integer('BENCH_SOAK_SAMPLE_S', 10, 1),
    probe: integer('BENCH_SOAK_PROBE', 200, 10),
    maxInFlight: integer('BENCH_SOAK_MAX_IN_FLIGHT', 512, 1),
    pairs: integer('BENCH_PAIRS', 20, 1),
    synchronous,
    brokers,
    heapSnapshots: env.BENCH_SOAK_HEAP_SNAPSHOTS?.trim() || undefined,
    retained: env.BENCH_SOAK_RETAINED?.trim() === '1',
  };
  refuseProblems(problems);
  return settings;
}

/** The app as the delivery bench boots it; sessions kept open for the whole soak (idle timeout of an hour). */
export function startSoakApp(dataDir: string, mailbox: LoopbackMailbox, settings: SoakSettings): Promise<BenchApp> {
  return startBenchApp({
    dataDir,
    mailbox,
    synchronous: settings.synchronous,
    brokers: settings.brokers,
    env: { SESSION_IDLE_SECONDS: '3600', SESSION_ABSOLUTE_SECONDS: '86400', EVIDENCE_RECORD_SIGNATURES: 'none' },
  });
}

/** Validated drafts ready to send, prepared in batches ahead of the sender. */
export class DraftSupply {
  private readonly queue: Prepared[] = [];
  private next = 0;
  private stopped = false;
  private running = false;
  preparedDuringRun = 0;
  failure?: Error;

  constructor(
    private readonly base: string,
    private readonly enrolled: Enrolled,
  ) {}

  /** Prepares `count` more drafts, two requests chains side by side. */
  async fill(count: number): Promise<void> {
    const halves = [Math.ceil(count / 2), Math.floor(count / 2)];
    const batches = await Promise.all(
      halves.map((n) => {
        const first = this.next;
        this.next += n;
        return n > 0 ? prepareLetters(this.base, this.enrolled, n, first, true) : Promise.resolve([]);
      }),
    );
    for (const batch of batches) this.queue.push(...batch);
  }

  async take(count: number): Promise<Prepared[]> {
    if (this.queue.length < count) await this.fill(count - this.queue.length);
    return this.queue.splice(0, count);
  }

  shift(): Prepared | undefined {
    return this.queue.shift();
  }

  /** In the background: a batch of `batch` drafts whenever fewer than `batch` are left, until `total` were made. */
  keepAhead(batch: number, total: number): void {
    if (this.running) return;
    this.running = true;
    const target = this.next + Math.max(0, total - this.queue.length);
    void (async () => {
      try {
        while (!this.stopped && this.next < target) {
          if (this.queue.length < batch) {
            const n = Math.min(batch, target - this.next);
            await this.fill(n);
            this.preparedDuringRun += n;
          } else await new Promise((resolve) => setTimeout(resolve, 250));
        }
      } catch (error) {
        this.failure = error as Error;
      } finally {
        this.running = false;
      }
    })();
  }

  stop(): void {
    this.stopped = true;
  }
}

export interface Sample {
  readonly seconds: number;
  readonly rss: number;
  /** Of RSS: anonymous memory (V8's heap, malloc's arenas, ArrayBuffers), from /proc/self/status; 0 where there is none. */
  readonly rssAnon: number;
  readonly heapUsed: number;
  /** V8's heap as reserved from the system (live objects and garbage not yet collected, and free space it keeps). */
  readonly heapTotal: number;
  /** Memory of ArrayBuffers and Buffers (outside the V8 heap, inside RSS). */
  readonly arrayBuffers: number;
  readonly done: number;
  readonly inFlight: number;
}

/**
 * The trend of one measure over the samples from `fromSeconds` on: the least-squares line's values at the first and the
 * last of them. Two samples alone say where each fell in the garbage collector's cycle (V8's heap, and RSS with it,
 * swings by tens of MB between two major collections); the line over all of them is what grows.
 */
export function trendOf(samples: readonly Sample[], fromSeconds: number, measure: (s: Sample) => number): { from: number; to: number } | undefined {
  const window = samples.filter((s) => s.seconds >= fromSeconds);
  if (window.length < 3) return undefined;
  const meanX = window.reduce((sum, s) => sum + s.seconds, 0) / window.length;
  const meanY = window.reduce((sum, s) => sum + measure(s), 0) / window.length;
  let sxy = 0;
  let sxx = 0;
  for (const s of window) {
    sxy += (s.seconds - meanX) * (measure(s) - meanY);
    sxx += (s.seconds - meanX) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const at = (x: number) => meanY + slope * (x - meanX);
  return { from: at(window[0].seconds), to: at(window[window.length - 1].seconds) };
}

/** RssAnon of /proc/self/status in bytes (Linux), 0 elsewhere. */
function rssAnon(): number {
  try {
    const match = /^RssAnon:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Process memory now, as a sample at `seconds` of the soak's clock. */
export function memorySample(seconds: number, done: number, inFlight: number): Sample {
  const memory = process.memoryUsage();
  return {
    seconds,
    rss: memory.rss,
    rssAnon: rssAnon(),
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    arrayBuffers: memory.arrayBuffers,
    done,
    inFlight,
  };
}

export interface SoakOutcome {
  readonly done: number;
  readonly failed: number;
  /** Starts not made: too many in flight, or no draft ready. */
  readonly skipped: number;
  readonly elapsedMs: number;
  readonly p50: number;
  readonly p99: number;
}

/**
 * Starts a delivery every 1/rate s (open loop) for `durationMs` or `total` starts, samples memory every `sampleMs`
 * (and at the start and the end), and waits up to a minute for those in flight once the time is up.
 */
export async function sendAtRate(o: {
  client: Client;
  watch: DeliveryWatch;
  supply: DraftSupply;
  rate: number;
  total: number;
  durationMs: number;
  maxInFlight: number;
  sampleMs: number;
  onSample: (sample: Sample) => void;
  /**
   * Once `afterMs` of the soak's clock have passed: no new start until those in flight are done, then `run` (a heap
   * snapshot), then the schedule goes on where it stopped (the soak's clock, and the samples' seconds, leave the pause out). `run` gets the deliveries done so far.
   */
  pause?: { readonly afterMs: number; readonly run: (done: number) => void };
}): Promise<SoakOutcome> {
  const latencies = new Float64Array(o.total);
  let done = 0;
  let failed = 0;
  let skipped = 0;
  let inFlight = 0;
  let failure: Error | undefined;
  let start = performance.now();
  let pausedMs = 0;
  let pauseDue = o.pause;
  let pausing = false;
  // No sample while paused: the soak's clock stops there.
  const sample = () => {
    if (!pausing) o.onSample(memorySample((performance.now() - start) / 1000, done, inFlight));
  };
  sample();
  const sampler = setInterval(sample, o.sampleMs);
  const deliver = async (item: Prepared) => {
    const t0 = performance.now();
    try {
      const answer = await o.client.call('POST', `/drafts/${item.draftId}/sending`, { submissionKey: item.key }, item.session.auth);
      if (answer.status !== 202 && answer.status !== 200)
        throw new BenchError(`sending answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 400)}`);
      await o.watch.done(answer.body.correspondenceId as string);
      latencies[done++] = performance.now() - t0;
    } catch (error) {
      failed += 1;
      failure ??= error as Error;
    } finally {
      inFlight -= 1;
    }
  };
  try {
    for (let i = 0; i < o.total; i++) {
      const wait = start + (i * 1000) / o.rate - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (performance.now() - start > o.durationMs) break;
      if (pauseDue && performance.now() - start >= pauseDue.afterMs) {
        const pausedAt = performance.now();
        pausing = true;
        while (inFlight > 0 && !failure) await new Promise((resolve) => setTimeout(resolve, 20));
        pauseDue.run(done);
        pauseDue = undefined;
        const paused = performance.now() - pausedAt;
        pausedMs += paused;
        start += paused;
        pausing = false;
      }
      if (failure) throw failure;
      if (o.supply.failure) throw o.supply.failure;
      const item = inFlight < o.maxInFlight ? o.supply.shift() : undefined;
      if (!item) {
        skipped += 1;
        continue;
      }
      inFlight += 1;
      void deliver(item);
    }
    const drainUntil = performance.now() + 60_000;
    while (inFlight > 0 && performance.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 100));
    if (failure) throw failure;
  } finally {
    clearInterval(sampler);
  }
  const elapsedMs = performance.now() - start;
  sample();
  if (pausedMs > 0) process.stderr.write(`[bench] paused ${(pausedMs / 1000).toFixed(1)} s for the retained-memory measure (left out of the soak's clock)\n`);
  const dist = distribution(Array.from(latencies.subarray(0, Math.max(1, done))));
  return { done, failed, skipped, elapsedMs, p50: dist.p50, p99: dist.p99 };
}
