import type { ChannelHint, Reason, SubjectVerdict, TrustLevel } from '@sigillum/contracts';

// What the session decider is asked (see session.decider.ts), and the policy it applies.

//////// Policy (from DomicileConfig)

export interface SessionPolicy {
  /** The preset level every party of the session's trust check must meet (claim 1, 1f). */
  readonly presetLevel: TrustLevel;
  /** Names of the known correspondence kinds. */
  readonly correspondenceKinds: readonly string[];
  readonly maxCounterparts: number;
  /** Wrong codes allowed per challenge before the session is locked. */
  readonly maxAttempts: number;
  /** Lock-out length; 0 means the lock is permanent. */
  readonly lockoutSeconds: number;
  readonly idleSeconds: number;
  readonly absoluteSeconds: number;
}

//////// Commands

export type RequestSession = {
  readonly type: 'RequestSession';
  readonly sessionId: string;
  readonly userId: string;
  readonly counterpartIds: readonly string[];
  readonly correspondenceKind: string;
  readonly now: Date;
};
/** From the certifier's TrustCheckAnswered (purpose `session`). */
export type RecordTrustCheck = {
  readonly type: 'RecordTrustCheck';
  readonly checkId: string;
  readonly passed: boolean;
  readonly verdicts: readonly SubjectVerdict[];
  readonly now: Date;
};
/** From the certifier's SessionSecretIssued; `checkId` is the passed trust check the secret followed. */
export type RecordChallenge = {
  readonly type: 'RecordChallenge';
  readonly checkId: string;
  readonly issueNumber: number;
  readonly verifier: string;
  readonly verifierKeyId: string;
  readonly channel: ChannelHint;
  readonly expiresAt: string;
  readonly issuedAt: string;
};
/** From the certifier's SessionSecretRefused. */
export type RecordSecretRefused = {
  readonly type: 'RecordSecretRefused';
  readonly partyId: string;
  readonly reasons: readonly Reason[];
  readonly now: Date;
};
export type SubmitCode = {
  readonly type: 'SubmitCode';
  /** The issue whose verifier the handler checked the code against. */
  readonly issueNumber: number;
  /** `verifyCode(key, sessionId, code, verifier)`, computed by the handler. */
  readonly matches: boolean;
  /** SHA-256 (hex) of the credential the handler will hand out if the session opens. */
  readonly credentialDigest: string;
  readonly now: Date;
};
export type RequestResend = { readonly type: 'RequestResend'; readonly now: Date };
export type CloseSession = { readonly type: 'Close'; readonly now: Date };
/** `lastActivityAt`: the credential's last use, kept outside the log by the guard. */
export type ExpireSession = { readonly type: 'Expire'; readonly lastActivityAt: Date | null; readonly now: Date };

export type SessionCommand =
  RequestSession | RecordTrustCheck | RecordChallenge | RecordSecretRefused | SubmitCode | RequestResend | CloseSession | ExpireSession;
