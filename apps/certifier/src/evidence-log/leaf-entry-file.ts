import * as fs from 'node:fs';
import * as path from 'node:path';

/** Each entry's end offset in the entry file, 6 bytes little-endian (up to 256 TiB) in a slot of 8. */
const SLOT = 8;
const OFFSET_BYTES = 6;

/**
 * The entries of the evidence log's leaves as they were when each became a leaf, in one append-only file: the log's
 * witness copy. A record edited in the store afterwards is still served in the entry bundles as it was logged, so an
 * auditor's fsck compares the store with what the log committed to and names the edit. Like the tree, the file is
 * rebuilt from the store at each start (a new file: one a killed process left is removed). Where each entry ends is in
 * a second file beside it (`<file>.ends`, 8 bytes an entry), not in memory: the process holds two numbers whatever
 * the number of leaves (an offset per leaf in an array was ~100 bytes of heap a delivery, kept forever).
 *
 * `append` writes a batch of entries (one write for the entries, one for their ends) before it counts them: if a
 * write fails, nothing is counted and the same batch appended again writes the same bytes at the same places.
 */
export class LeafEntryFile {
  private readonly fd: number;
  private readonly endsFd: number;
  private entries = 0;
  private end = 0;
  private closed = false;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.fd = LeafEntryFile.create(file);
    this.endsFd = LeafEntryFile.create(`${file}.ends`);
  }

  /** A new, empty file (a new inode: whatever still has the old one open keeps writing to that, not to this). */
  private static create(file: string): number {
    fs.rmSync(file, { force: true });
    return fs.openSync(file, 'w+', 0o600);
  }

  get count(): number {
    return this.entries;
  }

  /** Appends these entries, all or none. */
  append(batch: readonly Buffer[]): void {
    if (batch.length === 0) return;
    const bytes = Buffer.concat(batch);
    const ends = Buffer.alloc(batch.length * SLOT);
    let end = this.end;
    batch.forEach((entry, index) => {
      end += entry.length;
      ends.writeUIntLE(end, index * SLOT, OFFSET_BYTES);
    });
    writeAll(this.fd, bytes, this.end);
    writeAll(this.endsFd, ends, this.entries * SLOT);
    this.entries += batch.length;
    this.end = end;
  }

  /** The entries `first` .. `first + count - 1` (fewer when the file holds fewer). */
  read(first: number, count: number): Buffer[] {
    const last = Math.min(this.entries, first + count);
    if (first >= last) return [];
    // The end of the entry before `first` (0 for the first entry), then the ends of the entries read.
    const from = Math.max(0, first - 1);
    const slots = readAll(this.endsFd, (last - from) * SLOT, from * SLOT, `${this.file}.ends`);
    const endAt = (index: number) => (index < 0 ? 0 : slots.readUIntLE((index - from) * SLOT, OFFSET_BYTES));
    const start = endAt(first - 1);
    const bytes = readAll(this.fd, endAt(last - 1) - start, start, this.file);
    const entries: Buffer[] = [];
    for (let index = first; index < last; index++) entries.push(bytes.subarray(endAt(index - 1) - start, endAt(index) - start));
    return entries;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
    fs.closeSync(this.endsFd);
  }
}

function writeAll(fd: number, bytes: Buffer, position: number): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
}

function readAll(fd: number, length: number, position: number, file: string): Buffer {
  const bytes = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const read = fs.readSync(fd, bytes, done, length - done, position + done);
    if (read === 0) throw new Error(`${file} ends at ${position + done} bytes, before the entries asked for: it was truncated behind this process`);
    done += read;
  }
  return bytes;
}
