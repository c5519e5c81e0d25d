import {
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
import { deciderSpecification } from '@sigillum/testing/decider-specification';
import { type RecordChallenge, type RecordTrustCheck, type RequestSession, type SessionPolicy, type SubmitCode, sessionDecider } from './session.decider';

const policy: SessionPolicy = {
  presetLevel: 'substantial',
  correspondenceKinds: ['simple', 'registered', 'registered-ack', 'hybrid'],
  maxCounterparts: 50,
  maxAttempts: 3,
  lockoutSeconds: 900,
  idleSeconds: 900,
  absoluteSeconds: 28_800,
};
const spec = deciderSpecification(sessionDecider(policy));

const t0 = new Date('2026-11-25T08:00:00.000Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();

const SESSION = 'sess-1';
const USER = 'user-1';
const BOB = 'party-bob';
const SEAL_OP = 'op-seal';
const DIGEST = 'a'.repeat(64);
const VERIFIER = 'b'.repeat(64);
const channel = { channelId: 'ch-1', kind: 'sms' as const, maskedAddress: '+33*******78' };

const request: RequestSession = { type: 'RequestSession', sessionId: SESSION, userId: USER, counterpartIds: [BOB], correspondenceKind: 'registered', now: t0 };
const requested: SessionRequested = {
  type: 'SessionRequested',
  version: 1,
  data: {
    sessionId: SESSION,
    userId: USER,
    counterpartIds: [BOB],
    correspondenceKind: 'registered',
    levelRequired: 'substantial',
    sessionChannel: 'https',
    requestedAt: iso(0),
  },
};
const ok = (partyId: string, subjectRole: SubjectVerdict['subjectRole']): SubjectVerdict => ({
  partyId,
  subjectRole,
  levelHeld: 'high',
  levelRequired: 'substantial',
  validNow: true,
  reasons: [],
});
const short = (partyId: string, subjectRole: SubjectVerdict['subjectRole'], rule: string, message: string): SubjectVerdict => ({
  partyId,
  subjectRole,
  levelHeld: 'low',
  levelRequired: 'substantial',
  validNow: false,
  reasons: [{ rule, message }],
});
const check = (passed: boolean, verdicts: SubjectVerdict[], checkId = 'check-1'): RecordTrustCheck => ({
  type: 'RecordTrustCheck',
  checkId,
  passed,
  verdicts,
  now: at(1),
});
const issue = (issueNumber = 1, overrides: Partial<RecordChallenge> = {}): RecordChallenge => ({
  type: 'RecordChallenge',
  checkId: 'check-1',
  issueNumber,
  verifier: VERIFIER,
  verifierKeyId: 'session-verifier',
  channel,
  issuedAt: iso(2),
  expiresAt: iso(302),
  ...overrides,
});
const challenged = (issueNumber = 1, verifier = VERIFIER, expiresAt = iso(302)): SessionChallengeIssued => ({
  type: 'SessionChallengeIssued',
  version: 1,
  data: {
    sessionId: SESSION,
    checkId: 'check-1',
    issueNumber,
    verifier,
    verifierKeyId: 'session-verifier',
    channel,
    expiresAt,
    maxAttempts: 3,
    issuedAt: iso(2),
  },
});
const submit = (matches: boolean, seconds = 30, issueNumber = 1): SubmitCode => ({
  type: 'SubmitCode',
  issueNumber,
  matches,
  credentialDigest: DIGEST,
  now: at(seconds),
});
const rejected = (attempt: number, seconds = 30, rule: SessionCodeRejected['data']['rule'] = 'code.mismatch'): SessionCodeRejected => ({
  type: 'SessionCodeRejected',
  version: 1,
  data: { sessionId: SESSION, attempt, remainingAttempts: 3 - attempt, rule, rejectedAt: iso(seconds) },
});
const locked = (seconds: number, lockedUntil: string | null = iso(seconds + 900)): SessionLocked => ({
  type: 'SessionLocked',
  version: 1,
  data: { sessionId: SESSION, rule: 'code.too-many-attempts', lockedAt: iso(seconds), lockedUntil },
});
const opened = (seconds = 30): SessionOpened => ({
  type: 'SessionOpened',
  version: 1,
  data: { sessionId: SESSION, credentialDigest: DIGEST, openedAt: iso(seconds), idleTimeoutSeconds: 900, absoluteExpiresAt: iso(seconds + 28_800) },
});
const denied = (reasons: Reason[]): SessionEvent => ({
  type: 'SessionDenied',
  version: 1,
  data: { sessionId: SESSION, checkId: 'check-1', reasons, deniedAt: iso(1) },
});

const refusedWith = (code: string, kind: DomainError['kind'], rule?: string) => (error: Error) => {
  expect(error).toBeInstanceOf(DomainError);
  const domain = error as DomainError;
  expect(domain.code).toBe(code);
  expect(domain.kind).toBe(kind);
  if (rule) expect(domain.reasons).toEqual(expect.arrayContaining([expect.objectContaining({ rule })]));
};

describe('session decider', () => {
  describe('RequestSession', () => {
    it('records the request at the preset level', () => {
      spec.given([]).when(request).then([requested]);
    });

    it('is a no-op when retried with the same facts, a conflict with others', () => {
      spec.given([requested]).when(request).thenNothingHappens();
      spec
        .given([requested])
        .when({ ...request, correspondenceKind: 'simple' })
        .thenThrows(refusedWith('SESSION.ALREADY_REQUESTED', 'conflict'));
    });

    it.each([
      ['duplicate counterparts', { counterpartIds: [BOB, BOB] }, 'counterparts.duplicate'],
      ['the user as counterpart', { counterpartIds: [BOB, USER] }, 'counterparts.self'],
      ['no counterpart', { counterpartIds: [] }, 'counterparts.missing'],
      ['51 counterparts', { counterpartIds: Array.from({ length: 51 }, (_, i) => `p-${i}`) }, 'counterparts.too-many'],
      ['an unknown kind', { correspondenceKind: 'carrier-pigeon' }, 'kind.unknown'],
    ])('refuses %s with a reason', (_, overrides, rule) => {
      spec
        .given([])
        .when({ ...request, ...overrides })
        .thenThrows(refusedWith('SESSION.INVALID_REQUEST', 'invalid', rule));
    });

    it('accepts 50 counterparts', () => {
      const counterpartIds = Array.from({ length: 50 }, (_, i) => `p-${i}`);
      spec
        .given([])
        .when({ ...request, counterpartIds })
        .then([{ ...requested, data: { ...requested.data, counterpartIds } }]);
    });
  });

  describe('RecordTrustCheck', () => {
    it('a passed check records nothing by itself (its id comes with the challenge)', () => {
      spec
        .given([requested])
        .when(check(true, [ok(USER, 'user'), ok(BOB, 'counterpart'), ok(SEAL_OP, 'operator')]))
        .thenNothingHappens();
    });

    it('denies when the user falls short, naming the user and the rule', () => {
      spec
        .given([requested])
        .when(check(false, [short(USER, 'user', 'attribute.expired', 'legalName expired'), ok(BOB, 'counterpart')]))
        .then([denied([{ rule: 'attribute.expired', message: 'user user-1: legalName expired', partyId: USER, subjectRole: 'user' }])]);
    });

    it('denies when a counterpart falls short', () => {
      spec
        .given([requested])
        .when(check(false, [ok(USER, 'user'), short(BOB, 'counterpart', 'level.insufficient', 'holds low')]))
        .then([denied([{ rule: 'level.insufficient', message: 'counterpart party-bob: holds low', partyId: BOB, subjectRole: 'counterpart' }])]);
    });

    it('denies when a chain operator falls short, with every failing reason flattened', () => {
      const operator: SubjectVerdict = {
        ...short(SEAL_OP, 'operator', 'attribute.revoked', 'operatorAccreditation revoked'),
        reasons: [
          { rule: 'attribute.revoked', message: 'operatorAccreditation revoked' },
          { rule: 'level.insufficient', message: 'holds low' },
        ],
      };
      spec
        .given([requested])
        .when(check(false, [ok(USER, 'user'), ok(BOB, 'counterpart'), operator]))
        .then([
          denied([
            { rule: 'attribute.revoked', message: 'operator op-seal: operatorAccreditation revoked', partyId: SEAL_OP, subjectRole: 'operator' },
            { rule: 'level.insufficient', message: 'operator op-seal: holds low', partyId: SEAL_OP, subjectRole: 'operator' },
          ]),
        ]);
    });

    it('a failing verdict without reasons still names the party', () => {
      spec
        .given([requested])
        .when(check(false, [{ ...ok(BOB, 'counterpart'), validNow: false }]))
        .then([
          denied([{ rule: 'level.insufficient', message: 'counterpart party-bob: Level below the required level', partyId: BOB, subjectRole: 'counterpart' }]),
        ]);
    });

    it('ignores a check already recorded, and any check once challenged', () => {
      const first = denied([{ rule: 'level.insufficient', message: 'x', partyId: BOB, subjectRole: 'counterpart' }]);
      spec
        .given([requested, first])
        .when(check(false, [short(BOB, 'counterpart', 'level.insufficient', 'x')]))
        .thenNothingHappens();
      spec
        .given([requested, challenged()])
        .when(check(false, [short(BOB, 'counterpart', 'x', 'y')], 'check-2'))
        .thenNothingHappens();
    });
  });

  describe('RecordChallenge', () => {
    it('records the verifier, the channel hint, the expiry and the attempt limit', () => {
      spec.given([requested]).when(issue()).then([challenged()]);
    });

    it('a later issue replaces the earlier verifier; a redelivered one changes nothing', () => {
      spec
        .given([requested, challenged()])
        .when(issue(2, { verifier: 'c'.repeat(64) }))
        .then([challenged(2, 'c'.repeat(64))]);
      spec
        .given([requested, challenged(), challenged(2)])
        .when(issue(2))
        .thenNothingHappens();
      spec
        .given([requested, challenged(), challenged(2)])
        .when(issue(1))
        .thenNothingHappens();
    });

    it('is ignored for a denied, open, closed or unknown session', () => {
      const deny = denied([{ rule: 'x', message: 'y' }]);
      spec.given([requested, deny]).when(issue()).thenNothingHappens();
      spec.given([requested, challenged(), opened()]).when(issue(2)).thenNothingHappens();
      spec
        .given([requested, challenged(), opened(), { type: 'SessionClosed', version: 1, data: { sessionId: SESSION, closedAt: iso(60) } }])
        .when(issue(2))
        .thenNothingHappens();
      spec.given([]).when(issue()).thenNothingHappens();
    });
  });

  describe('RecordSecretRefused', () => {
    it('denies with the certifier reasons, naming the user', () => {
      spec
        .given([requested])
        .when({ type: 'RecordSecretRefused', partyId: USER, reasons: [{ rule: 'channel.unverified', message: 'No verified second channel' }], now: at(1) })
        .then([
          {
            type: 'SessionDenied',
            version: 1,
            data: {
              sessionId: SESSION,
              checkId: null,
              reasons: [{ rule: 'channel.unverified', message: 'No verified second channel', partyId: USER, subjectRole: 'user' }],
              deniedAt: iso(1),
            },
          },
        ]);
    });

    it('is ignored once the session is open', () => {
      spec
        .given([requested, challenged(), opened()])
        .when({ type: 'RecordSecretRefused', partyId: USER, reasons: [], now: at(40) })
        .thenNothingHappens();
    });
  });

  describe('SubmitCode', () => {
    it('a matching code opens the session with the credential digest and both limits', () => {
      spec.given([requested, challenged()]).when(submit(true)).then([opened()]);
    });

    it('a wrong code is rejected with the attempt and what remains', () => {
      spec
        .given([requested, challenged()])
        .when(submit(false))
        .then([rejected(1)]);
      spec
        .given([requested, challenged(), rejected(1)])
        .when(submit(false, 40))
        .then([rejected(2, 40)]);
    });

    it('the last wrong code also locks the session for the lock-out time', () => {
      spec
        .given([requested, challenged(), rejected(1), rejected(2, 40)])
        .when(submit(false, 50))
        .then([rejected(3, 50), locked(50)]);
    });

    it('a locked session refuses even the right code with 403 session.locked until the lock-out ends', () => {
      const history = [requested, challenged(), rejected(1), rejected(2, 40), rejected(3, 50), locked(50)];
      spec
        .given(history)
        .when(submit(true, 60))
        .thenThrows(refusedWith('SESSION.LOCKED', 'forbidden', 'session.locked'));
      spec
        .given(history)
        .when({ type: 'RequestResend', now: at(60) })
        .thenThrows(refusedWith('SESSION.LOCKED', 'forbidden', 'session.locked'));
      // After the lock-out: a fresh round of attempts on the current challenge (here a new code was resent).
      spec
        .given([...history, challenged(2, VERIFIER, iso(1300))])
        .when(submit(true, 951, 2))
        .then([opened(951)]);
      spec
        .given([...history, challenged(2, VERIFIER, iso(1300))])
        .when(submit(false, 951, 2))
        .then([{ ...rejected(1, 951) }]);
    });

    it('with a lock-out of 0 the lock is permanent', () => {
      const permanent = sessionDecider({ ...policy, lockoutSeconds: 0 });
      const history = [requested, challenged(), rejected(1), rejected(2, 40)];
      let state = permanent.initialState();
      for (const event of history) state = permanent.evolve(state, event);
      expect(permanent.decide(submit(false, 50), state)).toEqual([rejected(3, 50), locked(50, null)]);
      const lockedState = permanent.evolve(permanent.evolve(state, rejected(3, 50)), locked(50, null));
      expect(() => permanent.decide(submit(true, 10_000_000), lockedState)).toThrow(/permanently/);
    });

    it('an expired code is rejected with code.expired and does not consume an attempt', () => {
      spec
        .given([requested, challenged(), rejected(1)])
        .when(submit(true, 302))
        .then([
          {
            type: 'SessionCodeRejected',
            version: 1,
            data: { sessionId: SESSION, attempt: 1, remainingAttempts: 2, rule: 'code.expired', rejectedAt: iso(302) },
          },
        ]);
    });

    it('a used code (the session is open) is a 409 code.already-used', () => {
      spec
        .given([requested, challenged(), opened()])
        .when(submit(true, 40))
        .thenThrows(refusedWith('SESSION.CODE_ALREADY_USED', 'conflict', 'code.already-used'));
    });

    it('no code is expected before the challenge, nor after denial, closing or expiry', () => {
      const notAwaiting = refusedWith('SESSION.NOT_AWAITING_CODE', 'conflict', 'session.not-awaiting-code');
      spec.given([requested]).when(submit(true)).thenThrows(notAwaiting);
      spec
        .given([requested, denied([{ rule: 'x', message: 'y' }])])
        .when(submit(true))
        .thenThrows(notAwaiting);
      spec
        .given([
          requested,
          challenged(),
          opened(),
          { type: 'SessionExpired', version: 1, data: { sessionId: SESSION, rule: 'session.idle', expiredAt: iso(999) } },
        ])
        .when(submit(true, 1000))
        .thenThrows(notAwaiting);
      spec.given([]).when(submit(true)).thenThrows(refusedWith('SESSION.NOT_FOUND', 'not-found'));
    });

    it('a code checked against a superseded issue is refused so the handler checks again', () => {
      spec
        .given([requested, challenged(), challenged(2)])
        .when(submit(true, 30, 1))
        .thenThrows(refusedWith('SESSION.CHALLENGE_CHANGED', 'conflict'));
    });
  });

  describe('RequestResend', () => {
    it('is recorded while challenged', () => {
      spec
        .given([requested, challenged()])
        .when({ type: 'RequestResend', now: at(90) })
        .then([{ type: 'SessionCodeResendRequested', version: 1, data: { sessionId: SESSION, requestedAt: iso(90) } }]);
    });

    it('is refused before the challenge and once open', () => {
      spec
        .given([requested])
        .when({ type: 'RequestResend', now: at(90) })
        .thenThrows(refusedWith('SESSION.NOT_AWAITING_CODE', 'conflict'));
      spec
        .given([requested, challenged(), opened()])
        .when({ type: 'RequestResend', now: at(90) })
        .thenThrows(refusedWith('SESSION.NOT_AWAITING_CODE', 'conflict'));
    });
  });

  describe('Close and Expire', () => {
    const open = [requested, challenged(), opened()];

    it('an open session closes; closing again changes nothing; a pending one cannot be closed', () => {
      spec
        .given(open)
        .when({ type: 'Close', now: at(100) })
        .then([{ type: 'SessionClosed', version: 1, data: { sessionId: SESSION, closedAt: iso(100) } }]);
      spec
        .given([...open, { type: 'SessionClosed', version: 1, data: { sessionId: SESSION, closedAt: iso(100) } }])
        .when({ type: 'Close', now: at(101) })
        .thenNothingHappens();
      spec
        .given([requested, challenged()])
        .when({ type: 'Close', now: at(100) })
        .thenThrows(refusedWith('SESSION.NOT_OPEN', 'conflict'));
    });

    it('expires after idleness, counted from the last activity', () => {
      spec
        .given(open)
        .when({ type: 'Expire', lastActivityAt: null, now: at(30 + 899) })
        .thenNothingHappens();
      spec
        .given(open)
        .when({ type: 'Expire', lastActivityAt: null, now: at(30 + 900) })
        .then([{ type: 'SessionExpired', version: 1, data: { sessionId: SESSION, rule: 'session.idle', expiredAt: iso(930) } }]);
      spec
        .given(open)
        .when({ type: 'Expire', lastActivityAt: at(800), now: at(1000) })
        .thenNothingHappens();
    });

    it('expires at the absolute limit even when in use', () => {
      spec
        .given(open)
        .when({ type: 'Expire', lastActivityAt: at(28_829), now: at(28_830) })
        .then([{ type: 'SessionExpired', version: 1, data: { sessionId: SESSION, rule: 'session.absolute', expiredAt: iso(28_830) } }]);
    });

    it('does nothing to a session that is not open', () => {
      spec
        .given([requested, challenged()])
        .when({ type: 'Expire', lastActivityAt: null, now: at(99_999) })
        .thenNothingHappens();
    });
  });
});
