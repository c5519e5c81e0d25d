import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { LoggedLeaf } from './log-verdict';

/** One leaf as the log read it: what `leafOf` and `leavesOf` answer from. */
export interface IndexedLeaf extends LoggedLeaf {
  readonly correspondenceId: string;
}

/** SQLite's page cache for the index, in KiB: the index's whole share of the process's memory, whatever the log's size. */
const CACHE_KIB = 4096;

/**
 * The evidence log's index of its leaves (evidence id → leaf, correspondence → leaves in leaf order), on disk in a
 * SQLite file of its own instead of the process's heap: kept in two Maps it cost ~250 bytes of live heap a leaf
 * (~2.7 kB a delivery) for as long as the process lived, and V8 sized its heap several times over that growth. Here
 * its memory is SQLite's page cache (CACHE_KIB) whatever the number of leaves.
 *
 * Like the tree and the entry file it is derived from the store: each start removes what an earlier process left
 * (after a kill -9 perhaps half-written) and the log rebuilds it from the store as it rebuilds its tree. Nothing
 * relies on it surviving the process, so it is written without fsync and with its rollback journal in memory (a
 * failed batch still rolls back; a crash leaves a file the next start deletes). One transaction per batch of leaves,
 * with INSERT OR REPLACE: a batch written again after a failure writes the same rows.
 */
export class LeafIndex {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement<[number, string, string, number, string]>;
  private readonly byEvidence: Database.Statement<[string], { leaf_index: number }>;
  private readonly byCorrespondence: Database.Statement<[string], { leaf_index: number; evidence_id: string; chain_index: number; event_name: string }>;
  private readonly addAll: (leaves: readonly IndexedLeaf[]) => void;
  private closed = false;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    for (const suffix of ['', '-journal', '-wal', '-shm']) fs.rmSync(`${file}${suffix}`, { force: true });
    this.db = new Database(file);
    fs.chmodSync(file, 0o600);
    // Only this process uses the file (a new one each start): no lock to share, no journal on disk, no fsync.
    this.db.pragma('locking_mode = EXCLUSIVE');
    this.db.pragma('journal_mode = MEMORY');
    this.db.pragma('synchronous = OFF');
    this.db.pragma(`cache_size = -${CACHE_KIB}`);
    this.db.exec(`
      CREATE TABLE leaves (
        correspondence_id TEXT NOT NULL,
        leaf_index INTEGER NOT NULL,
        evidence_id TEXT NOT NULL,
        chain_index INTEGER NOT NULL,
        event_name TEXT NOT NULL,
        PRIMARY KEY (correspondence_id, leaf_index)
      ) WITHOUT ROWID;
      CREATE INDEX leaves_by_evidence ON leaves (evidence_id, leaf_index);
    `);
    this.insert = this.db.prepare('INSERT OR REPLACE INTO leaves (leaf_index, evidence_id, correspondence_id, chain_index, event_name) VALUES (?, ?, ?, ?, ?)');
    // The last leaf of an id, should the store hold it twice: what a Map set leaf by leaf answered.
    this.byEvidence = this.db.prepare('SELECT leaf_index FROM leaves WHERE evidence_id = ? ORDER BY leaf_index DESC LIMIT 1');
    this.byCorrespondence = this.db.prepare(
      'SELECT leaf_index, evidence_id, chain_index, event_name FROM leaves WHERE correspondence_id = ? ORDER BY leaf_index',
    );
    this.addAll = this.db.transaction((leaves: readonly IndexedLeaf[]) => {
      for (const leaf of leaves) this.insert.run(leaf.leafIndex, leaf.evidenceId, leaf.correspondenceId, leaf.chainIndex, leaf.eventName);
    });
  }

  /** Indexes these leaves, all or none. */
  add(leaves: readonly IndexedLeaf[]): void {
    if (leaves.length > 0) this.addAll(leaves);
  }

  /** The leaf index of an evidence id, when the log has read it. */
  leafOf(evidenceId: string): number | undefined {
    return this.byEvidence.get(evidenceId)?.leaf_index;
  }

  /** The leaves of a correspondence, in leaf order. */
  leavesOf(correspondenceId: string): LoggedLeaf[] {
    return this.byCorrespondence.all(correspondenceId).map((row) => ({
      leafIndex: row.leaf_index,
      evidenceId: row.evidence_id,
      chainIndex: row.chain_index,
      eventName: row.event_name,
    }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
