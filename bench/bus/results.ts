import { performance } from 'node:perf_hooks';
import { formatInt, progressLine } from '../common/report';

// What bus.bench.ts records: each phase's rate, next to the raw ceiling it is compared with, and the table of them.

export interface Result {
  readonly id: string;
  readonly adapter: string;
  readonly operation: string;
  readonly count: number;
  readonly seconds: number;
  /** Id of the raw ceiling this result is compared with; undefined for a ceiling itself. */
  readonly ceiling?: string;
}

export const results: Result[] = [];
export const notes: string[] = [];

export function record(result: Result): void {
  results.push(result);
  const rate = result.count / result.seconds;
  progressLine(`${result.adapter} / ${result.operation}: ${formatInt(result.count)} in ${result.seconds.toFixed(3)} s = ${formatInt(rate)}/s`);
}

/** Prints a line each time another quarter of `total` is done (the shared Progress prints tenths: too chatty for the many short phases here). */
export class Progress {
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
      progressLine(
        `  ${this.label}: ${this.quarters * 25}% (${formatInt(Math.round((this.total * this.quarters) / 4))}/${formatInt(this.total)}, ${seconds} s)`,
      );
    }
  }
}

/** Counts deliveries; `done` resolves with the time the last one arrived. */
export class Countdown {
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

export function rateOf(id: string): number | undefined {
  const result = results.find((candidate) => candidate.id === id);
  return result && result.count / result.seconds;
}

/** "0.93x" of one result's rate over another's, once both are recorded. */
export function ratioText(id: string, ceilingId: string): string {
  const [rate, ceiling] = [rateOf(id), rateOf(ceilingId)];
  return rate === undefined || !ceiling ? '?' : formatRatio(rate / ceiling);
}

/** Two decimals even above 10x (unlike the shared formatRatio), as this table always printed them. */
export function formatRatio(ratio: number): string {
  return `${ratio >= 0.1 ? ratio.toFixed(2) : ratio.toFixed(3)}x`;
}

export function seconds(from: number, to = performance.now()): number {
  return Math.max(to - from, 1e-6) / 1000;
}

export function printTable(): void {
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
    cells
      .map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join(' | ')
      .trimEnd();
  process.stdout.write(`\n${line(header)}\n${widths.map((width) => '-'.repeat(width)).join('-|-')}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}
