/**
 * Fills an event store with a realistic log: a real run of BENCH_DELIVERIES registered deliveries through the
 * in-process app (bench/common/delivery-run.ts), then the events those deliveries wrote appended again and again,
 * each copy with fresh ids (every UUID of the copy replaced, consistently within the copy, except the ids of what
 * existed before the deliveries: parties, sessions, operators, keys), so each copy is another set of correspondences
 * between the same parties. Evidence digests are copied as they are (a copy's records are not re-hashed).
 */
import { randomUUID } from 'node:crypto';
import type { LoopbackMailbox } from '@sigillum/channels';
import type { PendingEvent, RecordedEvent } from '@sigillum/contracts';
import type { EventStore } from '@sigillum/eventstore';
import { DeliveryWatch, prepareDrafts, sendAll, startBenchApp } from '../common/delivery-run';
import { Client, formatInt, Progress, progressLine } from '../common/report';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

export interface SeedRun {
  /** The SQLite file the app's store (and its read models) live in. */
  readonly sqliteFile: string;
  /** The events the deliveries wrote, in log order. */
  readonly events: RecordedEvent[];
  /** Ids kept in every copy: those in the stream ids of what the log held before the deliveries (drafts aside). */
  readonly keep: ReadonlySet<string>;
}

/** Boots the app on `dataDir`, runs `deliveries` real registered deliveries, waits for their evidence, closes the app. */
export async function seedRun(
  dataDir: string,
  mailbox: LoopbackMailbox,
  options: { readonly deliveries: number; readonly pairs: number; readonly concurrency: number; readonly synchronous: 'NORMAL' | 'FULL' },
  env: NodeJS.ProcessEnv = {},
): Promise<SeedRun> {
  const bench = await startBenchApp({ dataDir, mailbox, synchronous: options.synchronous, env });
  const client = new Client('127.0.0.1', bench.port, Math.max(options.concurrency, 4));
  const watch = new DeliveryWatch();
  try {
    progressLine(`seed: ${formatInt(options.deliveries)} real deliveries through the in-process app (data in ${dataDir})`);
    const prepared = await prepareDrafts(client, `http://127.0.0.1:${bench.port}`, dataDir, mailbox, options);
    const before = await bench.store.readAll();
    const keep = new Set<string>();
    for (const recorded of before)
      if (!recorded.streamId.startsWith('draft-')) for (const id of recorded.streamId.match(UUID) ?? []) keep.add(id.toLowerCase());
    watch.start(bench.store, before.length ? before[before.length - 1].globalPosition : 0n);
    watch.recording = true;
    const progress = new Progress('delivered', prepared.length);
    let done = 0;
    await sendAll(client, prepared, watch, options.concurrency, () => progress.update(++done));
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // the last evidence and a checkpoint
    watch.recording = false;
    return { sqliteFile: bench.config.sqliteFile, events: [...watch.events], keep };
  } finally {
    await watch.stop();
    client.close();
    await bench.app.close();
  }
}

/** One copy of `events` with fresh ids: the UUIDs not in `keep` replaced, the same way throughout the copy. */
function copyOf(events: readonly RecordedEvent[], keep: ReadonlySet<string>): { streamId: string; pending: PendingEvent }[] {
  const fresh = new Map<string, string>();
  const swap = (id: string) => {
    const lower = id.toLowerCase();
    if (keep.has(lower)) return id;
    let replacement = fresh.get(lower);
    if (!replacement) fresh.set(lower, (replacement = randomUUID()));
    return replacement;
  };
  return events.map((recorded) => {
    const copied = JSON.parse(JSON.stringify({ event: recorded.event, metadata: recorded.metadata }).replace(UUID, swap)) as PendingEvent;
    return { streamId: recorded.streamId.replace(UUID, swap), pending: copied };
  });
}

/** Appends `copies` copies of `events` to `store`, `inFlight` appends at a time (the store's group commit); returns the events appended. */
export async function replicate(
  store: EventStore,
  events: readonly RecordedEvent[],
  keep: ReadonlySet<string>,
  copies: number,
  inFlight = 256,
): Promise<number> {
  const progress = new Progress('copies appended', copies);
  let appended = 0;
  for (let copy = 0; copy < copies; copy++) {
    // Events appended together in the run (same stream, consecutive) are appended together again.
    const items = copyOf(events, keep);
    const groups: { streamId: string; pending: PendingEvent[] }[] = [];
    for (const item of items) {
      const last = groups[groups.length - 1];
      if (last && last.streamId === item.streamId) last.pending.push(item.pending);
      else groups.push({ streamId: item.streamId, pending: [item.pending] });
    }
    // In log order: a stream's appends one after another, streams side by side, `inFlight` at most.
    for (let i = 0; i < groups.length; i += inFlight) {
      const slice = groups.slice(i, i + inFlight);
      const byStream = new Map<string, { streamId: string; pending: PendingEvent[] }[]>();
      for (const group of slice) byStream.set(group.streamId, [...(byStream.get(group.streamId) ?? []), group]);
      await Promise.all(
        [...byStream.values()].map(async (streamGroups) => {
          for (const group of streamGroups) await store.append(group.streamId, group.pending, 'any');
        }),
      );
    }
    appended += items.length;
    progress.update(copy + 1);
  }
  return appended;
}
