import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The entries of the evidence log's leaves as they were when each became a leaf, in one append-only file: the log's
 * witness copy. A record edited in the store afterwards is still served in the entry bundles as it was logged, so an
 * auditor's fsck compares the store with what the log committed to and names the edit. Like the tree, the file is
 * rebuilt from the store at each start (opened empty); it costs one offset per leaf in memory instead of the entry
 * (~4 kB). Appends are buffered and written in one call per batch of leaves (`flush`), and before any read.
 */
export class LeafEntryFile {
  private readonly fd: number;
  /** Byte offset of each entry in the file (pending ones included). */
  private readonly offsets: number[] = [];
  private end = 0;
  private written = 0;
  private pending: Buffer[] = [];
  private closed = false;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.fd = fs.openSync(file, 'w+', 0o600);
  }

  get count(): number {
    return this.offsets.length;
  }

  append(entry: Buffer): void {
    this.offsets.push(this.end);
    this.pending.push(entry);
    this.end += entry.length;
  }

  /** Writes the appended entries not written yet. */
  flush(): void {
    if (this.pending.length === 0 || this.closed) return;
    const bytes = Buffer.concat(this.pending);
    let done = 0;
    while (done < bytes.length) done += fs.writeSync(this.fd, bytes, done, bytes.length - done, this.written + done);
    this.written += bytes.length;
    this.pending = [];
  }

  /** The entries `first` .. `first + count - 1` (fewer when the file holds fewer). */
  read(first: number, count: number): Buffer[] {
    this.flush();
    const last = Math.min(this.offsets.length, first + count);
    if (first >= last) return [];
    const start = this.offsets[first];
    const stop = last < this.offsets.length ? this.offsets[last] : this.end;
    const bytes = Buffer.alloc(stop - start);
    let done = 0;
    while (done < bytes.length) {
      const read = fs.readSync(this.fd, bytes, done, bytes.length - done, start + done);
      if (read === 0) throw new Error(`${this.file} ends at ${start + done} bytes, before entry ${last - 1}: it was truncated behind this process`);
      done += read;
    }
    const entries: Buffer[] = [];
    for (let index = first; index < last; index++) {
      const to = index + 1 < this.offsets.length ? this.offsets[index + 1] : this.end;
      entries.push(bytes.subarray(this.offsets[index] - start, to - start));
    }
    return entries;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}
