import type Database from 'better-sqlite3';
import type { BusLogger } from '../bus-logger';

/**
 * Pruning of the embedded bus log (`bus_messages`): a message every group has checkpointed past is deleted,
 * once it is older than the retention. Without it the table keeps a second full copy of every event forever.
 */
export interface LogPruningOptions {
  /** How often a pass runs, on a timer off the publish and delivery paths; default 10 000 ms. */
  readonly intervalMs?: number;
  /**
   * Rows deleted per transaction at most; default 500. Each transaction holds the write lock and the event loop
   * (better-sqlite3 is synchronous): 500 rows of ~6 kB take ~5-10 ms on a 2-core machine, while 2 000 rows
   * overflow SQLite's page cache (2 MB by default) and take 50-170 ms.
   */
  readonly batchSize?: number;
  /**
   * Rows deleted per pass at most, the event loop free between batches; the rest waits for the next pass.
   * Default 100 000: 10 000 rows/s at the default interval, ~260 registered deliveries/s (38 messages each).
   */
  readonly maxRowsPerPass?: number;
  /**
   * How long a message stays in the log at least, however far every group got; default 60 000 ms. Within it a
   * republish of the same (topic, id) is still a no-op, and an operator can still look at recent traffic. Nothing
   * at all is pruned during the first `retainMs` after the bus starts, which leaves the roles time to subscribe.
   */
  readonly retainMs?: number;
  /**
   * A group not seen consuming for this long stops holding the log back (its subscription is ignored, as Kafka
   * expires the offsets of a group gone for `offsets.retention.minutes`); default 7 days. A group comes back as a new
   * one: from the earliest message still in the log. Groups consuming through this bus are seen at every pass.
   */
  readonly groupExpiryMs?: number;
}

export const DEFAULT_LOG_PRUNING: Required<LogPruningOptions> = {
  intervalMs: 10_000,
  batchSize: 500,
  maxRowsPerPass: 100_000,
  retainMs: 60_000,
  groupExpiryMs: 7 * 24 * 3600 * 1000,
};

/**
 * Deletes, topic by topic, the ordinary messages (never dead letters) at or below both
 *  - the topic's floor: the lowest checkpoint of the groups known to consume it (`bus_subscriptions`, written by
 *    `consume()`; a known group without a checkpoint yet counts as 0, which keeps everything), and
 *  - the horizon: the last offset of the log as it was `retainMs` ago (sampled by this pruner each pass).
 * A topic no group ever subscribed to is never pruned: a group that comes later still finds all of it.
 *
 * Each batch computes the floor and deletes in one IMMEDIATE transaction, so a group registered or a checkpoint
 * written in between is always seen. Checkpoints only cover handled messages and only move forward, so a group
 * restarted (or crashed between handling and checkpointing) finds every message after its checkpoint.
 *
 * Freed pages go to SQLite's free list and are reused by the next inserts (of any table): the file stops growing
 * for the bus log once pruning keeps up, but does not shrink. `PRAGMA incremental_vacuum` would give pages back to
 * the file system only in a file created with `auto_vacuum = INCREMENTAL` (or converted by a full VACUUM, which
 * rewrites the whole file under an exclusive lock); the event store's file is not, and this pruner does not change it.
 */
export class LogPruner {
  private readonly options: Required<LogPruningOptions>;
  private readonly samples: { at: number; lastOffset: number }[] = [];
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private stopped = false;
  private readonly statements: {
    readonly lastOffset: Database.Statement;
    readonly floors: Database.Statement;
    readonly floorOf: Database.Statement;
    readonly deleteBatch: Database.Statement;
    readonly seen: Database.Statement;
  };
  private readonly pruneBatch: Database.Transaction<(topic: string, horizon: number, limit: number) => { changes: number; upTo: number }>;
  /** Rows deleted since start. */
  pruned = 0;

  constructor(
    private readonly db: Database.Database,
    options: LogPruningOptions,
    private readonly logger: BusLogger,
    private readonly now: () => number = Date.now,
    /** The groups consuming through this bus now: seen at every pass. */
    private readonly activeGroups: () => Iterable<string> = () => [],
    /** After a batch committed: rows of `topic` up to `offset` may be gone (the in-memory tail drops them too). */
    private readonly onPruned: (topic: string, offset: number) => void = () => undefined,
  ) {
    this.options = { ...DEFAULT_LOG_PRUNING, ...options };
    for (const [name, value] of Object.entries(this.options)) {
      const min = name === 'retainMs' ? 0 : 1;
      if (!Number.isSafeInteger(value) || value < min) throw new TypeError(`Log pruning: ${name} must be an integer >= ${min} (got ${JSON.stringify(value)}).`);
    }
    this.statements = {
      // AUTOINCREMENT's counter: the last offset ever given, also when the table is empty.
      lastOffset: db.prepare("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'bus_messages'").pluck(),
      // Topics with a known group, and what the slowest of them has checkpointed (0 when one has none yet).
      floors: db.prepare(
        `SELECT s.topic AS topic, min(coalesce(c."offset", 0)) AS floor
         FROM bus_subscriptions s LEFT JOIN bus_checkpoints c ON c.group_id = s.group_id AND c.topic = s.topic
         WHERE s.seen_at >= ?
         GROUP BY s.topic`,
      ),
      floorOf: db
        .prepare(
          `SELECT min(coalesce(c."offset", 0))
           FROM bus_subscriptions s LEFT JOIN bus_checkpoints c ON c.group_id = s.group_id AND c.topic = s.topic
           WHERE s.topic = ? AND s.seen_at >= ?`,
        )
        .pluck(),
      seen: db.prepare('UPDATE bus_subscriptions SET seen_at = ? WHERE group_id = ?'),
      deleteBatch: db.prepare(
        `DELETE FROM bus_messages WHERE "offset" IN (
           SELECT "offset" FROM bus_messages WHERE topic = ? AND "offset" <= ? AND dlq_group = '' ORDER BY "offset" LIMIT ?)`,
      ),
    };
    this.pruneBatch = db.transaction((topic: string, horizon: number, limit: number) => {
      const floor = this.statements.floorOf.get(topic, this.now() - this.options.groupExpiryMs) as number | null;
      if (floor === null) return { changes: 0, upTo: 0 };
      const upTo = Math.min(floor, horizon);
      return { changes: this.statements.deleteBatch.run(topic, upTo, limit).changes, upTo };
    });
  }

  /** Samples the log's end now (the retention counts from here) and prunes every `intervalMs`. */
  start(): void {
    this.sample();
    this.schedule();
  }

  /** Stops the timer and waits for a pass under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /**
   * One pass now: deletes up to `maxRowsPerPass` rows, `batchSize` per transaction, yielding to the event loop
   * between batches. Returns the rows deleted. Passes never overlap: a call during one waits for it.
   */
  async prune(): Promise<number> {
    while (this.running) await this.running;
    this.running = this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.prune()
        .catch((error: Error) => {
          if (this.db.open) this.logger.warn(`Pruning the embedded bus log failed (${error.message}); retrying in ${this.options.intervalMs} ms.`);
        })
        .finally(() => this.schedule());
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /** Records the log's end now; returns the highest offset at least `retainMs` old (0 when none is yet). */
  private sample(): number {
    const at = this.now();
    this.samples.push({ at, lastOffset: this.statements.lastOffset.get() as number });
    let horizon = 0;
    let oldEnough = -1;
    for (let index = 0; index < this.samples.length; index++) {
      if (this.samples[index].at <= at - this.options.retainMs) oldEnough = index;
    }
    if (oldEnough >= 0) {
      horizon = this.samples[oldEnough].lastOffset;
      this.samples.splice(0, oldEnough); // the newest old-enough sample stays: it is the horizon until a newer one ages
    }
    return horizon;
  }

  private async pass(): Promise<number> {
    if (!this.db.open) return 0;
    const horizon = this.sample();
    if (horizon === 0) return 0;
    let deleted = 0;
    const at = this.now();
    this.db.transaction(() => {
      for (const group of this.activeGroups()) this.statements.seen.run(at, group);
    })();
    const topics = this.statements.floors.all(at - this.options.groupExpiryMs) as { topic: string; floor: number }[];
    for (const { topic, floor } of topics) {
      if (Math.min(floor, horizon) <= 0) continue;
      while (deleted < this.options.maxRowsPerPass && !this.stopped && this.db.open) {
        const limit = Math.min(this.options.batchSize, this.options.maxRowsPerPass - deleted);
        const { changes, upTo } = this.pruneBatch.immediate(topic, horizon, limit);
        if (changes > 0) this.onPruned(topic, upTo);
        deleted += changes;
        if (changes < limit) break;
        await new Promise((resolve) => setImmediate(resolve)); // let deliveries and publishes run between batches
      }
    }
    this.pruned += deleted;
    return deleted;
  }
}
