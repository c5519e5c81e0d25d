import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ContentTooLargeError } from './content-store.port';

export interface Metered {
  /** SHA-256 of every byte read, lowercase hex. */
  readonly hex: string;
  readonly size: number;
}

export function assertMaxBytes(maxBytes: number): void {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new TypeError(`maxBytes must be a non-negative integer, got ${String(maxBytes)}`);
  }
}

/**
 * Reads `source` chunk by chunk (backpressure: the next chunk is read once `sink` has taken the previous one),
 * hashing and counting as it goes. One byte over `maxBytes` and it throws ContentTooLargeError before handing that
 * chunk to `sink`. When it throws (limit, source error, sink error) the source stream is destroyed.
 */
export async function readMetered(source: Readable, maxBytes: number, sink: (chunk: Buffer) => Promise<void> | void): Promise<Metered> {
  assertMaxBytes(maxBytes);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of source as AsyncIterable<Buffer | string>) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (buffer.length === 0) continue;
    size += buffer.length;
    if (size > maxBytes) throw new ContentTooLargeError(maxBytes);
    hash.update(buffer);
    await sink(buffer);
  }
  return { hex: hash.digest('hex'), size };
}

/** SHA-256 and size of a stream's bytes, without a limit. */
export async function hashStream(source: Readable): Promise<Metered> {
  return readMetered(source, Number.MAX_SAFE_INTEGER, () => undefined);
}
