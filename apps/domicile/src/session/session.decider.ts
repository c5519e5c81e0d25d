import {
  assertNever,
  type Decider,
  DomainError,
  type Reason,
  type SessionChallengeIssued,
  type SessionCodeRejected,
  type SessionEvent,
  type SessionLocked,
  type SessionOpened,
  type SessionRequested,
  type SubjectVerdict,
} from '@sigillum/contracts';
import type {
  CloseSession,
  ExpireSession,
  RecordChallenge,
  RecordSecretRefused,
  RecordTrustCheck,
  RequestResend,
  RequestSession,
  SessionCommand,
  SessionPolicy,
  SubmitCode,
} from './session.commands';
import { type Challenge, evolve, expiryRuleAt, initialState, lockInForce, type SessionState, type SessionStatus } from './session.state';

export * from './session.commands';
export * from './session.state';

/**
 * The sessions management module's decider (claim 1, 1e-1h): one stream `session-<sessionId>` per attempt to
 * open a session with the user's private office for a correspondence context.
 *
 *   requested ──trust check failed / secret refused──▶ denied
 *   requested ──secret issued──▶ challenged ──code matches──▶ open ──▶ closed | expired
 *                                    │  ▲
 *                 too many mismatches▼  │ lock-out elapsed
 *                                  locked
 *
 * The decider never sees the code nor the credential: the handler checks the typed code against the verifier
 * (`verifyCode`, constant time, bound to the session id) and passes `matches`; it generates the credential and
 * passes only its SHA-256 digest.
 */

//////// Refusals

export const SessionErrors = {
  notFound: 'SESSION.NOT_FOUND',
  invalidRequest: 'SESSION.INVALID_REQUEST',
  alreadyRequested: 'SESSION.ALREADY_REQUESTED',
  notAwaitingCode: 'SESSION.NOT_AWAITING_CODE',
  codeAlreadyUsed: 'SESSION.CODE_ALREADY_USED',
  locked: 'SESSION.LOCKED',
  challengeChanged: 'SESSION.CHALLENGE_CHANGED',
  notOpen: 'SESSION.NOT_OPEN',
} as const;

function notFound(): never {
  throw new DomainError(SessionErrors.notFound, 'No such session', 'not-found', [{ rule: 'session.unknown', message: 'No session has this id' }]);
}

function lockedError(state: { readonly lockedUntil: string | null }): never {
  const until = state.lockedUntil === null ? 'permanently; ask the operator to unlock it' : `until ${state.lockedUntil}`;
  throw new DomainError(SessionErrors.locked, `The session is locked ${until}`, 'forbidden', [
    { rule: 'session.locked', message: `Too many wrong codes: the session is locked ${until}` },
  ]);
}

function notAwaitingCode(status: SessionStatus): never {
  if (status === 'open') {
    throw new DomainError(SessionErrors.codeAlreadyUsed, 'The session is already open; its code cannot be used again', 'conflict', [
      { rule: 'code.already-used', message: 'The code of this session was already used to open it' },
    ]);
  }
  throw new DomainError(SessionErrors.notAwaitingCode, `The session is ${status}; it is not waiting for a code`, 'conflict', [
    { rule: 'session.not-awaiting-code', message: `The session is ${status}; no code is expected` },
  ]);
}

const addSeconds = (date: Date, seconds: number) => new Date(date.getTime() + seconds * 1000).toISOString();

//////// Decisions

function request(command: RequestSession, state: SessionState, policy: SessionPolicy): SessionRequested[] {
  const reasons: Reason[] = [];
  const counterparts = command.counterpartIds;
  if (counterparts.length === 0) reasons.push({ rule: 'counterparts.missing', message: 'Name at least one counterpart' });
  if (counterparts.length > policy.maxCounterparts) {
    reasons.push({ rule: 'counterparts.too-many', message: `At most ${policy.maxCounterparts} counterparts per session` });
  }
  const seen = new Set<string>();
  for (const id of counterparts) {
    if (seen.has(id)) reasons.push({ rule: 'counterparts.duplicate', message: 'A counterpart is named twice', partyId: id, subjectRole: 'counterpart' });
    seen.add(id);
  }
  if (seen.has(command.userId)) {
    reasons.push({ rule: 'counterparts.self', message: 'The user cannot be their own counterpart', partyId: command.userId, subjectRole: 'user' });
  }
  if (!policy.correspondenceKinds.includes(command.correspondenceKind)) {
    reasons.push({
      rule: 'kind.unknown',
      message: `Unknown kind of correspondence; use one of ${policy.correspondenceKinds.join(', ')}`,
    });
  }
  if (reasons.length > 0) throw new DomainError(SessionErrors.invalidRequest, 'The session cannot be requested', 'invalid', reasons);

  if (state.status !== 'none') {
    const same =
      state.userId === command.userId && state.correspondenceKind === command.correspondenceKind && state.counterpartIds.join('\n') === counterparts.join('\n');
    if (same) return [];
    throw new DomainError(SessionErrors.alreadyRequested, `Session ${command.sessionId} was already requested with other facts`);
  }
  return [
    {
      type: 'SessionRequested',
      version: 1,
      data: {
        sessionId: command.sessionId,
        userId: command.userId,
        counterpartIds: [...counterparts],
        correspondenceKind: command.correspondenceKind,
        levelRequired: policy.presetLevel,
        sessionChannel: 'https',
        requestedAt: command.now.toISOString(),
      },
    },
  ];
}

/** Reasons of a failed check, one per failing subject's reason, naming party and role (never private data). */
export function denialReasons(verdicts: readonly SubjectVerdict[]): Reason[] {
  const reasons: Reason[] = [];
  for (const verdict of verdicts) {
    const failed = !verdict.validNow || verdict.reasons.length > 0;
    if (!failed) continue;
    const own = verdict.reasons.length > 0 ? verdict.reasons : [{ rule: 'level.insufficient', message: 'Level below the required level' }];
    for (const reason of own) {
      reasons.push({
        rule: reason.rule,
        message: `${verdict.subjectRole} ${verdict.partyId}: ${reason.message}`,
        partyId: verdict.partyId,
        subjectRole: verdict.subjectRole,
      });
    }
  }
  return reasons.length > 0 ? reasons : [{ rule: 'trust-check.failed', message: 'The certifier did not confirm the parties of this session' }];
}

function recordTrustCheck(command: RecordTrustCheck, state: SessionState): SessionEvent[] {
  // Only a pending request can be denied by a check; a check already recorded (same checkId) or any later one is ignored.
  if (state.status !== 'requested' || command.passed) return [];
  return [
    {
      type: 'SessionDenied',
      version: 1,
      data: { sessionId: state.sessionId, checkId: command.checkId, reasons: denialReasons(command.verdicts), deniedAt: command.now.toISOString() },
    },
  ];
}

function recordChallenge(command: RecordChallenge, state: SessionState, policy: SessionPolicy): SessionChallengeIssued[] {
  switch (state.status) {
    case 'requested':
      break;
    case 'challenged':
    case 'locked':
      // A resend replaces the verifier; a redelivered or older issue changes nothing.
      if (command.issueNumber <= state.challenge.issueNumber) return [];
      break;
    case 'none':
    case 'denied':
    case 'open':
    case 'closed':
    case 'expired':
      return [];
    default:
      return assertNever(state, 'session state');
  }
  return [
    {
      type: 'SessionChallengeIssued',
      version: 1,
      data: {
        sessionId: state.sessionId,
        checkId: command.checkId,
        issueNumber: command.issueNumber,
        verifier: command.verifier,
        verifierKeyId: command.verifierKeyId,
        channel: command.channel,
        expiresAt: command.expiresAt,
        maxAttempts: policy.maxAttempts,
        issuedAt: command.issuedAt,
      },
    },
  ];
}

function recordSecretRefused(command: RecordSecretRefused, state: SessionState): SessionEvent[] {
  if (state.status !== 'requested' && state.status !== 'challenged') return [];
  const reasons: Reason[] = (command.reasons.length > 0 ? command.reasons : [{ rule: 'secret.refused', message: 'No secret could be issued' }]).map(
    (reason) => ({ ...reason, partyId: reason.partyId ?? command.partyId, subjectRole: reason.subjectRole ?? 'user' }),
  );
  return [
    {
      type: 'SessionDenied',
      version: 1,
      data: {
        sessionId: state.sessionId,
        checkId: state.status === 'challenged' ? state.challenge.checkId : null,
        reasons,
        deniedAt: command.now.toISOString(),
      },
    },
  ];
}

function submitCode(command: SubmitCode, state: SessionState, policy: SessionPolicy): SessionEvent[] {
  let challenge: Challenge;
  switch (state.status) {
    case 'none':
      return notFound();
    case 'challenged':
      challenge = state.challenge;
      break;
    case 'locked':
      if (lockInForce(state, command.now)) return lockedError(state);
      // The lock-out is over: a fresh round of attempts against the current challenge.
      challenge = { ...state.challenge, attempts: 0 };
      break;
    case 'requested':
    case 'denied':
    case 'open':
    case 'closed':
    case 'expired':
      return notAwaitingCode(state.status);
    default:
      return assertNever(state, 'session state');
  }
  if (command.issueNumber !== challenge.issueNumber) {
    throw new DomainError(SessionErrors.challengeChanged, 'A new code was issued meanwhile; check the code again', 'conflict');
  }
  const now = command.now.toISOString();
  if (command.now.getTime() >= Date.parse(challenge.expiresAt)) {
    // An expired code does not consume an attempt: the user asks for a new one.
    const rejected: SessionCodeRejected = {
      type: 'SessionCodeRejected',
      version: 1,
      data: {
        sessionId: state.sessionId,
        attempt: challenge.attempts,
        remainingAttempts: Math.max(0, challenge.maxAttempts - challenge.attempts),
        rule: 'code.expired',
        rejectedAt: now,
      },
    };
    return [rejected];
  }
  if (!command.matches) {
    const attempt = challenge.attempts + 1;
    const remaining = Math.max(0, challenge.maxAttempts - attempt);
    const events: SessionEvent[] = [
      {
        type: 'SessionCodeRejected',
        version: 1,
        data: { sessionId: state.sessionId, attempt, remainingAttempts: remaining, rule: 'code.mismatch', rejectedAt: now },
      },
    ];
    if (remaining === 0) {
      const locked: SessionLocked = {
        type: 'SessionLocked',
        version: 1,
        data: {
          sessionId: state.sessionId,
          rule: 'code.too-many-attempts',
          lockedAt: now,
          lockedUntil: policy.lockoutSeconds === 0 ? null : addSeconds(command.now, policy.lockoutSeconds),
        },
      };
      events.push(locked);
    }
    return events;
  }
  const opened: SessionOpened = {
    type: 'SessionOpened',
    version: 1,
    data: {
      sessionId: state.sessionId,
      credentialDigest: command.credentialDigest,
      openedAt: now,
      idleTimeoutSeconds: policy.idleSeconds,
      absoluteExpiresAt: addSeconds(command.now, policy.absoluteSeconds),
    },
  };
  return [opened];
}

function requestResend(command: RequestResend, state: SessionState): SessionEvent[] {
  switch (state.status) {
    case 'none':
      return notFound();
    case 'locked':
      if (lockInForce(state, command.now)) return lockedError(state);
      break;
    case 'challenged':
      break;
    case 'requested':
    case 'denied':
    case 'open':
    case 'closed':
    case 'expired':
      throw new DomainError(SessionErrors.notAwaitingCode, `The session is ${state.status}; no code can be resent`, 'conflict', [
        { rule: 'session.not-awaiting-code', message: `The session is ${state.status}; no code is expected` },
      ]);
    default:
      return assertNever(state, 'session state');
  }
  return [{ type: 'SessionCodeResendRequested', version: 1, data: { sessionId: state.sessionId, requestedAt: command.now.toISOString() } }];
}

function close(command: CloseSession, state: SessionState): SessionEvent[] {
  if (state.status === 'none') return notFound();
  if (state.status === 'closed') return [];
  if (state.status !== 'open') {
    throw new DomainError(SessionErrors.notOpen, `The session is ${state.status}; only an open session can be closed`, 'conflict', [
      { rule: 'session.not-open', message: `The session is ${state.status}` },
    ]);
  }
  return [{ type: 'SessionClosed', version: 1, data: { sessionId: state.sessionId, closedAt: command.now.toISOString() } }];
}

function expire(command: ExpireSession, state: SessionState): SessionEvent[] {
  if (state.status !== 'open') return [];
  const rule = expiryRuleAt(state, command.lastActivityAt, command.now);
  if (rule === null) return [];
  return [{ type: 'SessionExpired', version: 1, data: { sessionId: state.sessionId, rule, expiredAt: command.now.toISOString() } }];
}

export function decide(command: SessionCommand, state: SessionState, policy: SessionPolicy): SessionEvent[] {
  switch (command.type) {
    case 'RequestSession':
      return request(command, state, policy);
    case 'RecordTrustCheck':
      return recordTrustCheck(command, state);
    case 'RecordChallenge':
      return recordChallenge(command, state, policy);
    case 'RecordSecretRefused':
      return recordSecretRefused(command, state);
    case 'SubmitCode':
      return submitCode(command, state, policy);
    case 'RequestResend':
      return requestResend(command, state);
    case 'Close':
      return close(command, state);
    case 'Expire':
      return expire(command, state);
    default:
      return assertNever(command, 'session command');
  }
}

export function sessionDecider(policy: SessionPolicy): Decider<SessionCommand, SessionState, SessionEvent> {
  return { decide: (command, state) => decide(command, state, policy), evolve, initialState };
}
