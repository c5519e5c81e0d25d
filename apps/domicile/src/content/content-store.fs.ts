import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, type FileHandle, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import {
  type ContentDigest,
  ContentNotFoundError,
  type ContentStat,
  type ContentStore,
  type ContentVerification,
  contentDigestOf,
  digestHex,
  normalizeMediaType,
  type PutContentOptions,
  type StoredContent,
} from './content-store.port';
import { hashStream, readMetered } from './content-stream';

export interface FsContentStoreOptions {
  /** Root of the store, e.g. `<DATA_DIR>/content`: blobs go under `sha256/ab/cd/<hex>`, uploads in progress under `tmp/`. */
  readonly directory: string;
  /** Temp files older than this are the leftovers of a crash and are removed when the store opens; default 1 hour. */
  readonly staleTempMs?: number;
}

const READ_CHUNK = 64 * 1024;

/**
 * Content-addressed files: `<directory>/sha256/ab/cd/<hex>`. A put streams into `<directory>/tmp/<uuid>.part`
 * (same filesystem, mode 0600) while hashing, fsyncs it, makes it read-only (0400) and renames it into place
 * (atomic), then fsyncs the directory. A reader never sees a partial file; two puts of the same bytes race only to
 * rename identical files over each other; a put of bytes already stored keeps the existing file.
 */
export class FsContentStore implements ContentStore {
  private readonly blobs: string;
  private readonly temp: string;
  private closed = false;

  private constructor(readonly directory: string) {
    this.blobs = path.join(directory, 'sha256');
    this.temp = path.join(directory, 'tmp');
  }

  /** Creates the directories (0700) and removes stale temp files. */
  static async open(options: FsContentStoreOptions): Promise<FsContentStore> {
    const store = new FsContentStore(path.resolve(options.directory));
    try {
      await mkdir(store.blobs, { recursive: true, mode: 0o700 });
      await mkdir(store.temp, { recursive: true, mode: 0o700 });
      await access(store.directory, fsConstants.W_OK);
    } catch (error) {
      throw new Error(
        `Cannot use ${store.directory} for content: ${(error as Error).message}. ` + 'Check that DATA_DIR (or CONTENT_DIR) points to a writable place.',
      );
    }
    await store.removeStaleTemps(options.staleTempMs ?? 3_600_000);
    return store;
  }

  /** Where the bytes of `digest` live (whether or not they are there). */
  pathOf(digest: ContentDigest): string {
    const hex = digestHex(digest);
    return path.join(this.blobs, hex.slice(0, 2), hex.slice(2, 4), hex);
  }

  /** The directory of uploads in progress (for tests and ops: it should be empty at rest). */
  get tempDirectory(): string {
    return this.temp;
  }

  async put(source: Readable, options: PutContentOptions): Promise<StoredContent> {
    this.assertOpen();
    const mediaType = normalizeMediaType(options.declaredMediaType);
    const tempPath = path.join(this.temp, `${randomUUID()}.part`);
    let handle: FileHandle | undefined;
    try {
      handle = await open(tempPath, 'wx', 0o600);
      const file = handle;
      const { hex, size } = await readMetered(source, options.maxBytes, (chunk) => writeFully(file, chunk));
      await file.sync();
      await file.close();
      handle = undefined;

      const digest = contentDigestOf(hex);
      const target = this.pathOf(digest);
      const existing = await stat(target).catch(() => undefined);
      if (existing?.isFile() && existing.size === size) {
        await rm(tempPath, { force: true });
        return { digest, size, mediaType };
      }
      await chmod(tempPath, 0o400);
      await this.ensureDirectory(path.dirname(target));
      await rename(tempPath, target);
      await fsyncDirectory(path.dirname(target));
      return { digest, size, mediaType };
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await rm(tempPath, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  async get(digest: ContentDigest): Promise<Readable> {
    this.assertOpen();
    const handle = await this.openBlob(digest);
    return handle.createReadStream({ highWaterMark: READ_CHUNK, autoClose: true });
  }

  async stat(digest: ContentDigest): Promise<ContentStat | undefined> {
    this.assertOpen();
    try {
      const info = await stat(this.pathOf(digest));
      return info.isFile() ? { digest, size: info.size } : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async has(digest: ContentDigest): Promise<boolean> {
    return (await this.stat(digest)) !== undefined;
  }

  async verify(digest: ContentDigest): Promise<ContentVerification> {
    this.assertOpen();
    const handle = await this.openBlob(digest);
    const { hex, size } = await hashStream(handle.createReadStream({ highWaterMark: READ_CHUNK, autoClose: true }));
    const actual = contentDigestOf(hex);
    return { digest, ok: actual === digest, actual, size };
  }

  async health(): Promise<{ up: boolean; detail?: string }> {
    if (this.closed) return { up: false, detail: 'closed' };
    try {
      await access(this.temp, fsConstants.W_OK);
      return { up: true, detail: this.directory };
    } catch (error) {
      return { up: false, detail: (error as Error).message };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async openBlob(digest: ContentDigest): Promise<FileHandle> {
    try {
      return await open(this.pathOf(digest), 'r');
    } catch (error) {
      if (isNotFound(error)) throw new ContentNotFoundError(digest);
      throw error;
    }
  }

  /** mkdir -p (0700), then fsync the parent of every directory it created so that the new entries survive a crash. */
  private async ensureDirectory(directory: string): Promise<void> {
    const first = await mkdir(directory, { recursive: true, mode: 0o700 });
    if (first === undefined) return;
    for (let created = directory; ; created = path.dirname(created)) {
      await fsyncDirectory(path.dirname(created));
      if (created === first || path.dirname(created) === created) break;
    }
  }

  private async removeStaleTemps(staleMs: number): Promise<void> {
    const now = Date.now();
    for (const name of await readdir(this.temp)) {
      const file = path.join(this.temp, name);
      const info = await stat(file).catch(() => undefined);
      if (info && now - info.mtimeMs > staleMs) await rm(file, { force: true }).catch(() => undefined);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('The content store is closed');
  }
}

async function writeFully(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
