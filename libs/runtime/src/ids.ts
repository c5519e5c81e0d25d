import { createHash, randomFillSync } from 'node:crypto';
import type { IdGenerator } from '@sigillum/contracts';

/** Random bytes drawn 4 kB at a time (one call into OpenSSL per 256 ids, as node:crypto's own randomUUID does). */
const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let drawn = POOL_IDS;

/**
 * A UUID version 7 (RFC 9562 §5.7): the first 48 bits are the Unix time in milliseconds, the other 74 bits (beside
 * version and variant) random. Why not version 4: every id becomes a key of some index (events by event id, the
 * bus's messages by id, projections by event, streams and read models by correspondence, draft, session…). Random
 * keys land on a random leaf page of each index, so each insert dirtied a page of its own, written to the WAL at
 * every commit and copied back by the checkpointer: ~2.3 MB written per delivery for ~48 kB of events. Ids made
 * in the same second share the right edge of each index instead. What they tell: the millisecond they were made,
 * which any holder of an id can already read from the events it names (every event carries its time); 74 random
 * bits still leave them unguessable, and no id is a secret (credentials, codes and keys are drawn separately).
 */
export function timeOrderedUuid(now: number = Date.now()): string {
  if (drawn === POOL_IDS) {
    randomFillSync(pool);
    drawn = 0;
  }
  const at = drawn++ * 16;
  const bytes = pool.subarray(at, at + 16);
  bytes.writeUIntBE(Math.max(0, Math.trunc(now)) % 2 ** 48, 0, 6);
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The ids of every event and entity: UUID v7 (see timeOrderedUuid); KurrentDB requires event ids to be UUIDs. */
export const uuidGenerator: IdGenerator = { next: () => timeOrderedUuid() };

/**
 * A UUID (v5 layout, SHA-1) derived from a name: the same name always yields the same id. Used where a retried
 * request must find what its first attempt created (a trust check per session, a correspondence per submission key).
 */
export function nameBasedId(name: string): string {
  const hash = createHash('sha1').update(`sigillum.certifier:${name}`, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
