import type { DomainEvent } from '../event';
import type { ChannelHint } from '../certifier/certifier.events';
import type { Reason, TrustLevel } from '../trust/levels';

/** Sessions with a private office: stream `session-<sessionId>`. */
export const SESSION_CATEGORY = 'session';

export type SessionRequested = DomainEvent<
  'SessionRequested',
  {
    readonly sessionId: string;
    readonly userId: string;
    readonly counterpartIds: readonly string[];
    readonly correspondenceKind: string;
    /** The preset level every party of the check must meet. */
    readonly levelRequired: TrustLevel;
    /** The channel the session runs on; the code must travel on another. */
    readonly sessionChannel: 'https';
    readonly requestedAt: string;
  }
>;

export type SessionDenied = DomainEvent<
  'SessionDenied',
  { readonly sessionId: string; readonly checkId: string | null; readonly reasons: readonly Reason[]; readonly deniedAt: string }
>;

/** The trust check passed and the domicile holds its form of the secret (the verifier, never the code). */
export type SessionChallengeIssued = DomainEvent<
  'SessionChallengeIssued',
  {
    readonly sessionId: string;
    readonly checkId: string;
    readonly issueNumber: number;
    readonly verifier: string;
    readonly verifierKeyId: string;
    readonly channel: ChannelHint;
    readonly expiresAt: string;
    readonly maxAttempts: number;
    readonly issuedAt: string;
  }
>;

export type SessionCodeRejected = DomainEvent<
  'SessionCodeRejected',
  {
    readonly sessionId: string;
    readonly attempt: number;
    readonly remainingAttempts: number;
    readonly rule: 'code.mismatch' | 'code.expired';
    readonly rejectedAt: string;
  }
>;

export type SessionLocked = DomainEvent<
  'SessionLocked',
  { readonly sessionId: string; readonly rule: string; readonly lockedAt: string; readonly lockedUntil: string | null }
>;

export type SessionCodeResendRequested = DomainEvent<'SessionCodeResendRequested', { readonly sessionId: string; readonly requestedAt: string }>;

/** The session is open; the credential went to the user once, only its SHA-256 digest is kept. */
export type SessionOpened = DomainEvent<
  'SessionOpened',
  {
    readonly sessionId: string;
    readonly credentialDigest: string;
    readonly openedAt: string;
    readonly idleTimeoutSeconds: number;
    readonly absoluteExpiresAt: string;
  }
>;

export type SessionClosed = DomainEvent<'SessionClosed', { readonly sessionId: string; readonly closedAt: string }>;

export type SessionExpired = DomainEvent<
  'SessionExpired',
  { readonly sessionId: string; readonly rule: 'session.idle' | 'session.absolute' | 'challenge.expired'; readonly expiredAt: string }
>;

export type SessionEvent =
  | SessionRequested
  | SessionDenied
  | SessionChallengeIssued
  | SessionCodeRejected
  | SessionLocked
  | SessionCodeResendRequested
  | SessionOpened
  | SessionClosed
  | SessionExpired;
