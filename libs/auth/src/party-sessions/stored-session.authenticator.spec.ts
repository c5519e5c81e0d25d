import type { SessionEvent } from '@sigillum/contracts';
import { storedSessionState } from './stored-session.authenticator';

const requested = { type: 'SessionRequested', version: 1, data: { sessionId: 's', userId: 'ada' } } as unknown as SessionEvent;
const opened = {
  type: 'SessionOpened',
  version: 1,
  data: {
    sessionId: 's',
    credentialDigest: 'ab'.repeat(32),
    openedAt: '2026-12-02T10:00:00Z',
    idleTimeoutSeconds: 900,
    absoluteExpiresAt: '2026-12-02T18:00:00Z',
  },
} as SessionEvent;

describe('storedSessionState: what a process without the domicile knows of a session', () => {
  it('is unknown before it opens', () => {
    expect(storedSessionState([])).toEqual({ status: 'unknown' });
    expect(storedSessionState([requested])).toEqual({ status: 'unknown' });
  });

  it('is open with its user, digest and absolute end once opened', () => {
    expect(storedSessionState([requested, opened])).toEqual({
      status: 'open',
      userId: 'ada',
      credentialDigest: 'ab'.repeat(32),
      absoluteExpiresAt: '2026-12-02T18:00:00Z',
    });
  });

  it('is ended once closed, expired or locked', () => {
    const closed = { type: 'SessionClosed', version: 1, data: { sessionId: 's', closedAt: '2026-12-02T11:00:00Z' } } as SessionEvent;
    const expired = { type: 'SessionExpired', version: 1, data: { sessionId: 's', rule: 'session.idle', expiredAt: '2026-12-02T11:00:00Z' } } as SessionEvent;
    expect(storedSessionState([requested, opened, closed])).toEqual({ status: 'ended', how: 'closed' });
    expect(storedSessionState([requested, opened, expired])).toEqual({ status: 'ended', how: 'expired' });
  });
});
