import * as fs from 'node:fs';
import * as path from 'node:path';
import { HASH_SIZE, type HashLevelStorage } from '@sigillum/tlog';

/** Hashes read from the file at once, aligned: a hash tile's width (8 KiB), what proofs of nearby leaves share. */
const CHUNK_HASHES = 256;
const CHUNK_BYTES = CHUNK_HASHES * HASH_SIZE;
/**
 * Chunks kept per level, the least recently used dropped: a proof reads near its leaf and, for a tree whose size is not
 * a power of two, at the level's end (the right edge), so one chunk a level was read again at almost every step.
 */
const CHUNKS_KEPT = 4;

/**
 * One level of the evidence log's Merkle tree in a file of its own, 32 bytes a hash in order: in memory the tree
 * cost ~64 bytes a leaf (~0.7 kB a delivery) for as long as the process lived. What the process holds is bounded:
 * the hashes pushed since the last `flush` (one batch of leaves read from the store) and the last CHUNKS_KEPT chunks
 * read (8 KiB each; the proofs of nearby leaves, and of every leaf at the upper levels, come from the same few chunks).
 * Hashes never change once written, so a chunk read stays right.
 *
 * Like the tree it belongs to, the file is rebuilt from the store at each start (a new file: one a killed process
 * left is removed). A failed `flush` keeps the pending hashes (still served from memory) and writes them again, at
 * the same place, at the next.
 */
export class HashLevelFile implements HashLevelStorage {
  private readonly fd: number;
  length = 0;
  /** Hashes in the file; those from `written` to `length` are in `pending`. */
  private written = 0;
  private pending = Buffer.allocUnsafeSlow(64 * HASH_SIZE);
  /** Chunks read, by their first hash's index, least recently used first (a Map keeps insertion order). */
  private readonly chunks = new Map<number, Buffer>();
  private closed = false;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.rmSync(file, { force: true });
    this.fd = fs.openSync(file, 'w+', 0o600);
  }

  push(hash: Uint8Array): void {
    const offset = (this.length - this.written) * HASH_SIZE;
    if (offset + HASH_SIZE > this.pending.length) {
      const grown = Buffer.allocUnsafeSlow(this.pending.length * 2);
      this.pending.copy(grown, 0, 0, offset);
      this.pending = grown;
    }
    this.pending.set(hash, offset);
    this.length += 1;
  }

  at(index: number): Buffer {
    if (index >= this.written) {
      const offset = (index - this.written) * HASH_SIZE;
      return this.pending.subarray(offset, offset + HASH_SIZE);
    }
    const start = index - (index % CHUNK_HASHES);
    const offset = (index - start) * HASH_SIZE;
    let chunk = this.chunks.get(start);
    if (chunk !== undefined) this.chunks.delete(start);
    if (chunk === undefined || offset >= chunk.length) {
      // Only what is written: the level's last chunk may be partial, and read again once it has grown. A new buffer
      // each time: hashes returned from a dropped chunk are views of it, and stay right.
      const hashes = Math.min(CHUNK_HASHES, this.written - start);
      chunk = this.read(start, hashes, Buffer.allocUnsafeSlow(CHUNK_BYTES)).subarray(0, hashes * HASH_SIZE);
      if (this.chunks.size >= CHUNKS_KEPT) this.chunks.delete(this.chunks.keys().next().value!);
    }
    this.chunks.set(start, chunk);
    return chunk.subarray(offset, offset + HASH_SIZE);
  }

  copy(start: number, end: number): Buffer {
    const out = Buffer.allocUnsafe((end - start) * HASH_SIZE);
    const fromFile = Math.max(0, Math.min(end, this.written) - start);
    if (fromFile > 0) this.read(start, fromFile, out);
    if (end > this.written) {
      const first = Math.max(start, this.written);
      this.pending.copy(out, (first - start) * HASH_SIZE, (first - this.written) * HASH_SIZE, (end - this.written) * HASH_SIZE);
    }
    return out;
  }

  /** Writes the hashes pushed since the last flush. */
  flush(): void {
    const count = this.length - this.written;
    if (count === 0 || this.closed) return;
    let done = 0;
    const bytes = count * HASH_SIZE;
    while (done < bytes) done += fs.writeSync(this.fd, this.pending, done, bytes - done, this.written * HASH_SIZE + done);
    this.written = this.length;
    // A new buffer, not the old one rewritten: hashes `at` returned from it are views, and stay right.
    this.pending = Buffer.allocUnsafeSlow(64 * HASH_SIZE);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }

  /** Hashes [start, start + count) of the file into `into` (from its beginning). */
  private read(start: number, count: number, into: Buffer): Buffer {
    const bytes = count * HASH_SIZE;
    let done = 0;
    while (done < bytes) {
      const read = fs.readSync(this.fd, into, done, bytes - done, start * HASH_SIZE + done);
      if (read === 0)
        throw new Error(`${this.file} ends at ${start * HASH_SIZE + done} bytes, before hash ${start + count - 1}: it was truncated behind this process`);
      done += read;
    }
    return into;
  }
}
