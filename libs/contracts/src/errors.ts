import type { Reason } from './trust/levels';

/**
 * A command refused by the domain. `code` is stable and machine-readable (e.g. `DEMO.NOTE_ALREADY_TAKEN`);
 * `reasons` say which party or rule failed, never private data.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly kind: 'conflict' | 'forbidden' | 'not-found' | 'invalid' = 'conflict',
    readonly reasons: readonly (Reason | string)[] = [],
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
