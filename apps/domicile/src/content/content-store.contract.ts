/// <reference types="jest" />
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type ContentDigest, ContentNotFoundError, type ContentStore, ContentTooLargeError, contentDigestOf } from './content-store.port';

/** What the contract needs from an adapter besides the port: how to damage a stored content, and what lies around. */
export interface ContentStoreHarness {
  readonly store: ContentStore;
  /** Changes one stored byte of `digest` behind the store's back (a flipped bit on disk, an edited row). */
  corrupt(digest: ContentDigest): Promise<void>;
  /** Contents stored (blobs, not uploads) and leftovers of uploads (temp files, staged rows): both should be exact. */
  census(): Promise<{ readonly stored: number; readonly leftovers: number }>;
}

const MIB = 1024 * 1024;
const TEST_TIMEOUT_MS = 60_000;

/**
 * The behaviour every ContentStore adapter must share. `open` gives a fresh, empty store for the whole suite; after
 * the suite the store is closed, then `cleanup` runs (e.g. to delete a temp directory).
 */
export function contentStoreContract(adapterName: string, open: () => Promise<ContentStoreHarness>, cleanup?: () => Promise<void>): void {
  describe(`ContentStore contract: ${adapterName}`, () => {
    let harness: ContentStoreHarness;
    let store: ContentStore;

    beforeAll(async () => {
      harness = await open();
      store = harness.store;
    });
    afterAll(async () => {
      await store?.close();
      await cleanup?.();
    });

    describe('put and get', () => {
      it.each([
        ['0 B', 0],
        ['1 B', 1],
        ['one chunk exactly (256 KiB)', 256 * 1024],
        ['one chunk and a byte', 256 * 1024 + 1],
        ['5 MiB', 5 * MIB],
      ])(
        'round-trips %s of random bytes; the digest is the SHA-256 of the bytes',
        async (_, size) => {
          const bytes = randomBytes(size);

          const stored = await store.put(chunked(bytes, 16 * 1024 + 3), { maxBytes: 25 * MIB });

          expect(stored).toEqual({ digest: sha256(bytes), size, mediaType: 'application/octet-stream' });
          expectSameBytes(await readAll(await store.get(stored.digest)), bytes);
          expect(await store.stat(stored.digest)).toEqual({ digest: stored.digest, size });
          expect(await store.has(stored.digest)).toBe(true);
          expect(await store.verify(stored.digest)).toEqual({ digest: stored.digest, ok: true, actual: stored.digest, size });
        },
        TEST_TIMEOUT_MS,
      );

      it('answers the normalised declared media type, octet-stream when none', async () => {
        const pdf = await store.put(Readable.from([Buffer.from('%PDF-1.7 x')]), { maxBytes: 100, declaredMediaType: ' Application/PDF ' });
        const text = await store.put(Readable.from([Buffer.from('é')]), { maxBytes: 100, declaredMediaType: 'Text/Plain;charset=UTF-8' });
        const blank = await store.put(Readable.from([Buffer.from('z')]), { maxBytes: 100, declaredMediaType: '' });

        expect([pdf.mediaType, text.mediaType, blank.mediaType]).toEqual(['application/pdf', 'text/plain; charset=UTF-8', 'application/octet-stream']);
      });

      it('refuses a declared media type that is not one, reading nothing', async () => {
        await expect(store.put(Readable.from([Buffer.from('x')]), { maxBytes: 10, declaredMediaType: 'not a type' })).rejects.toMatchObject({
          kind: 'invalid',
          reasons: [expect.objectContaining({ rule: 'content.media-type' })],
        });
      });

      it('takes string chunks as UTF-8', async () => {
        const stored = await store.put(Readable.from(['ab', 'ç']), { maxBytes: 10 });
        expect(stored).toMatchObject({ digest: sha256(Buffer.from('abç', 'utf8')), size: 4 });
      });
    });

    describe('size limit', () => {
      it('accepts content of exactly maxBytes', async () => {
        const bytes = randomBytes(1000);
        const stored = await store.put(chunked(bytes, 333), { maxBytes: 1000 });
        expect(stored.size).toBe(1000);
        expectSameBytes(await readAll(await store.get(stored.digest)), bytes);
      });

      it('accepts an empty content with maxBytes 0', async () => {
        await expect(store.put(Readable.from([]), { maxBytes: 0 })).resolves.toMatchObject({ size: 0 });
      });

      it('refuses one byte over maxBytes with ContentTooLargeError, keeping nothing', async () => {
        const bytes = randomBytes(1001);
        const before = await harness.census();

        const outcome = store.put(chunked(bytes, 333), { maxBytes: 1000 });

        await expect(outcome).rejects.toBeInstanceOf(ContentTooLargeError);
        await expect(outcome).rejects.toMatchObject({ limit: 1000 });
        expect(await harness.census()).toEqual({ stored: before.stored, leftovers: 0 });
        expect(await store.has(sha256(bytes))).toBe(false);
        expect(await store.has(sha256(bytes.subarray(0, 1000)))).toBe(false);
      });

      it('stops reading the source at the limit (does not swallow an endless stream)', async () => {
        let produced = 0;
        const endless = new Readable({
          read() {
            produced += 64 * 1024;
            this.push(Buffer.alloc(64 * 1024, 7));
          },
        });

        await expect(store.put(endless, { maxBytes: MIB })).rejects.toBeInstanceOf(ContentTooLargeError);

        expect(produced).toBeLessThan(4 * MIB);
        expect(endless.destroyed).toBe(true);
        expect((await harness.census()).leftovers).toBe(0);
      });

      it('refuses a nonsensical maxBytes before reading', async () => {
        await expect(store.put(Readable.from([Buffer.from('x')]), { maxBytes: -1 })).rejects.toThrow(/maxBytes/);
        await expect(store.put(Readable.from([Buffer.from('x')]), { maxBytes: Number.NaN })).rejects.toThrow(/maxBytes/);
        expect((await harness.census()).leftovers).toBe(0);
      });
    });

    describe('failures while streaming', () => {
      it('rejects with the source error when the source breaks, keeping nothing', async () => {
        const before = await harness.census();
        let sent = 0;
        const broken = new Readable({
          read() {
            if (sent++ < 5) this.push(randomBytes(100 * 1024));
            else this.destroy(new Error('connection reset by peer'));
          },
        });

        await expect(store.put(broken, { maxBytes: 25 * MIB })).rejects.toThrow('connection reset by peer');

        expect(await harness.census()).toEqual({ stored: before.stored, leftovers: 0 });
      });
    });

    describe('deduplication and concurrency', () => {
      it('stores identical content once and answers the same digest', async () => {
        const bytes = randomBytes(300 * 1024);
        const before = await harness.census();

        const first = await store.put(chunked(bytes, 4096), { maxBytes: MIB });
        const second = await store.put(chunked(bytes, 100_000), { maxBytes: MIB, declaredMediaType: 'image/png' });

        expect(second).toEqual({ ...first, mediaType: 'image/png' });
        expect(await harness.census()).toEqual({ stored: before.stored + 1, leftovers: 0 });
        expectSameBytes(await readAll(await store.get(first.digest)), bytes);
      });

      it('takes concurrent puts of the same content safely', async () => {
        const bytes = randomBytes(MIB + 17);
        const before = await harness.census();

        const results = await Promise.all(Array.from({ length: 8 }, (_, index) => store.put(chunked(bytes, 8192 + index * 1000), { maxBytes: 2 * MIB })));

        expect(new Set(results.map((result) => result.digest))).toEqual(new Set([sha256(bytes)]));
        expect(await harness.census()).toEqual({ stored: before.stored + 1, leftovers: 0 });
        expectSameBytes(await readAll(await store.get(sha256(bytes))), bytes);
        expect((await store.verify(sha256(bytes))).ok).toBe(true);
      });

      it('takes concurrent puts of different contents, and reads them back concurrently', async () => {
        const contents = Array.from({ length: 6 }, (_, index) => randomBytes(200 * 1024 + index));

        const results = await Promise.all(contents.map((bytes) => store.put(chunked(bytes, 32 * 1024), { maxBytes: MIB })));
        const read = await Promise.all(results.map(async (result) => readAll(await store.get(result.digest))));

        expect(results.map((result) => result.digest)).toEqual(contents.map(sha256));
        read.forEach((bytes, index) => expectSameBytes(bytes, contents[index]));
        expect((await harness.census()).leftovers).toBe(0);
      });
    });

    describe('unknown digests', () => {
      const unknown = contentDigestOf('0'.repeat(64));

      it('get rejects with ContentNotFoundError (404-type)', async () => {
        const outcome = store.get(unknown);
        await expect(outcome).rejects.toBeInstanceOf(ContentNotFoundError);
        await expect(outcome).rejects.toMatchObject({ kind: 'not-found', digest: unknown });
      });

      it('stat answers undefined, has false, verify rejects with ContentNotFoundError', async () => {
        expect(await store.stat(unknown)).toBeUndefined();
        expect(await store.has(unknown)).toBe(false);
        await expect(store.verify(unknown)).rejects.toBeInstanceOf(ContentNotFoundError);
      });
    });

    describe('verify', () => {
      it('detects a stored content changed behind its back', async () => {
        const bytes = randomBytes(600 * 1024);
        const stored = await store.put(chunked(bytes, 65536), { maxBytes: MIB });
        expect((await store.verify(stored.digest)).ok).toBe(true);

        await harness.corrupt(stored.digest);
        const verdict = await store.verify(stored.digest);

        expect(verdict).toMatchObject({ digest: stored.digest, ok: false });
        expect(verdict.actual).not.toBe(stored.digest);
        expect(verdict.actual).toMatch(/^sha256:[0-9a-f]{64}$/);
      });
    });

    describe('memory', () => {
      it(
        'streams 50 MiB in and out with a flat footprint',
        async () => {
          const gc = exposeGc();
          const size = 50 * MIB;
          const expected = createHash('sha256');
          let peak = 0;
          const sample = () => {
            peak = Math.max(peak, process.memoryUsage().rss);
          };
          gc();
          const baseline = process.memoryUsage().rss;
          let produced = 0;
          let pulls = 0;
          const source = new Readable({
            highWaterMark: 64 * 1024,
            read() {
              if (produced >= size) {
                this.push(null);
                return;
              }
              const chunk = randomBytes(Math.min(64 * 1024, size - produced));
              produced += chunk.length;
              expected.update(chunk);
              if (++pulls % 64 === 0) {
                gc();
                sample();
              }
              this.push(chunk);
            },
          });

          const stored = await store.put(source, { maxBytes: size });
          gc();
          sample();
          const readBack = createHash('sha256');
          let readBytes = 0;
          for await (const chunk of await store.get(stored.digest)) {
            readBack.update(chunk as Buffer);
            readBytes += (chunk as Buffer).length;
            if (++pulls % 64 === 0) {
              gc();
              sample();
            }
          }

          expect(stored).toMatchObject({ digest: `sha256:${expected.digest('hex')}`, size });
          expect(readBytes).toBe(size);
          expect(`sha256:${readBack.digest('hex')}`).toBe(stored.digest);
          // Loose by design: a store that held the content whole would grow by ≥ 50 MiB.
          expect((peak - baseline) / MIB).toBeLessThan(40);
        },
        TEST_TIMEOUT_MS * 2,
      );
    });
  });
}

/** Buffer equality without Jest's element-by-element diff (minutes on megabytes). */
export function expectSameBytes(actual: Buffer, expected: Buffer): void {
  expect({ size: actual.length, digest: sha256(actual) }).toEqual({ size: expected.length, digest: sha256(expected) });
}

export function sha256(bytes: Buffer): ContentDigest {
  return contentDigestOf(createHash('sha256').update(bytes).digest('hex'));
}

/** A stream of `bytes` in chunks of `size` (object-free, like a socket or a file would give them). */
export function chunked(bytes: Buffer, size: number): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= bytes.length) {
        this.push(null);
        return;
      }
      const end = Math.min(offset + size, bytes.length);
      this.push(bytes.subarray(offset, end));
      offset = end;
    },
  });
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

/** global.gc without starting node with --expose-gc, so that the memory sample counts what is held, not garbage. */
function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
