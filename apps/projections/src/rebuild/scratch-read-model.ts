import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { SqliteProjector } from '@sigillum/eventstore/sqlite/sqlite-projector';
import type { RebuildableProjection } from './log-replay';

/** Page cache of a scratch read model, KiB: the rows are inserted in event order, their keys in no order. */
const SCRATCH_CACHE_KIB = 256 * 1024;
const ALIAS = 'rebuild_scratch';

/**
 * The bulk path of a rebuild: the read model built from the log in a scratch SQLite file of its own (no WAL, no sync,
 * one transaction for the whole build with a savepoint per page, a large page cache), through the same projector and projection code as the live path (the same
 * statements, the same `projection_applied` rows), then moved into the main file's emptied tables in one transaction:
 * every table copied in its key order, which appends instead of inserting at random (each page of the main file
 * written once, not once per page of events that touched it), the secondary indexes built after the rows, and the
 * applied event ids copied with them, so the live path's dedupe after the rebuild is exactly what the per-event path
 * leaves. Why: rebuilt in place, each page of 500 events rewrote ~1,000 pages of the main file into its WAL (keys are
 * UUIDs), ~200 MB of WAL per projection for 80,000 events.
 */
export class ScratchReadModel {
  readonly db: Database.Database;
  readonly projector: SqliteProjector;
  private closed = false;

  private constructor(
    private readonly main: Database.Database,
    private readonly projection: RebuildableProjection,
    /** The scratch file. */
    readonly file: string,
  ) {
    this.db = new Database(file);
    try {
      this.db.pragma('journal_mode = MEMORY'); // a refused event's page is rolled back; nothing survives a crash anyway
      this.db.pragma('synchronous = OFF');
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma(`cache_size = -${SCRATCH_CACHE_KIB}`);
      this.db.pragma('temp_store = MEMORY'); // the savepoints' journals
      this.projector = new SqliteProjector(this.db, projection);
      // One transaction for the whole build, committed before the move: each page of events is a savepoint in it
      // (rolled back alone when an event is refused), and a page's commit no longer writes every page it touched.
      this.db.exec('BEGIN');
    } catch (error) {
      this.discard();
      throw error;
    }
  }

  /**
   * A scratch file beside the main file (the same disk), or in the temporary directory for an in-memory one or when
   * the main file's directory takes no new file. A process that dies mid-rebuild leaves it there (`.rebuild-*.db`).
   */
  static open(main: Database.Database, projection: RebuildableProjection): ScratchReadModel {
    const name = `.rebuild-${projection.name}-${randomUUID()}.db`;
    const inMemory = main.memory || !main.name || main.name === ':memory:';
    if (!inMemory) {
      try {
        return new ScratchReadModel(main, projection, path.join(path.dirname(path.resolve(main.name)), name));
      } catch {
        // a read-only or full directory: the temporary one
      }
    }
    return new ScratchReadModel(main, projection, path.join(os.tmpdir(), name));
  }

  /**
   * Replaces the projection's tables in the main file with the scratch's rows, and its applied event ids with the
   * scratch's, in one IMMEDIATE transaction; then deletes the scratch file. Throws with the main file unchanged.
   */
  transferInto(): void {
    this.finishBuild();
    try {
      ScratchReadModel.moveInto(this.main, this.projection, this.file);
    } finally {
      this.discard();
    }
  }

  /** Commits the build and closes the scratch, keeping its file (to be moved by `moveInto`, on another thread's connection). */
  finishBuild(): void {
    if (!this.closed && this.db.inTransaction) this.db.exec('COMMIT');
    this.closeScratch();
  }

  /**
   * Replaces the projection's tables in `main` with the rows of the scratch file (built and closed), and its applied
   * event ids with the scratch's, in one IMMEDIATE transaction. Throws with the main file unchanged.
   */
  static moveInto(main: Database.Database, projection: RebuildableProjection, file: string): void {
    const tables = projection.tables;
    main.prepare(`ATTACH DATABASE ? AS ${ALIAS}`).run(file);
    try {
      main
        .transaction(() => {
          for (const table of tables) main.exec(`DROP TABLE IF EXISTS main.${table}`);
          main.exec(projection.schema);
          // The secondary indexes go while the rows are copied, and are built again over them (one sort each).
          const indexes = main
            .prepare(`SELECT name FROM main.sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (${tables.map(() => '?').join(', ')})`)
            .pluck()
            .all(...tables) as string[];
          for (const index of indexes) main.exec(`DROP INDEX main."${index.replace(/"/g, '""')}"`);
          for (const table of tables) main.exec(`INSERT INTO main.${table} SELECT * FROM ${ALIAS}.${table}`);
          main.prepare('DELETE FROM main.projection_applied WHERE name = ?').run(projection.name);
          main.prepare(`INSERT INTO main.projection_applied SELECT * FROM ${ALIAS}.projection_applied WHERE name = ?`).run(projection.name);
          main.exec(projection.schema); // the indexes again
        })
        .immediate();
    } finally {
      main.exec(`DETACH DATABASE ${ALIAS}`);
    }
  }

  /** Deletes a scratch file (and its journal) that no connection has open any more. */
  static remove(file: string): void {
    for (const suffix of ['', '-journal', '-wal', '-shm']) fs.rmSync(`${file}${suffix}`, { force: true });
  }

  /** Closes and deletes the scratch file. Idempotent. */
  discard(): void {
    this.closeScratch();
    ScratchReadModel.remove(this.file);
  }

  private closeScratch(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.db.open) this.db.close();
  }
}
