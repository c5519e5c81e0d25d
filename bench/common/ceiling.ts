/**
 * The ceiling a delivery benchmark compares the product with, measured in the same run on the same machine: raw
 * better-sqlite3 inserts of the very events the deliveries wrote, batched (BATCH rows per transaction, WAL, the
 * product's synchronous setting), and raw node:crypto operations of one delivery (its Ed25519 and RSA-2048
 * signatures and verifications) on one core. Ceiling (deliveries/s) = min(raw store, raw crypto).
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { RecordedEvent } from '@sigillum/contracts';
import Database from 'better-sqlite3';
import type { CryptoCounts } from './crypto-count';

/** Rows per transaction of the raw store ceiling. */
export const BATCH = 500;

/** Fields that hold a signature (JWS, detached JWS, RFC 3161 token, the evidence log's signed note) in the events a delivery writes. */
const SIGNATURE_FIELDS = new Set(['signature', 'jws', 'sealJws', 'proof', 'validationProof', 'timeStampToken', 'note']);

/** Signatures held by events (the same proof copied into another event counted once): RFC 3161 tokens are RSA, the rest Ed25519. */
export function countSignatures(value: unknown): { ed25519: number; rsa: number } {
  const counts = { ed25519: 0, rsa: 0 };
  const seen = new Set<string>();
  const visit = (node: unknown, key?: string) => {
    if (typeof node === 'string' && key && SIGNATURE_FIELDS.has(key)) {
      if (seen.has(node)) return;
      seen.add(node);
      if (key === 'timeStampToken') counts.rsa += 1;
      else counts.ed25519 += 1;
    } else if (Array.isArray(node)) node.forEach((item) => visit(item));
    else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) visit(v, k);
  };
  visit(value);
  return counts;
}

/** Milliseconds to insert `events` with raw better-sqlite3, `BATCH` rows per transaction, into a fresh file under `dir`. */
export function rawBatchedInsertMs(dir: string, synchronous: 'NORMAL' | 'FULL', events: readonly RecordedEvent[]): number {
  const db = new Database(path.join(dir, `raw-ceiling-${process.pid}-${Date.now()}.db`));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.exec(
      'CREATE TABLE raw_events (id INTEGER PRIMARY KEY, stream_id TEXT, stream_revision INTEGER, event_id TEXT, event_type TEXT, data TEXT, metadata TEXT)',
    );
    const insert = db.prepare('INSERT INTO raw_events (stream_id, stream_revision, event_id, event_type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)');
    const append = db.transaction((batch: readonly RecordedEvent[]) => {
      for (const recorded of batch) {
        insert.run(
          recorded.streamId,
          recorded.streamRevision,
          recorded.metadata.eventId,
          recorded.event.type,
          JSON.stringify(recorded.event.data),
          JSON.stringify(recorded.metadata),
        );
      }
    });
    const started = performance.now();
    for (let i = 0; i < events.length; i += BATCH) append.immediate(events.slice(i, i + BATCH));
    return performance.now() - started;
  } finally {
    db.close();
  }
}

/** Raw node:crypto operations per second on one core, 200-byte messages: Ed25519, and RSA-2048 PKCS#1 v1.5 SHA-256. */
export interface CryptoRates {
  readonly ed25519Sign: number;
  readonly ed25519Verify: number;
  readonly rsaSign: number;
  readonly rsaVerify: number;
}

export function rawCryptoRates(): CryptoRates {
  const ed = generateKeyPairSync('ed25519');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const message = Buffer.alloc(200, 7);
  const rate = (run: () => void, count: number) => {
    for (let i = 0; i < Math.min(200, count); i++) run();
    const started = performance.now();
    for (let i = 0; i < count; i++) run();
    return count / ((performance.now() - started) / 1000);
  };
  const edSignature = sign(null, message, ed.privateKey);
  const rsaSignature = sign('sha256', message, rsa.privateKey);
  const check = (ok: boolean) => {
    if (!ok) throw new Error('raw crypto ceiling: a signature did not verify');
  };
  return {
    ed25519Sign: rate(() => sign(null, message, ed.privateKey), 5_000),
    ed25519Verify: rate(() => check(verify(null, message, ed.publicKey, edSignature)), 5_000),
    rsaSign: rate(() => sign('sha256', message, rsa.privateKey), 500),
    rsaVerify: rate(() => check(verify('sha256', message, rsa.publicKey, rsaSignature)), 5_000),
  };
}

/** What one delivery costs in raw crypto: operations per delivery by kind. */
export interface CryptoPerDelivery {
  readonly ed25519Sign: number;
  readonly ed25519Verify: number;
  readonly rsaSign: number;
  readonly rsaVerify: number;
}

/**
 * Per-delivery operations: signatures from the events (what the delivery leaves behind; more when node:crypto saw
 * more), verifications from the node:crypto calls counted in the timed phase (crypto-count.ts).
 */
export function cryptoPerDelivery(signatures: { ed25519: number; rsa: number }, counted: CryptoCounts, deliveries: number): CryptoPerDelivery {
  const of = (name: string) => (counted[name] ?? 0) / deliveries;
  return {
    ed25519Sign: Math.max(signatures.ed25519 / deliveries, of('sign ed25519')),
    ed25519Verify: of('verify ed25519'),
    rsaSign: Math.max(signatures.rsa / deliveries, of('sign rsa')),
    rsaVerify: of('verify rsa'),
  };
}

/** Deliveries per second one core could do if it did nothing but these crypto operations. */
export function cryptoCeiling(per: CryptoPerDelivery, rates: CryptoRates): number {
  const seconds = per.ed25519Sign / rates.ed25519Sign + per.ed25519Verify / rates.ed25519Verify + per.rsaSign / rates.rsaSign + per.rsaVerify / rates.rsaVerify;
  return seconds > 0 ? 1 / seconds : Infinity;
}

/** The machine-readable last line: `RESULT k=v ...`, numbers with at most 2 decimals. */
export function resultLine(fields: Record<string, number>): string {
  const value = (n: number) => (Number.isFinite(n) ? String(Math.round(n * 100) / 100) : '0');
  return `RESULT ${Object.entries(fields)
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ')}`;
}
