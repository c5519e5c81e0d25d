import { chmod, mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { chunked, contentStoreContract, expectSameBytes, readAll, sha256 } from './content-store.contract';
import { FsContentStore } from './content-store.fs';
import { SqliteContentStore } from './content-store.sqlite';

async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sigillum-content-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Every regular file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath ?? entry.path, entry.name));
}

//////// Filesystem

let fsDir: { dir: string; remove: () => Promise<void> };
contentStoreContract(
  'filesystem',
  async () => {
    fsDir = await tempDir();
    const store = await FsContentStore.open({ directory: path.join(fsDir.dir, 'content') });
    return {
      store,
      corrupt: async (digest) => {
        const file = store.pathOf(digest);
        await chmod(file, 0o600);
        const handle = await open(file, 'r+');
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, 1000);
        byte[0] ^= 0x01;
        await handle.write(byte, 0, 1, 1000);
        await handle.close();
        await chmod(file, 0o400);
      },
      census: async () => ({
        stored: (await filesUnder(path.join(store.directory, 'sha256'))).length,
        leftovers: (await readdir(store.tempDirectory)).length,
      }),
    };
  },
  () => fsDir.remove(),
);

//////// SQLite

let sqliteDir: { dir: string; remove: () => Promise<void> };
contentStoreContract(
  'SQLite chunks',
  async () => {
    sqliteDir = await tempDir();
    const db = new Database(path.join(sqliteDir.dir, 'local.db'));
    db.pragma('journal_mode = WAL');
    const store = new SqliteContentStore({ db });
    const count = (sql: string) => Number(db.prepare(sql).pluck().get());
    return {
      store: {
        ...bind(store),
        close: async () => {
          await store.close();
          db.close();
        },
      },
      corrupt: async (digest) => {
        const blobId = db.prepare('SELECT blob_id FROM content_blobs WHERE digest = ?').pluck().get(digest);
        const data = db.prepare('SELECT data FROM content_chunks WHERE blob_id = ? AND seq = 1').pluck().get(blobId) as Buffer;
        data[10] ^= 0x01;
        db.prepare('UPDATE content_chunks SET data = ? WHERE blob_id = ? AND seq = 1').run(data, blobId);
      },
      census: async () => ({
        stored: count('SELECT count(*) FROM content_blobs'),
        leftovers:
          count('SELECT count(*) FROM content_uploads') + count('SELECT count(*) FROM content_chunks WHERE blob_id NOT IN (SELECT blob_id FROM content_blobs)'),
      }),
    };
  },
  () => sqliteDir.remove(),
);

/** The store's methods as an object (so the harness can override close). */
function bind(store: SqliteContentStore) {
  return {
    put: store.put.bind(store),
    get: store.get.bind(store),
    stat: store.stat.bind(store),
    has: store.has.bind(store),
    verify: store.verify.bind(store),
    health: store.health.bind(store),
    close: store.close.bind(store),
  };
}

//////// Adapter-specific behaviour

describe('FsContentStore', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('lays content out as sha256/ab/cd/<hex>, read-only (0400), with no temp file left', async () => {
    const store = await FsContentStore.open({ directory: path.join(dir.dir, 'content') });
    const bytes = Buffer.from('hello, registered world');

    const { digest } = await store.put(Readable.from([bytes]), { maxBytes: 100 });

    const hex = digest.slice('sha256:'.length);
    const file = path.join(dir.dir, 'content', 'sha256', hex.slice(0, 2), hex.slice(2, 4), hex);
    expect(store.pathOf(digest)).toBe(file);
    expect((await stat(file)).mode & 0o777).toBe(0o400);
    expect((await stat(path.join(dir.dir, 'content', 'sha256', hex.slice(0, 2)))).mode & 0o777).toBe(0o700);
    expect(await readdir(store.tempDirectory)).toEqual([]);
  });

  it('writes the temp file 0600 while the upload runs', async () => {
    const store = await FsContentStore.open({ directory: path.join(dir.dir, 'content') });
    let modes: number[] = [];
    let sent = false;
    const source = new Readable({
      read() {
        if (!sent) {
          sent = true;
          this.push(Buffer.alloc(1000, 1));
          return;
        }
        // The first chunk is written by now: look at the temp file before ending.
        setTimeout(async () => {
          const names = await readdir(store.tempDirectory);
          modes = await Promise.all(names.map(async (name) => (await stat(path.join(store.tempDirectory, name))).mode & 0o777));
          this.push(null);
        }, 20);
      },
    });

    await store.put(source, { maxBytes: 2000 });

    expect(modes).toEqual([0o600]);
  });

  it('replaces a stored file of the wrong size (truncated) with the good bytes on the next put', async () => {
    const store = await FsContentStore.open({ directory: path.join(dir.dir, 'content') });
    const bytes = Buffer.alloc(5000, 3);
    const { digest } = await store.put(Readable.from([bytes]), { maxBytes: 10_000 });
    await chmod(store.pathOf(digest), 0o600);
    await writeFile(store.pathOf(digest), bytes.subarray(0, 10));

    await store.put(Readable.from([bytes]), { maxBytes: 10_000 });

    expectSameBytes(await readAll(await store.get(digest)), bytes);
    expect((await store.verify(digest)).ok).toBe(true);
  });

  it('removes stale temp files of a crashed upload when it opens, and keeps fresh ones', async () => {
    const directory = path.join(dir.dir, 'content');
    const first = await FsContentStore.open({ directory });
    await writeFile(path.join(first.tempDirectory, 'crashed.part'), 'half');
    await writeFile(path.join(first.tempDirectory, 'running.part'), 'half');
    const { utimes } = await import('node:fs/promises');
    const old = new Date(Date.now() - 2 * 3_600_000);
    await utimes(path.join(first.tempDirectory, 'crashed.part'), old, old);

    const reopened = await FsContentStore.open({ directory });

    expect(await readdir(reopened.tempDirectory)).toEqual(['running.part']);
  });

  it('says which directory it cannot use', async () => {
    const file = path.join(dir.dir, 'not-a-dir');
    await writeFile(file, '');
    await expect(FsContentStore.open({ directory: path.join(file, 'content') })).rejects.toThrow(/Cannot use .*not-a-dir.*DATA_DIR \(or CONTENT_DIR\)/);
  });
});

describe('SqliteContentStore', () => {
  it('keeps chunks of chunkBytes rows and streams them back one by one', async () => {
    const store = new SqliteContentStore({ filename: ':memory:', chunkBytes: 1000 });
    const bytes = Buffer.alloc(3500, 9);

    const { digest } = await store.put(chunked(bytes, 333), { maxBytes: 10_000 });

    const sizes = store.database.prepare('SELECT length(data) FROM content_chunks ORDER BY seq').pluck().all();
    expect(sizes).toEqual([1000, 1000, 1000, 500]);
    const stream = await store.get(digest);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(chunks.map((chunk) => chunk.length)).toEqual([1000, 1000, 1000, 500]);
    expect(sha256(Buffer.concat(chunks))).toBe(digest);
    await store.close();
  });

  it('fails the read (rather than ending it short) and verify when a chunk row is missing', async () => {
    const store = new SqliteContentStore({ filename: ':memory:', chunkBytes: 1000 });
    const { digest } = await store.put(chunked(Buffer.alloc(3500, 9), 333), { maxBytes: 10_000 });
    store.database.prepare('DELETE FROM content_chunks WHERE seq = 2').run();

    await expect(readAll(await store.get(digest))).rejects.toThrow(/chunk 2 of 4 is missing/);
    await expect(store.verify(digest)).rejects.toThrow(/chunk 2 of 4 is missing/);
    await store.close();
  });

  it('leaves a shared handle open at close, and closes its own', async () => {
    const db = new Database(':memory:');
    await new SqliteContentStore({ db }).close();
    expect(db.open).toBe(true);
    db.close();

    const own = new SqliteContentStore({ filename: ':memory:' });
    await own.close();
    expect(own.database.open).toBe(false);
  });

  it('drops the staged rows of an upload that never finished once it is stale', async () => {
    const db = new Database(':memory:');
    new SqliteContentStore({ db });
    db.prepare('INSERT INTO content_uploads (blob_id, started_at) VALUES (?, ?)').run('crashed', Date.now() - 2 * 3_600_000);
    db.prepare('INSERT INTO content_chunks (blob_id, seq, data) VALUES (?, 0, ?)').run('crashed', Buffer.from('x'));
    db.prepare('INSERT INTO content_uploads (blob_id, started_at) VALUES (?, ?)').run('running', Date.now());

    new SqliteContentStore({ db });

    expect(db.prepare('SELECT blob_id FROM content_uploads').pluck().all()).toEqual(['running']);
    expect(db.prepare('SELECT count(*) FROM content_chunks').pluck().get()).toBe(0);
    db.close();
  });
});
