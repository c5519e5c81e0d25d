import type Database from 'better-sqlite3';
import type { RecentStreams } from './recent-streams';
import { StreamIdFilter } from './stream-id-filter';

const byDatabase = new WeakMap<Database.Database, AbsentStreams>();

/**
 * Stream ids the filter holds at most (~6 to 12 MiB); past it every stream "may exist", as without the filter. The
 * build reads the whole streams table once, on the main thread: ~1 s for a million streams (measured at load ~6).
 */
const MAX_IDS = 4 * 1024 * 1024;

/**
 * Which streams the file surely does not hold, told without a query. A delivery reads ~8 streams before they exist:
 * the job of each token (the processor's check that a redelivered token was not handled already), and the
 * correspondence, chain, evidence and trust check streams a decider folds before its first append. Each was a query
 * finding nothing.
 *
 * A Bloom filter of the file's stream ids (StreamIdFilter: never "absent" for an id it holds), built from the
 * `streams` table at the first read that asks, then kept up with every stream created since: by this handle
 * (`created`, in the append's transaction) and by any other connection (the events opening a stream after `through`,
 * read once another connection's commit moved the change epoch, see RecentStreams). So it answers as of the last
 * look at data_version, as the recent-streams cache does: once per turn, and again after any commit of this process.
 * One per handle, like the cache, since another store on the handle creates streams that data_version does not show.
 * Rows written to the events table by hand through this handle, outside a store, are not seen (as for the cache).
 */
export class AbsentStreams {
  private filter: StreamIdFilter | undefined;
  /** Every stream with an event at or below this position is in the filter. */
  private through = 0n;
  /** The change epoch the filter was last brought up to (see RecentStreams). */
  private epoch = -1;
  private readonly statements: ReturnType<typeof prepare>;

  private constructor(
    private readonly db: Database.Database,
    private readonly recent: RecentStreams,
  ) {
    this.statements = prepare(db);
  }

  /** The handle's one instance (with its one RecentStreams). */
  static of(db: Database.Database, recent: RecentStreams): AbsentStreams {
    let absent = byDatabase.get(db);
    if (!absent) {
      absent = new AbsentStreams(db, recent);
      byDatabase.set(db, absent);
    }
    return absent;
  }

  /**
   * True only when the file holds no event of the stream, as of the store's last look at data_version (`lookAtFile`:
   * once per turn, as for the cache). May build the filter or bring it up to date (a query); never inside a transaction
   * of this handle, whose rows may yet be rolled back and their positions given to another connection's, which
   * `through` would skip.
   */
  surelyAbsent(streamId: string, lookAtFile: () => void): boolean {
    if (!this.recent.enabled || this.db.inTransaction) return false;
    lookAtFile();
    if (!this.filter) this.build();
    else if (this.filter.usable && this.epoch !== this.recent.changeEpoch) this.catchUp();
    return !this.filter!.mayHold(streamId);
  }

  /**
   * In an append's transaction, data_version asked under the write lock: true only when the filter is up to date (no
   * other connection's commit since it was) and does not hold the stream. No query.
   */
  surelyAbsentNow(streamId: string): boolean {
    return this.filter !== undefined && this.epoch === this.recent.changeEpoch && !this.filter.mayHold(streamId);
  }

  /** This handle writes the stream's first event (kept also when the transaction rolls back: that only costs a query). */
  created(streamId: string): void {
    this.filter?.add(streamId);
  }

  /**
   * This handle committed events up to `through`. With no other connection's append since the filter was brought up
   * to date (data_version is asked under the write lock), the events up to it are this handle's, whose streams it was
   * told of (`created`): a later catch-up need not read them again.
   */
  committed(through: bigint): void {
    if (this.filter && this.epoch === this.recent.changeEpoch && through > this.through) this.through = through;
  }

  /** Forgets the filter (the file was closed); the next read that asks builds it again. */
  clear(): void {
    this.filter = undefined;
  }

  /** Stream ids held (undefined: not built), for tests and metrics. */
  get size(): number | undefined {
    return this.filter?.size;
  }

  private build(): void {
    // The position first: a stream created between the two is scanned and read again by the next catch-up, harmlessly.
    this.epoch = this.recent.changeEpoch;
    this.through = (this.statements.lastPosition.get() as bigint | null) ?? 0n;
    const filter = new StreamIdFilter(MAX_IDS, this.statements.streamCount.get() as number);
    if (filter.usable) for (const streamId of this.statements.allStreams.iterate() as IterableIterator<string>) filter.add(streamId);
    this.filter = filter;
  }

  private catchUp(): void {
    this.epoch = this.recent.changeEpoch;
    const last = (this.statements.lastPosition.get() as bigint | null) ?? 0n;
    if (last <= this.through) return;
    for (const streamId of this.statements.openedBetween.all(this.through, last) as string[]) this.filter!.add(streamId);
    this.through = last;
  }
}

function prepare(db: Database.Database) {
  return {
    lastPosition: db.prepare('SELECT max(global_position) FROM events').pluck().safeIntegers(true),
    streamCount: db.prepare('SELECT count(*) FROM streams').pluck(),
    allStreams: db.prepare('SELECT stream_id FROM streams').pluck(),
    // A rowid range: the rows another connection committed since, each stream's first event among them.
    openedBetween: db.prepare('SELECT stream_id FROM events WHERE global_position > ? AND global_position <= ? AND stream_revision = 0').pluck(),
  };
}
