import * as fs from 'node:fs';
import { UsageError } from './errors';
import { parseJsonBytes } from './json-bytes';

export const BUNDLE_FORMAT = 'sigillum.audit-bundle/1';

/** One evidence record as the bundle carries it: GET /evidence/:id (record, JWS) joined with GET /evidence/:id/proof (leaf, proof). */
export interface BundleRecord {
  readonly evidenceId: string;
  readonly chainIndex: number;
  readonly eventName: string;
  readonly record: Record<string, unknown>;
  readonly recordDigest: string;
  readonly previousEvidenceDigest: string | null;
  /** The per-record JWS (certificate by x5t#S256 among signingCertificatePems, or x5c), when the server signs records one by one. */
  readonly jws?: string;
  readonly recordedAt?: string;
  /** Leaf index in the evidence log; null when the log had not read it. */
  readonly leafIndex: number | null;
  /** Base64 hashes, sibling first; null when the checkpoint did not cover the record. */
  readonly inclusionProof: string[] | null;
}

export interface BundleCheckpoint {
  /** The signed note (c2sp.org/tlog-checkpoint), verbatim. */
  readonly note: string;
  readonly signedAt?: string;
  /** RFC 3161 TimeStampToken over SHA-256 of the note, base64 DER, when the server time-stamps checkpoints. */
  readonly timeStampToken?: string;
}

export interface BundleCorrespondence {
  readonly correspondenceId: string;
  /** What the server had when exporting: the verifier checks that the bundle holds every record up to it. */
  readonly expected: { readonly recordCount: number; readonly lastChainIndex: number; readonly lastLeafIndex: number | null };
  readonly checkpoint: BundleCheckpoint | null;
  /** The log's signed statement (signed note, checkpoint key) of how many records it holds for the correspondence. */
  readonly completeness?: string | null;
  readonly records: BundleRecord[];
}

export interface Bundle {
  readonly format: typeof BUNDLE_FORMAT;
  readonly exportedAt: string;
  readonly server: string;
  /** The log's verifier key (c2sp.org/signed-note vkey), GET /evidence-log/key. */
  readonly verifierKey: string;
  /** The CA certificate (PEM), GET /ca/certificate: record JWS x5c and the TSA lead to it. */
  readonly caCertificatePem: string;
  /** TSA certificates carried by the time-stamps of the bundle (PEM), for reference. */
  readonly tsaCertificatePems: string[];
  /** The certifier's signing certificates (PEM) that per-record JWS name by x5t#S256; absent when no record is signed. */
  readonly signingCertificatePems?: string[];
  /**
   * Operator certificates (PEM) by `x5t#S256` (base64url SHA-256 of the DER), each once: the operators' signatures the
   * records quote (`processingTokens`) name their certificate by that thumbprint instead of carrying `x5c`.
   */
  readonly certificates?: Readonly<Record<string, string>>;
  readonly correspondences: BundleCorrespondence[];
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads a bundle file; anything that is not one is bad input (exit 2), not an invalid bundle. */
export function readBundle(file: string): Bundle {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseJsonBytes(bytes);
  } catch (error) {
    throw new UsageError(`${file} is not JSON: ${(error as Error).message}`);
  }
  if (!isObject(parsed) || parsed.format !== BUNDLE_FORMAT)
    throw new UsageError(`${file} is not an audit bundle (format "${BUNDLE_FORMAT}"); make one with "npm run audit -- export"`);
  if (typeof parsed.verifierKey !== 'string' || typeof parsed.caCertificatePem !== 'string' || !Array.isArray(parsed.correspondences)) {
    throw new UsageError(`${file} lacks verifierKey, caCertificatePem or correspondences`);
  }
  for (const item of parsed.correspondences) {
    if (!isObject(item) || typeof item.correspondenceId !== 'string' || !Array.isArray(item.records) || !isObject(item.expected)) {
      throw new UsageError(`${file}: every correspondence needs correspondenceId, expected and records`);
    }
  }
  return parsed as unknown as Bundle;
}
