import { createHash } from 'node:crypto';
import { OID } from './der';

/**
 * The vocabulary shared by the RFC 3161 builder, parser and verifier: hash algorithms and their OIDs, PKIStatus
 * and PKIFailureInfo, the message imprint and its rule, and TimeStampError.
 */

export const TIME_STAMP_HASH_ALGORITHMS = ['sha256', 'sha384', 'sha512'] as const;
export type TimeStampHashAlgorithm = (typeof TIME_STAMP_HASH_ALGORITHMS)[number];

export const HASH_OID: Readonly<Record<TimeStampHashAlgorithm, string>> = { sha256: OID.sha256, sha384: OID.sha384, sha512: OID.sha512 };
const HASH_LENGTH: Readonly<Record<TimeStampHashAlgorithm, number>> = { sha256: 32, sha384: 48, sha512: 64 };
export const HASH_OF_OID: Readonly<Record<string, TimeStampHashAlgorithm>> = { [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512' };

/** PKIFailureInfo bits (RFC 3161 §2.4.2). */
export const TIME_STAMP_FAILURES = {
  badAlg: 0,
  badRequest: 2,
  badDataFormat: 5,
  timeNotAvailable: 14,
  unacceptedPolicy: 15,
  unacceptedExtension: 16,
  addInfoNotAvailable: 17,
  systemFailure: 25,
} as const;
export type TimeStampFailure = keyof typeof TIME_STAMP_FAILURES;

/** PKIStatus values (RFC 3161 §2.4.2). */
export const PKI_STATUS = { granted: 0, grantedWithMods: 1, rejection: 2, waiting: 3, revocationWarning: 4, revocationNotification: 5 } as const;

export interface MessageImprint {
  readonly hashAlgorithm: TimeStampHashAlgorithm;
  readonly hashedMessage: Buffer;
}

export interface TimeStampAccuracy {
  readonly seconds?: number;
  /** 1 to 999. */
  readonly millis?: number;
  /** 1 to 999. */
  readonly micros?: number;
}

/** Bad input to the TSA, an unacceptable request, or a token that does not verify. `failure` is set for request problems. */
export class TimeStampError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly failure?: TimeStampFailure,
  ) {
    super(message);
    this.name = 'TimeStampError';
  }
}

/** The imprint rule: an accepted hash algorithm and a digest of its length (badAlg, badDataFormat otherwise). */
export function checkImprint(imprint: MessageImprint | undefined): void {
  if (!imprint || !(TIME_STAMP_HASH_ALGORITHMS as readonly string[]).includes(imprint.hashAlgorithm)) {
    throw new TimeStampError('imprint.algorithm', `The message imprint's hash algorithm must be one of ${TIME_STAMP_HASH_ALGORITHMS.join(', ')}`, 'badAlg');
  }
  if (!Buffer.isBuffer(imprint.hashedMessage) || imprint.hashedMessage.length !== HASH_LENGTH[imprint.hashAlgorithm]) {
    throw new TimeStampError(
      'imprint.length',
      `A ${imprint.hashAlgorithm} imprint has ${HASH_LENGTH[imprint.hashAlgorithm]} bytes, not ${Buffer.isBuffer(imprint.hashedMessage) ? imprint.hashedMessage.length : 'a non-Buffer'}`,
      'badDataFormat',
    );
  }
}

/** The SHA-256 message imprint of `data`. */
export function sha256Imprint(data: Buffer | string): MessageImprint {
  return { hashAlgorithm: 'sha256', hashedMessage: createHash('sha256').update(data).digest() };
}
