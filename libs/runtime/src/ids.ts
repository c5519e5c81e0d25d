import { randomUUID } from 'node:crypto';
import type { IdGenerator } from '@sigillum/contracts';

/** UUID v4 ids: KurrentDB requires event ids to be UUIDs, and they leak nothing about order or time. */
export const uuidGenerator: IdGenerator = { next: () => randomUUID() };
