import type { Readable } from 'node:stream';
import { DomainError } from '@sigillum/contracts';

/**
 * Content (the parts of a correspondence) lives outside the event log, addressed by the SHA-256 of its bytes.
 * Events, evidence and projections carry only the digest `sha256:<64 lowercase hex>`; whoever holds the bytes can
 * check them against it. Adapters stream: a part is never held whole in memory.
 */
export type ContentDigest = `sha256:${string}`;

export interface PutContentOptions {
  /** Largest accepted size in bytes; one byte more and the put fails with ContentTooLargeError, storing nothing. */
  readonly maxBytes: number;
  /** The media type the uploader declared (e.g. the Content-Type header); `application/octet-stream` when absent. */
  readonly declaredMediaType?: string;
}

export interface StoredContent {
  readonly digest: ContentDigest;
  readonly size: number;
  /**
   * The normalised declared media type. It is not part of the stored bytes (the same bytes may be uploaded under two
   * types): whoever references the content keeps it beside the digest.
   */
  readonly mediaType: string;
}

export interface ContentStat {
  readonly digest: ContentDigest;
  readonly size: number;
}

export interface ContentVerification {
  readonly digest: ContentDigest;
  /** Whether the stored bytes still hash to `digest`. */
  readonly ok: boolean;
  /** What the stored bytes hash to now. */
  readonly actual: ContentDigest;
  /** Bytes read back. */
  readonly size: number;
}

/** The content store port: one contract suite (content-store.contract.ts) runs against every adapter. */
export interface ContentStore {
  /**
   * Streams `source` into the store while hashing it. Identical content is stored once (the second put answers the
   * same digest); concurrent puts of the same bytes are safe. Over `maxBytes`: rejects with ContentTooLargeError,
   * nothing is kept, and `source` is destroyed (callers that must still answer on it, like HTTP, pass a proxy).
   */
  put(source: Readable, options: PutContentOptions): Promise<StoredContent>;
  /** A stream of the stored bytes; rejects with ContentNotFoundError when absent (before any byte is sent). */
  get(digest: ContentDigest): Promise<Readable>;
  /** Size of a stored content, or `undefined` when absent. */
  stat(digest: ContentDigest): Promise<ContentStat | undefined>;
  has(digest: ContentDigest): Promise<boolean>;
  /** Re-hashes the stored bytes (streaming) to detect corruption; rejects with ContentNotFoundError when absent. */
  verify(digest: ContentDigest): Promise<ContentVerification>;
  /** Liveness for `GET /health`-style checks. */
  health(): Promise<{ up: boolean; detail?: string }>;
  close(): Promise<void>;
}

export const CONTENT_STORE = Symbol('ContentStore');

export const DEFAULT_MEDIA_TYPE = 'application/octet-stream';

/** The content is larger than the limit; nothing was stored. */
export class ContentTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`The content is larger than the limit of ${limit} bytes; nothing was stored. Send a smaller part or split it.`);
    this.name = 'ContentTooLargeError';
  }
}

export const ContentErrors = {
  notFound: 'CONTENT.NOT_FOUND',
  invalidDigest: 'CONTENT.INVALID_DIGEST',
  invalidMediaType: 'CONTENT.INVALID_MEDIA_TYPE',
  forbidden: 'CONTENT.FORBIDDEN',
} as const;

/** No content has this digest (404 over HTTP). */
export class ContentNotFoundError extends DomainError {
  constructor(readonly digest: string) {
    super(ContentErrors.notFound, 'No content has this digest', 'not-found', [{ rule: 'content.unknown', message: `No content is stored under ${digest}` }]);
    this.name = 'ContentNotFoundError';
  }
}

const DIGEST = /^sha256:([0-9a-f]{64})$/;

export function isContentDigest(value: string): value is ContentDigest {
  return DIGEST.test(value);
}

/** Checks a digest as received from outside; throws a DomainError `invalid` (400) naming the rule otherwise. */
export function parseContentDigest(value: string, field = 'digest'): ContentDigest {
  if (isContentDigest(value)) return value;
  throw new DomainError(ContentErrors.invalidDigest, 'The digest is not of the form sha256:<64 lowercase hex>', 'invalid', [
    { rule: 'content.digest', message: `${field} must be "sha256:" followed by 64 lowercase hexadecimal digits` },
  ]);
}

/** The 64 hex digits of a digest. */
export function digestHex(digest: ContentDigest): string {
  return digest.slice('sha256:'.length);
}

export function contentDigestOf(hex: string): ContentDigest {
  return `sha256:${hex}`;
}

// RFC 9110 §8.3.1: type "/" subtype *( OWS ";" OWS parameter ), tokens of tchar.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^(${TOKEN})/(${TOKEN})((?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"(?:[^"\\\\]|\\\\.)*"))*)[ \\t]*$`);

/**
 * Normalises a declared media type: absent or blank gives `application/octet-stream`; type and subtype are lowercased,
 * parameters kept as sent (trimmed). Anything that is not a media type is refused (400), never silently replaced.
 */
export function normalizeMediaType(declared: string | undefined): string {
  if (declared === undefined || declared.trim() === '') return DEFAULT_MEDIA_TYPE;
  const trimmed = declared.trim();
  const match = trimmed.length <= 255 ? MEDIA_TYPE.exec(trimmed) : null;
  if (!match) {
    throw new DomainError(ContentErrors.invalidMediaType, 'The declared media type is not valid', 'invalid', [
      { rule: 'content.media-type', message: 'Content-Type must be a media type such as "application/pdf" (at most 255 characters)' },
    ]);
  }
  const params = match[3]
    .split(';')
    .map((part) => part.trim())
    .filter(Boolean);
  return [`${match[1].toLowerCase()}/${match[2].toLowerCase()}`, ...params].join('; ');
}
