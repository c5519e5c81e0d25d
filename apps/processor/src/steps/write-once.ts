import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface WrittenFile {
  /** The bytes the file holds now: ours, or those of the writer that created it first. */
  readonly bytes: Buffer;
  readonly created: boolean;
}

/**
 * Creates `file` with `bytes` unless it exists, atomically: the bytes go to a temporary file first, then a hard
 * link makes them visible under the final name (EEXIST when another attempt got there first). A redelivered or
 * concurrent attempt of the same step therefore finds the first package, never a half-written or a second one.
 * `durable`: fsync the file and its directory before returning (SQLITE_SYNCHRONOUS=FULL).
 */
export function writeOnce(file: string, bytes: Buffer, durable = false): WrittenFile {
  const directory = path.dirname(file);
  fs.mkdirSync(directory, { recursive: true });
  const temporary = path.join(directory, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const descriptor = fs.openSync(temporary, 'wx', 0o644);
  try {
    fs.writeSync(descriptor, bytes);
    if (durable) fs.fsyncSync(descriptor);
  } finally {
    fs.closeSync(descriptor);
  }
  let created = false;
  try {
    fs.linkSync(temporary, file);
    created = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    fs.unlinkSync(temporary);
  }
  if (created && durable) {
    const directoryDescriptor = fs.openSync(directory, 'r');
    try {
      fs.fsyncSync(directoryDescriptor);
    } finally {
      fs.closeSync(directoryDescriptor);
    }
  }
  return { bytes: created ? bytes : fs.readFileSync(file), created };
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Whether an id may name a file or a directory (no separators, no `..`). */
export function isSafeFileName(name: string): boolean {
  return SAFE_NAME.test(name) && !name.includes('..');
}
