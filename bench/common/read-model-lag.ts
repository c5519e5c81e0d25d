/**
 * How far the read models are behind the log, read from the SQLite file on a connection of the bench's own: for each
 * rebuildable projection, the events of its categories in the log against the event ids it recorded as applied. A
 * delivery is timed to the facts in the log (DeliveryWatch); with the projections applied on another thread, what a
 * user sees in the mailbox may come later, so the bench says how much later.
 */
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { auditProjection } from '../../apps/projections/src/audit/audit.projection';
import { mailboxProjection } from '../../apps/projections/src/mailbox/mailbox.projection';

const PROJECTIONS = [mailboxProjection, auditProjection];

export interface ReadModelLag {
  /** Events of the log the projections have not applied yet (summed over the projections). */
  readonly behind: number;
}

export class ReadModelWatch {
  private readonly db: Database.Database;
  private readonly counts: { readonly name: string; readonly inLog: Database.Statement; readonly applied: Database.Statement }[];

  constructor(file: string) {
    this.db = new Database(file, { readonly: true, fileMustExist: true });
    this.db.pragma('busy_timeout = 5000');
    this.counts = PROJECTIONS.map((projection) => ({
      name: projection.name,
      inLog: this.db
        .prepare(
          `SELECT count(*) FROM events e JOIN streams s ON s.stream_id = e.stream_id WHERE s.category IN (${projection.categories.map(() => '?').join(', ')})`,
        )
        .pluck()
        .bind(...projection.categories),
      applied: this.db.prepare('SELECT count(*) FROM projection_applied WHERE name = ?').pluck().bind(projection.name),
    }));
  }

  /** Events of the projections' categories not applied yet, now. */
  behind(): number {
    return this.db.transaction(() =>
      this.counts.reduce((sum, { inLog, applied }) => sum + Math.max(0, (inLog.get() as number) - (applied.get() as number)), 0),
    )();
  }

  /** Milliseconds until nothing is behind (polled every 5 ms), or undefined after `timeoutMs` (then `behind()` says how much). */
  async caughtUpWithin(timeoutMs: number): Promise<number | undefined> {
    const started = performance.now();
    while (this.behind() > 0) {
      if (performance.now() - started > timeoutMs) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return performance.now() - started;
  }

  close(): void {
    this.db.close();
  }
}
