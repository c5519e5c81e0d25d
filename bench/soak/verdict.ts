/**
 * The soak's verdict (issue #12): RSS flat within 10 % after the warm-up, and no in-memory collection beyond its bound.
 *
 * RSS is judged on its trend, not on two samples: the least-squares line over every sample after the warm-up, its
 * value at the last sample against its value at the first. Two samples mostly say where each fell in V8's collection
 * cycle (heapTotal, and RSS with it, swings by 30–60 MB between major collections): the same run passes or fails by
 * a few seconds' shift. The two-sample growth is still printed beside it.
 *
 * Collections: one with a bound it declares (`max…` beside it) must be within it; one without must not keep growing
 * after the warm-up (above 100 entries and more than twice its size then). Pure: the samples and sizes come in.
 */
import type { Collection } from './collections';
import { type Sample, trendOf } from './run';

export const RSS_LIMIT_PCT = 10;

export interface RssVerdict {
  readonly pass: boolean;
  /** The trend's growth over the window, % of its value at the window's start; NaN with fewer than 3 samples. */
  readonly trendPct: number;
  readonly trendFrom: number;
  readonly trendTo: number;
  /** The two-sample figure (last against the first after the warm-up), for reference. */
  readonly twoSamplePct: number;
}

export function rssVerdict(samples: readonly Sample[], warmSeconds: number): RssVerdict {
  const window = samples.filter((s) => s.seconds >= warmSeconds);
  const first = window[0] ?? samples[0];
  const last = samples[samples.length - 1];
  const trend = trendOf(samples, warmSeconds, (s) => s.rss);
  const trendPct = trend ? (100 * (trend.to - trend.from)) / trend.from : Number.NaN;
  return {
    // Falling is flat enough; too few samples to draw a line is no pass.
    pass: Number.isFinite(trendPct) && trendPct <= RSS_LIMIT_PCT,
    trendPct,
    trendFrom: trend?.from ?? Number.NaN,
    trendTo: trend?.to ?? Number.NaN,
    twoSamplePct: (100 * (last.rss - first.rss)) / first.rss,
  };
}

export interface CollectionVerdict {
  readonly pass: boolean;
  /** Collections with a declared bound: name, size at the end, bound. */
  readonly bounded: readonly { readonly name: string; readonly size: number; readonly bound: number }[];
  /** Beyond their bound. */
  readonly overBound: readonly string[];
  /** No bound, and still growing after the warm-up. */
  readonly growing: readonly string[];
}

export function collectionVerdict(afterWarmUp: ReadonlyMap<string, Collection> | undefined, atEnd: ReadonlyMap<string, Collection>): CollectionVerdict {
  const bounded = [...atEnd.values()]
    .filter((c) => c.bound !== undefined)
    .map((c) => ({ name: c.name, size: c.size, bound: c.bound! }))
    .sort((a, b) => b.size / b.bound - a.size / a.bound);
  const overBound = bounded.filter((c) => c.size > c.bound).map((c) => `${c.name} ${c.size} > ${c.bound}`);
  const growing = [...atEnd.values()]
    .filter((c) => c.bound === undefined && c.size > 100 && c.size > 2 * (afterWarmUp?.get(c.name)?.size ?? 0))
    .map((c) => `${c.name} ${afterWarmUp?.get(c.name)?.size ?? 0} -> ${c.size}`);
  return { pass: overBound.length === 0 && growing.length === 0, bounded, overBound, growing };
}

const signed = (n: number, digits = 1) => `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`;
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

/** The verdict's lines: the overall PASS/FAIL first, then each part. */
export function verdictLines(rss: RssVerdict, collections: CollectionVerdict, warmSeconds: number): string[] {
  const pass = rss.pass && collections.pass;
  return [
    `VERDICT ${pass ? 'PASS' : 'FAIL'}: RSS trend after the warm-up ${signed(rss.trendPct)} % (limit ${RSS_LIMIT_PCT} %): ${rss.pass ? 'PASS' : 'FAIL'}; collections within their bounds, none growing without one: ${collections.pass ? 'PASS' : 'FAIL'}`,
    `  RSS: least-squares line over every sample from ${warmSeconds.toFixed(0)} s: ${mb(rss.trendFrom)} -> ${mb(rss.trendTo)} MB (${signed(rss.trendPct)} %); two samples, first after the warm-up -> last: ${signed(rss.twoSamplePct)} % (where each fell in V8's collection cycle: not the verdict)`,
    `  bounded collections at the end (size / bound): ${collections.bounded.map((c) => `${c.name} ${c.size}/${c.bound}`).join(', ') || 'none found'}`,
    ...(collections.overBound.length > 0 ? [`  beyond their bound: ${collections.overBound.join(', ')}`] : []),
    ...(collections.growing.length > 0 ? [`  growing after the warm-up with no bound: ${collections.growing.join(', ')}`] : []),
  ];
}
