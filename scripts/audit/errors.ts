/** The exit codes of `npm run audit`, as --help and the README document them. */
export const EXIT = {
  /** Everything checked holds. */
  VALID: 0,
  /** Something checked does not hold (a record, a proof, a signature, a truncation); the report names it. */
  INVALID: 1,
  /** The command line or an input file is wrong (unreadable, not JSON, not a bundle). */
  USAGE: 2,
  /** The server could not be reached, or refused (401/403/5xx). */
  SERVER: 3,
} as const;

export const EXIT_CODES_HELP = `
Exit status:
  0  valid: every check passed
  1  invalid: a check failed (the failing record, proof or signature is named)
  2  usage or bad input: wrong options, unreadable or malformed file
  3  server unreachable, or it refused (401/403, 5xx)`;

/** Wrong command line or input: exit 2. */
export class UsageError extends Error {}

/** The server could not be reached or refused: exit 3. */
export class ServerError extends Error {}
