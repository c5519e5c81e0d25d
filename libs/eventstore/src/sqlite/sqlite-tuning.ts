/** The synchronous modes a SQLite store accepts (PRAGMA synchronous). */
export const SYNCHRONOUS_MODES = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const;

export interface SqliteTuning {
  /** `NORMAL` (default, WAL): a power cut may lose the last commits but never corrupts; `FULL` fsyncs each commit. */
  readonly synchronous?: (typeof SYNCHRONOUS_MODES)[number];
  /** How long a write waits for another process's lock before failing; default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /** Appends written in one transaction at most; default 512. */
  readonly maxBatchSize?: number;
  /** How often subscriptions look for rows written by other processes; default 500 ms. */
  readonly pollIntervalMs?: number;
  /** Rows a subscription reads per query; default 500. */
  readonly pageSize?: number;
  /**
   * JSON characters of recently read streams kept in memory (see RecentStreams); default 16 Mi, 0 turns it off.
   * A read then asks the file only for the revisions after those it holds, and not at all when neither this
   * connection's stores nor another connection appended since (SQLite's data_version). Rows written to the events
   * table by hand through the same connection, outside a store, are not seen by a stream already cached.
   */
  readonly streamCacheChars?: number;
  /**
   * Events this store committed last kept for its subscriptions (see RecentCommits); default 4096, 0 turns it off. A
   * subscription close behind the appends gets them without a query; one further behind, or after another
   * connection's commit, reads the file.
   */
  readonly recentCommits?: number;
}
