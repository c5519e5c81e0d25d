import { HASH_SIZE } from './hash';

/**
 * The body of a c2sp.org/tlog-checkpoint: origin line, tree size in decimal (no leading zeroes), base64 root hash,
 * then optional non-empty extension lines; every line ends with a newline. It is the text of a signed note.
 */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  /** The RFC 9162 root hash of the tree at `size`, 32 bytes. */
  readonly rootHash: Buffer;
  readonly extensions: readonly string[];
}

export class CheckpointFormatError extends Error {
  constructor(message: string) {
    super(`Malformed checkpoint: ${message}`);
    this.name = 'CheckpointFormatError';
  }
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/** The checkpoint text (note body), ending with a newline. */
export function formatCheckpoint(checkpoint: { origin: string; size: number; rootHash: Uint8Array; extensions?: readonly string[] }): string {
  const { origin, size, rootHash, extensions = [] } = checkpoint;
  if (origin === '' || CONTROL.test(origin)) throw new CheckpointFormatError('the origin must be a non-empty line');
  if (!Number.isSafeInteger(size) || size < 0) throw new CheckpointFormatError(`tree size ${size} is not a non-negative integer`);
  if (rootHash.length !== HASH_SIZE) throw new CheckpointFormatError('the root hash must be 32 bytes');
  for (const line of extensions) if (line === '' || CONTROL.test(line)) throw new CheckpointFormatError('extension lines must be non-empty single lines');
  return [origin, String(size), Buffer.from(rootHash).toString('base64'), ...extensions].map((line) => `${line}\n`).join('');
}

/** Parses a checkpoint text (the note text, signatures already removed), strictly. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new CheckpointFormatError('the text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new CheckpointFormatError('origin, size and root hash lines are required');
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  if (origin === '') throw new CheckpointFormatError('the origin line is empty');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine) || !Number.isSafeInteger(Number(sizeLine)))
    throw new CheckpointFormatError(`tree size "${sizeLine}" is not a decimal integer without leading zeroes`);
  const rootHash = Buffer.from(rootLine, 'base64');
  if (rootHash.length !== HASH_SIZE || rootHash.toString('base64') !== rootLine)
    throw new CheckpointFormatError('the root hash line is not the base64 of 32 bytes');
  if (extensions.some((line) => line === '')) throw new CheckpointFormatError('extension lines must be non-empty');
  if (lines.some((line) => CONTROL.test(line))) throw new CheckpointFormatError('control characters are not allowed');
  return { origin, size: Number(sizeLine), rootHash, extensions };
}
