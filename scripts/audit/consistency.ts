import * as fs from 'node:fs';
import { type Checkpoint, type NoteVerifier, openNote, parseCheckpoint, verifyConsistency } from '@sigillum/tlog';
import { UsageError } from './errors';
import type { AuditClient } from './http';
import { keyIdOf } from './keys';

/** A checkpoint file: the signed note as GET /evidence-log/checkpoint serves it (or `npm run audit -- checkpoint` saved it). */
export function readNote(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!text.includes('\n\n\u2014 ')) throw new UsageError(`${file} is not a signed checkpoint note (text, blank line, "\u2014 <key> <signature>" lines)`);
  return text;
}

/** The proof file: the JSON answer of GET /evidence-log/consistency, or a bare array of base64 hashes. */
export function readProof(file: string): { proof: string[]; from?: number; to?: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read the proof ${file}: ${(error as Error).message}`);
  }
  const proof = Array.isArray(parsed) ? parsed : (parsed as { proof?: unknown })?.proof;
  if (!Array.isArray(proof) || !proof.every((hash) => typeof hash === 'string'))
    throw new UsageError(`${file} holds no proof (an array of base64 hashes, or { "proof": [...] })`);
  const sizes = Array.isArray(parsed) ? {} : (parsed as { from?: unknown; to?: unknown });
  return {
    proof: proof as string[],
    ...(typeof sizes.from === 'number' ? { from: sizes.from } : {}),
    ...(typeof sizes.to === 'number' ? { to: sizes.to } : {}),
  };
}

export interface ConsistencyResult {
  readonly valid: boolean;
  readonly lines: string[];
}

/** Both signatures, then the RFC 9162 consistency proof from the old tree to the new one. */
export async function checkConsistency(
  oldNote: string,
  newNote: string,
  verifier: NoteVerifier,
  proofOf: (from: number, to: number) => Promise<string[]>,
  labels: readonly [string, string] = ['old', 'new'],
): Promise<ConsistencyResult> {
  const lines = [`Log key: ${keyIdOf(verifier)}`];
  const open = (note: string, which: string): Checkpoint | null => {
    try {
      const checkpoint = parseCheckpoint(openNote(note, [verifier]).text);
      lines.push(`${which} checkpoint: ${checkpoint.origin} size ${checkpoint.size} root ${checkpoint.rootHash.toString('base64')} (signature ok)`);
      return checkpoint;
    } catch (error) {
      lines.push(`${which} checkpoint: signature.invalid: ${(error as Error).message}`);
      return null;
    }
  };
  const older = open(oldNote, labels[0]);
  const newer = open(newNote, labels[1]);
  if (!older || !newer) return { valid: false, lines: [...lines, 'INVALID: a checkpoint is not signed by the log key'] };
  if (older.origin !== newer.origin)
    return { valid: false, lines: [...lines, `INVALID: the checkpoints are of different logs (${older.origin}, ${newer.origin})`] };
  if (older.size > newer.size)
    return {
      valid: false,
      lines: [...lines, `INVALID: the "old" checkpoint (size ${older.size}) is larger than the "new" one (${newer.size}); swap them, or the log shrank`],
    };
  if (older.size === 0) return { valid: true, lines: [...lines, 'VALID: the old checkpoint is the empty tree; every tree extends it'] };
  const proof = older.size === newer.size ? [] : await proofOf(older.size, newer.size);
  const ok = verifyConsistency(
    older.size,
    newer.size,
    proof.map((hash) => Buffer.from(hash, 'base64')),
    older.rootHash,
    newer.rootHash,
  );
  lines.push(
    ok
      ? `VALID: the tree of ${newer.size} leaves extends the tree of ${older.size} (consistency proof of ${proof.length} hash(es)): nothing was removed or rewritten in between`
      : `INVALID: consistency.proof: the proof does not show the tree of ${newer.size} extending the tree of ${older.size}: the log was rewritten, or the proof is wrong`,
  );
  return { valid: ok, lines };
}

export async function serverProof(client: AuditClient, from: number, to: number): Promise<string[]> {
  const answer = await client.json<{ proof: string[] }>(`/evidence-log/consistency?from=${from}&to=${to}`);
  return answer.proof;
}
