/** What the benchmarks share: progress on stderr, latency distributions, the result table, a keep-alive HTTP client. */
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';

/** A failure whose message already says what to do next. */
export class BenchError extends Error {}

/** Reads integer settings from the environment (underscores allowed); a bad one is added to `problems`, its default used. */
export function integerSetting(env: NodeJS.ProcessEnv, problems: string[]): (name: string, fallback: number, min: number) => number {
  return (name, fallback, min) => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw.replace(/_/g, ''));
    if (!Number.isSafeInteger(value) || value < min) {
      problems.push(`${name}=${JSON.stringify(raw)} must be an integer >= ${min}, e.g. ${name}=${fallback}`);
      return fallback;
    }
    return value;
  };
}

export function progressLine(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

/** Prints a line each time another tenth of `total` is done. */
export class Progress {
  private tenths = 0;
  private readonly started = performance.now();
  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}
  update(done: number): void {
    const reached = Math.min(10, Math.floor((done * 10) / this.total));
    while (this.tenths < reached) {
      this.tenths++;
      const seconds = ((performance.now() - this.started) / 1000).toFixed(2);
      progressLine(`  ${this.label}: ${this.tenths * 10}% (${Math.round((this.total * this.tenths) / 10)}/${this.total}, ${seconds} s)`);
    }
  }
}

export const formatInt = (value: number) => Math.round(value).toLocaleString('en-US');
export const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));
export const formatRatio = (ratio: number) => `${ratio >= 10 ? ratio.toFixed(0) : ratio >= 0.1 ? ratio.toFixed(2) : ratio.toFixed(3)}x`;

export interface Distribution {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function distribution(samples: readonly number[]): Distribution {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return {
    count: sorted.length,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: sorted[sorted.length - 1],
    mean: sorted.reduce((sum, value) => sum + value, 0) / sorted.length,
  };
}

export interface Row {
  readonly what: string;
  readonly dist?: Distribution;
  readonly perSecond?: number;
  readonly ratio?: string;
  readonly against?: string;
}

export const rows: Row[] = [];
export const notes: string[] = [];

export function printTable(): void {
  const header = ['measurement', 'count', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'mean ms', 'per second', 'ratio', 'against'];
  const cells = rows.map((row) => [
    row.what,
    row.dist ? formatInt(row.dist.count) : '',
    row.dist ? ms(row.dist.p50) : '',
    row.dist ? ms(row.dist.p95) : '',
    row.dist ? ms(row.dist.p99) : '',
    row.dist ? ms(row.dist.max) : '',
    row.dist ? ms(row.dist.mean) : '',
    row.perSecond === undefined ? '' : formatInt(row.perSecond),
    row.ratio ?? '',
    row.against ?? '',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column].length)));
  const line = (values: string[]) =>
    values
      .map((cell, column) => (column === 0 || column === 9 ? cell.padEnd(widths[column]) : cell.padStart(widths[column])))
      .join(' | ')
      .trimEnd();
  process.stdout.write(`\n${line(header)}\n${widths.map((width) => '-'.repeat(width)).join('-|-')}\n`);
  for (const row of cells) process.stdout.write(`${line(row)}\n`);
}

export async function within<T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new BenchError(onTimeout())), timeoutMs)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** HTTP client with keep-alive: no connection set-up per call. */

export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export class Client {
  readonly agent: http.Agent;
  constructor(
    private readonly host: string,
    private readonly port: number,
    maxSockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /**
   * One call. A keep-alive socket the server closed just as it was reused (its idle timeout) resets the request before
   * any answer: that call is made once more on a fresh socket, as Node's documentation advises; every call the benches
   * make is idempotent (sending carries its submission key).
   */
  async call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    try {
      return await this.callOnce(method, url, body, headers);
    } catch (error) {
      if ((error as { reusedSocket?: boolean }).reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
        return this.callOnce(method, url, body, headers);
      }
      throw error;
    }
  }

  private callOnce(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          host: this.host,
          port: this.port,
          method,
          path: url,
          agent: this.agent,
          headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: Record<string, unknown> = {};
            try {
              parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
            } catch {
              parsed = { text };
            }
            resolve({ status: response.statusCode ?? 0, body: parsed });
          });
          response.on('error', reject);
        },
      );
      request.on('error', (error) => reject(Object.assign(error, { reusedSocket: request.reusedSocket })));
      request.end(payload);
    });
  }

  /** Like call, but a status other than `expected` is an error naming the call and the answer. */
  async expect(expected: number, method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<Record<string, unknown>> {
    const answer = await this.call(method, url, body, headers);
    if (answer.status !== expected) {
      throw new BenchError(`${method} ${url} answered ${answer.status} (expected ${expected}): ${JSON.stringify(answer.body).slice(0, 500)}`);
    }
    return answer.body;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** SQLITE_SYNCHRONOUS as the apps read it (NORMAL when unset); another value is added to `problems`. */
export function synchronousSetting(env: NodeJS.ProcessEnv, problems: string[]): 'NORMAL' | 'FULL' {
  const synchronous = (env.SQLITE_SYNCHRONOUS?.trim() || 'NORMAL').toUpperCase();
  if (synchronous === 'NORMAL' || synchronous === 'FULL') return synchronous;
  problems.push(`SQLITE_SYNCHRONOUS=${JSON.stringify(env.SQLITE_SYNCHRONOUS)} must be NORMAL or FULL (as for the apps)`);
  return 'NORMAL';
}

/** Stops a bench before it starts when its settings have problems, listing them all. */
export function refuseProblems(problems: readonly string[]): void {
  if (problems.length > 0) throw new BenchError(`Invalid settings:\n  - ${problems.join('\n  - ')}\nFix them and run again.`);
}

/**
 * Runs a bench's `main` and exits with its code; when it stops, says why (with the stack only for an unexpected
 * error, and `hint` then) and exits 1.
 */
export function runBench(main: () => Promise<number>, hint?: string): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`\n[bench] stopped: ${(error as Error)?.message ?? String(error)}\n`);
      if (!(error instanceof BenchError)) process.stderr.write(`${(error as Error)?.stack ?? ''}\n${hint ? `${hint}\n` : ''}`);
      process.exit(1);
    },
  );
}
