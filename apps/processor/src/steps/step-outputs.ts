import { createHash } from 'node:crypto';
import type { StepOutput } from '@sigillum/contracts';
import { canonicalize } from '@sigillum/crypto';

export type SealOutput = Extract<StepOutput, { step: 'seal' }>;
export type TimestampOutput = Extract<StepOutput, { step: 'timestamp' }>;
export type DeliverOutput = Extract<StepOutput, { step: 'deliver' }>;
export type ArchiveOutput = Extract<StepOutput, { step: 'archive' }>;
export type PrintAndPostOutput = Extract<StepOutput, { step: 'print-and-post' }>;

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 hex of the RFC 8785 canonical JSON of `value`: a token's digest, a step's output digest. */
export function canonicalDigest(value: unknown): string {
  return sha256Hex(canonicalize(value));
}
