import { createHash, randomUUID } from 'node:crypto';
import type { IdGenerator } from '@sigillum/contracts';

/** UUID v4 ids: KurrentDB requires event ids to be UUIDs, and they leak nothing about order or time. */
export const uuidGenerator: IdGenerator = { next: () => randomUUID() };

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
