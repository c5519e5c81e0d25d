import * as path from 'node:path';
import { ConfigError } from '@sigillum/config';

/** The content store's validated configuration. */
export const CONTENT_CONFIG = Symbol('ContentConfig');

export type ContentStoreKind = 'fs' | 'sqlite';

export interface ContentConfig {
  readonly store: ContentStoreKind;
  /** Largest content part accepted, in bytes. */
  readonly maxBytes: number;
  /** Root of the filesystem store (used with `store: 'fs'`). */
  readonly directory: string;
}

export const MIB = 1024 * 1024;
/** Upper bound of CONTENT_MAX_BYTES: 4 GiB. */
export const MAX_CONTENT_LIMIT = 4 * 1024 * MIB;

/** Every variable the content store reads, with its default and meaning (same shape as @sigillum/config ENVIRONMENT). */
export const CONTENT_ENVIRONMENT = {
  CONTENT_STORE: { default: 'fs', help: 'where content parts live: fs (files under CONTENT_DIR) or sqlite (chunked rows in the local SQLite file)' },
  CONTENT_MAX_BYTES: { default: String(25 * MIB), help: 'largest content part accepted: bytes, or a number with KiB, MiB or GiB (1 B to 4 GiB)' },
  CONTENT_DIR: { default: '<DATA_DIR>/content', help: 'root of the fs content store (sha256/ab/cd/<hex> files and tmp/)' },
} as const;

const UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: MIB, gib: 1024 * MIB };

/** `26214400`, `25MiB`, `512 KiB`, `1GiB` → bytes; undefined when it is none of these. */
export function parseByteSize(raw: string): number | undefined {
  const match = /^(\d+)\s*(b|kib|mib|gib)?$/i.exec(raw.trim());
  if (!match) return undefined;
  const value = Number(match[1]) * UNITS[(match[2] ?? '').toLowerCase()];
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Reads and validates the content variables; throws ConfigError naming every problem at once. */
export function loadContentConfig(env: Readonly<Record<string, string | undefined>>, dataDir: string): ContentConfig {
  const problems: string[] = [];
  const read = (name: keyof typeof CONTENT_ENVIRONMENT) => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };

  const store = (read('CONTENT_STORE') ?? CONTENT_ENVIRONMENT.CONTENT_STORE.default) as ContentStoreKind;
  if (store !== 'fs' && store !== 'sqlite') {
    problems.push(`CONTENT_STORE="${store}" must be one of fs, sqlite (${CONTENT_ENVIRONMENT.CONTENT_STORE.help})`);
  }

  const rawMax = read('CONTENT_MAX_BYTES') ?? CONTENT_ENVIRONMENT.CONTENT_MAX_BYTES.default;
  const maxBytes = parseByteSize(rawMax);
  if (maxBytes === undefined || maxBytes < 1 || maxBytes > MAX_CONTENT_LIMIT) {
    problems.push(`CONTENT_MAX_BYTES="${rawMax}" must be between 1 and ${MAX_CONTENT_LIMIT} bytes, e.g. 26214400 or 25MiB`);
  }

  const directory = path.resolve(read('CONTENT_DIR') ?? path.join(dataDir, 'content'));

  if (problems.length > 0) throw new ConfigError(problems);
  return { store, maxBytes: maxBytes as number, directory };
}
