import * as fs from 'node:fs';
import { type NoteVerifier, parseVerifierKey } from '@sigillum/tlog';
import { UsageError } from './errors';

/** A verifier key given on the command line: the vkey text itself, or a file holding it. */
export function keyText(option: string): string {
  const trimmed = option.trim();
  if (/^[^+\s]+\+[0-9a-f]{8}\+\S+$/.test(trimmed)) return trimmed;
  try {
    return fs.readFileSync(option, 'utf8').trim();
  } catch (error) {
    throw new UsageError(
      `--key "${option}" is neither a verifier key (<name>+<hex id>+<base64>) nor a readable file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

export function verifierOf(vkey: string, what: string): NoteVerifier {
  try {
    return parseVerifierKey(vkey);
  } catch (error) {
    throw new UsageError(`${what} is not a signed-note Ed25519 verifier key: ${(error as Error).message}`);
  }
}

export const keyIdOf = (verifier: NoteVerifier) => `${verifier.name}+${verifier.keyId.toString('hex')}`;
