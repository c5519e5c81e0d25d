import { readSubmissionRequested, type SessionEvent, ShapeError } from '@sigillum/contracts';
import { sessionProblem } from './rules/delivery-gate';
import { evolveSenderSession, initialSenderSession, type SenderSession } from './sender-session';

const t = (minutes: number) => new Date(Date.UTC(2026, 5, 1, 12, minutes)).toISOString();
const now = new Date(t(30));

const requested: SessionEvent = {
  type: 'SessionRequested',
  version: 1,
  data: {
    sessionId: 's1',
    userId: 'alice',
    counterpartIds: ['bob'],
    correspondenceKind: 'registered',
    levelRequired: 'substantial',
    sessionChannel: 'https',
    requestedAt: t(0),
  },
};
const opened: SessionEvent = {
  type: 'SessionOpened',
  version: 1,
  data: { sessionId: 's1', credentialDigest: 'd', openedAt: t(1), idleTimeoutSeconds: 900, absoluteExpiresAt: t(20) },
};
const closed = (minutes: number): SessionEvent => ({ type: 'SessionClosed', version: 1, data: { sessionId: 's1', closedAt: t(minutes) } });
const expired = (minutes: number): SessionEvent => ({
  type: 'SessionExpired',
  version: 1,
  data: { sessionId: 's1', rule: 'session.idle', expiredAt: t(minutes) },
});
const denied: SessionEvent = { type: 'SessionDenied', version: 1, data: { sessionId: 's1', checkId: null, reasons: [], deniedAt: t(1) } };

const fold = (events: SessionEvent[]): SenderSession => events.reduce(evolveSenderSession, initialSenderSession());
const rule = (session: SenderSession, senderId: string, at: string) => sessionProblem(session, senderId, at, now)?.rule ?? null;

describe("the sender's session at the delivery gate", () => {
  it("accepts a submission made in the sender's open session", () => {
    expect(sessionProblem(fold([requested, opened]), 'alice', t(5), now)).toBeNull();
    // Closing the session after sending does not void what was sent while it was open.
    expect(rule(fold([requested, opened, closed(6)]), 'alice', t(5))).toBeNull();
  });

  it("refuses (session.not-open) an unknown session, someone else's, or one never opened", () => {
    expect(sessionProblem(fold([]), 'alice', t(5), now)).toMatchObject({ rule: 'session.not-open', partyId: 'alice', subjectRole: 'sender' });
    expect(rule(fold([requested, opened]), 'mallory', t(5))).toBe('session.not-open');
    expect(rule(fold([requested]), 'alice', t(5))).toBe('session.not-open');
    expect(rule(fold([requested, denied]), 'alice', t(5))).toBe('session.not-open');
  });

  it('refuses a submission after the session ended, past its absolute expiry, before it opened, or dated in the future', () => {
    expect(rule(fold([requested, opened, closed(4)]), 'alice', t(5))).toBe('session.not-open');
    expect(rule(fold([requested, opened, expired(4)]), 'alice', t(5))).toBe('session.not-open');
    expect(rule(fold([requested, opened]), 'alice', t(20))).toBe('session.not-open');
    expect(rule(fold([requested, opened]), 'alice', t(0))).toBe('session.not-open');
    expect(rule(fold([requested, opened]), 'alice', t(31))).toBe('session.not-open');
  });

  it('a session opens once: an ended session stays ended', () => {
    expect(fold([requested, opened, closed(4), opened]).status).toBe('ended');
    expect(fold([requested, opened, closed(4), expired(9)])).toMatchObject({ status: 'ended', endedAt: t(4) });
  });
});

describe('shape of a SubmissionRequested', () => {
  const good = {
    correspondenceId: 'c1',
    draftId: 'd1',
    submissionKey: 'k1',
    senderId: 'alice',
    sessionId: 's1',
    recipientIds: ['bob'],
    subject: '',
    kind: 'registered',
    requiredLevel: 'substantial',
    consignment: 'basic',
    parts: [{ digest: 'a'.repeat(64), size: 10, contentType: 'text/plain', name: 'a.txt' }],
    specimenDigest: 'b'.repeat(64),
    validationProof: 'x.y.z',
    requestedAt: t(5),
  };

  it('reads the documented shape', () => {
    expect(readSubmissionRequested(good)).toEqual(good);
  });

  it.each([
    ['no recipient', { recipientIds: [] }, /recipientIds/],
    ['a specimen digest that is not SHA-256 hex', { specimenDigest: 'ABC' }, /specimenDigest/],
    ['an unknown consignment', { consignment: 'registered' }, /consignment/],
    ['a time that is not a time', { requestedAt: 'yesterday' }, /requestedAt/],
    ['a part without a digest', { parts: [{ size: 1, contentType: 'x', name: 'y' }] }, /digest/],
  ])('refuses %s', (_, change, message) => {
    expect(() => readSubmissionRequested({ ...good, ...change })).toThrow(ShapeError);
    expect(() => readSubmissionRequested({ ...good, ...change })).toThrow(message);
  });

  it('refuses data that is not an object', () => {
    expect(() => readSubmissionRequested(null)).toThrow(ShapeError);
  });
});
