import { parseJsonKeepingText, type RecordedEvent } from '@sigillum/contracts';
import type { RecentCommits } from './recent-commits';
import { freeze, type RecentStreams } from './recent-streams';

/** One append as committed: its stream, its rows as written (JSON text), and where they went. */
export interface CommittedAppend {
  readonly streamId: string;
  readonly rows: readonly { readonly type: string; readonly version: number; readonly data: string; readonly metadata: string }[];
  readonly firstRevision: number;
  readonly positions: readonly bigint[];
}

/**
 * After the commit, what a store may keep of the appended events without reading them back: they join the stream's
 * cached entry when it held exactly the revisions before them (the append read the stream's head inside its
 * transaction, so entry + events is the whole stream as committed), move the stream's known end, and go to the recent
 * commits its subscriptions are served from (`tail`, when any runs). Parsed back from the JSON text written, so a
 * reader gets exactly what the file gives.
 */
export function keepCommitted(recent: RecentStreams, tail: RecentCommits | undefined, committed: readonly CommittedAppend[]): void {
  const all: RecordedEvent[] = [];
  for (const { streamId, rows, firstRevision, positions } of committed) {
    if (recent.enabled) recent.committedPast(streamId, firstRevision, rows.length);
    const continues = recent.enabled && recent.continues(streamId, firstRevision);
    if (!continues && !tail) continue;
    let weight = 0;
    const events = rows.map((row, index): RecordedEvent => {
      weight += row.data.length + row.metadata.length;
      // Frozen: the same objects go to every reader of the cache and every subscription.
      return freeze({
        streamId,
        streamRevision: firstRevision + index,
        globalPosition: positions[index],
        event: { type: row.type, version: row.version, data: parseJsonKeepingText(row.data) },
        metadata: JSON.parse(row.metadata),
      });
    });
    if (continues) recent.appended(streamId, firstRevision, events, weight);
    if (tail) all.push(...events);
  }
  if (tail) tail.committed(all);
}
