import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import {
  type ContentDigest,
  ContentNotFoundError,
  type ContentStat,
  type ContentStore,
  type ContentVerification,
  contentDigestOf,
  normalizeMediaType,
  type PutContentOptions,
  type StoredContent,
} from './content-store.port';
import { hashStream, readMetered } from './content-stream';

export const DEFAULT_CHUNK_BYTES = 256 * 1024;

export interface SqliteContentStoreTuning {
  /** Bytes per chunk row; default 256 KiB. */
  readonly chunkBytes?: number;
  /** Uploads that started this long ago and never finished are the leftovers of a crash, removed at open; default 1 hour. */
  readonly staleUploadMs?: number;
}

/** A handle shared with others (LOCAL_DB: left open at close), or a file the store opens and closes itself. */
export type SqliteContentStoreOptions = SqliteContentStoreTuning & ({ readonly db: Database.Database } | { readonly filename: string });

interface BlobRow {
  blob_id: string;
  size: number;
  chunk_count: number;
}

/**
 * Content as chunked rows in SQLite (the embedded default on a single file, LOCAL_DB). A put streams into chunk rows
 * of a fresh `blob_id` while hashing, one row per `chunkBytes`; at the end one transaction either publishes the blob
 * under its digest or, when the digest is already there (dedupe, or a concurrent put of the same bytes won), drops the
 * staged rows. A failed or oversized put drops its rows. Reads go chunk by chunk, one row in memory at a time.
 */
export class SqliteContentStore implements ContentStore {
  readonly database: Database.Database;
  private readonly ownsDatabase: boolean;
  private readonly chunkBytes: number;
  private readonly statements;
  private closed = false;

  constructor(options: SqliteContentStoreOptions) {
    if ('db' in options) {
      this.database = options.db;
      this.ownsDatabase = false;
    } else {
      this.database = new Database(options.filename);
      this.database.pragma('journal_mode = WAL');
      this.database.pragma('busy_timeout = 5000');
      this.ownsDatabase = true;
    }
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isSafeInteger(this.chunkBytes) || this.chunkBytes < 1) throw new TypeError('chunkBytes must be a positive integer');
    const db = this.database;
    db.exec(`
      CREATE TABLE IF NOT EXISTS content_blobs (
        digest      TEXT    PRIMARY KEY,
        blob_id     TEXT    NOT NULL UNIQUE,
        size        INTEGER NOT NULL,
        chunk_count INTEGER NOT NULL,
        stored_at   TEXT    NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS content_uploads (
        blob_id    TEXT    PRIMARY KEY,
        started_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS content_chunks (
        blob_id TEXT    NOT NULL,
        seq     INTEGER NOT NULL,
        data    BLOB    NOT NULL,
        PRIMARY KEY (blob_id, seq)
      );
    `);
    this.statements = {
      startUpload: db.prepare('INSERT INTO content_uploads (blob_id, started_at) VALUES (?, ?)'),
      endUpload: db.prepare('DELETE FROM content_uploads WHERE blob_id = ?'),
      staleUploads: db.prepare('SELECT blob_id FROM content_uploads WHERE started_at < ?').pluck(),
      putChunk: db.prepare('INSERT INTO content_chunks (blob_id, seq, data) VALUES (?, ?, ?)'),
      getChunk: db.prepare('SELECT data FROM content_chunks WHERE blob_id = ? AND seq = ?').pluck(),
      dropChunks: db.prepare('DELETE FROM content_chunks WHERE blob_id = ?'),
      publish: db.prepare('INSERT OR IGNORE INTO content_blobs (digest, blob_id, size, chunk_count, stored_at) VALUES (?, ?, ?, ?, ?)'),
      getBlob: db.prepare('SELECT blob_id, size, chunk_count FROM content_blobs WHERE digest = ?'),
    };
    this.removeStaleUploads(Date.now() - (options.staleUploadMs ?? 3_600_000));
  }

  async put(source: Readable, options: PutContentOptions): Promise<StoredContent> {
    this.assertOpen();
    const mediaType = normalizeMediaType(options.declaredMediaType);
    const blobId = randomUUID();
    const { statements } = this;
    statements.startUpload.run(blobId, Date.now());
    let pending = Buffer.allocUnsafe(this.chunkBytes);
    let filled = 0;
    let seq = 0;
    const flush = () => {
      // The row takes its own copy of the bytes; the staging buffer is reused.
      statements.putChunk.run(blobId, seq++, pending.subarray(0, filled));
      filled = 0;
    };
    try {
      const { hex, size } = await readMetered(source, options.maxBytes, (chunk) => {
        this.assertOpen();
        let offset = 0;
        while (offset < chunk.length) {
          const taken = chunk.copy(pending, filled, offset);
          filled += taken;
          offset += taken;
          if (filled === this.chunkBytes) flush();
        }
      });
      if (filled > 0) flush();
      pending = Buffer.alloc(0);
      const digest = contentDigestOf(hex);
      this.database.transaction(() => {
        const published = statements.publish.run(digest, blobId, size, seq, new Date().toISOString()).changes === 1;
        if (!published) statements.dropChunks.run(blobId);
        statements.endUpload.run(blobId);
      })();
      return { digest, size, mediaType };
    } catch (error) {
      if (this.database.open) this.dropUpload(blobId);
      throw error;
    }
  }

  async get(digest: ContentDigest): Promise<Readable> {
    this.assertOpen();
    const blob = this.blobOf(digest);
    return this.chunkStream(digest, blob);
  }

  async stat(digest: ContentDigest): Promise<ContentStat | undefined> {
    this.assertOpen();
    const blob = this.statements.getBlob.get(digest) as BlobRow | undefined;
    return blob ? { digest, size: Number(blob.size) } : undefined;
  }

  async has(digest: ContentDigest): Promise<boolean> {
    return (await this.stat(digest)) !== undefined;
  }

  async verify(digest: ContentDigest): Promise<ContentVerification> {
    this.assertOpen();
    const blob = this.blobOf(digest);
    const { hex, size } = await hashStream(this.chunkStream(digest, blob));
    const actual = contentDigestOf(hex);
    return { digest, ok: actual === digest && size === Number(blob.size), actual, size };
  }

  async health(): Promise<{ up: boolean; detail?: string }> {
    if (this.closed || !this.database.open) return { up: false, detail: 'closed' };
    return { up: true, detail: this.database.name };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsDatabase && this.database.open) this.database.close();
  }

  private blobOf(digest: ContentDigest): BlobRow {
    const blob = this.statements.getBlob.get(digest) as BlobRow | undefined;
    if (!blob) throw new ContentNotFoundError(digest);
    return blob;
  }

  /** One chunk row per read(); a missing row (damage) fails the stream rather than ending it short. */
  private chunkStream(digest: ContentDigest, blob: BlobRow): Readable {
    const { getChunk } = this.statements;
    const count = Number(blob.chunk_count);
    let seq = 0;
    const store = this;
    return new Readable({
      highWaterMark: this.chunkBytes,
      read() {
        if (seq >= count) {
          this.push(null);
          return;
        }
        try {
          if (store.closed && store.ownsDatabase) throw new Error('The content store is closed');
          const data = getChunk.get(blob.blob_id, seq) as Buffer | undefined;
          if (!data) throw new Error(`Content ${digest} is damaged: chunk ${seq} of ${count} is missing`);
          seq++;
          this.push(data);
        } catch (error) {
          this.destroy(error as Error);
        }
      },
    });
  }

  private dropUpload(blobId: string): void {
    this.database.transaction(() => {
      this.statements.dropChunks.run(blobId);
      this.statements.endUpload.run(blobId);
    })();
  }

  private removeStaleUploads(startedBefore: number): void {
    for (const blobId of this.statements.staleUploads.all(startedBefore) as string[]) this.dropUpload(blobId);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('The content store is closed');
  }
}
