import { type ChannelHistory, chooseSessionChannel, evolveChannelHistory, isSettled, type SessionChannelChoice } from './channel-choice';
import type { PartyEvent } from './party.events';

const HOUR = 3600_000;
const COOLING = 24 * HOUR;
const T0 = Date.parse('2026-06-01T12:00:00.000Z');
const at = (hours: number) => new Date(T0 + hours * HOUR).toISOString();

const channel = (channelId: string, kind: 'email' | 'sms', verifiedAtHours: number | null, removedAtHours: number | null = null): ChannelHistory => ({
  channelId,
  kind,
  verifiedAt: verifiedAtHours === null ? null : at(verifiedAtHours),
  removedAt: removedAtHours === null ? null : at(removedAtHours),
});

/** Given the party's channels, when a session code is to be sent at `hours` (served kinds: `serves`), then … */
const given = (channels: ChannelHistory[]) => ({
  whenChoosingAt: (hours: number, serves: (kind: 'email' | 'sms') => boolean = () => true, coolingMs = COOLING) => {
    const choice = chooseSessionChannel(channels, new Date(T0 + hours * HOUR), coolingMs, serves);
    return {
      thenChosen: (channelId: string, basis: 'settled' | 'enrolment') => expect(choice).toMatchObject({ outcome: 'chosen', basis, channel: { channelId } }),
      thenRefused: (expected: Partial<Extract<SessionChannelChoice<ChannelHistory>, { outcome: 'none' }>>) =>
        expect(choice).toEqual(expect.objectContaining({ outcome: 'none', ...expected })),
    };
  },
});

describe('chooseSessionChannel: a new channel does not take the session codes while an older verified one exists', () => {
  describe('the attack of issue #8', () => {
    it('given Bob verified long ago, and a channel added and verified an hour ago, then the code goes to the old one', () => {
      given([channel('bob', 'email', 0), channel('attacker', 'email', 100)])
        .whenChoosingAt(101)
        .thenChosen('bob', 'settled');
    });

    it('given the same channels once the cooling period has passed, then the new channel is used (the party had a day of notices to object)', () => {
      given([channel('bob', 'email', 0), channel('attacker', 'email', 100)])
        .whenChoosingAt(124)
        .thenChosen('attacker', 'settled');
    });

    it('given the old channel removed and a new one verified an hour ago, then no code is sent until the new one settles', () => {
      given([channel('bob', 'email', 0, 99), channel('attacker', 'email', 100)])
        .whenChoosingAt(101)
        .thenRefused({ rule: 'channel.cooling', usableFrom: at(124), kinds: ['email'] });
    });

    it('given the old channel removed, then the new one is used once it settles', () => {
      given([channel('bob', 'email', 0, 99), channel('attacker', 'email', 100)])
        .whenChoosingAt(124)
        .thenChosen('attacker', 'settled');
    });

    it('given a settled channel that no transport serves, then a new channel still waits for its cooling period', () => {
      given([channel('old-sms', 'sms', 0), channel('new-mail', 'email', 100)])
        .whenChoosingAt(101, (kind) => kind === 'email')
        .thenRefused({ rule: 'channel.cooling', usableFrom: at(124), kinds: ['sms', 'email'] });
    });
  });

  describe('settled channels', () => {
    it('given several settled channels, then the most recently verified', () => {
      given([channel('c1', 'sms', 0), channel('c2', 'email', 10), channel('c3', 'sms', 200)])
        .whenChoosingAt(220)
        .thenChosen('c2', 'settled');
    });

    it('given a tie, then SMS before e-mail, then the smaller channel id', () => {
      given([channel('c1', 'email', 0), channel('c2', 'sms', 0)])
        .whenChoosingAt(30)
        .thenChosen('c2', 'settled');
      given([channel('b', 'email', 0), channel('a', 'email', 0)])
        .whenChoosingAt(30)
        .thenChosen('a', 'settled');
    });

    it('given a channel verified exactly the cooling period ago, then it is settled (the boundary counts)', () => {
      given([channel('old', 'email', 0), channel('new', 'email', 10)])
        .whenChoosingAt(34)
        .thenChosen('new', 'settled');
      given([channel('old', 'email', 0), channel('new', 'email', 10)])
        .whenChoosingAt(33.999)
        .thenChosen('old', 'settled');
    });

    it('given unverified or removed channels, then they are never chosen', () => {
      given([channel('pending', 'sms', null), channel('gone', 'sms', 0, 50), channel('mail', 'email', 1)])
        .whenChoosingAt(60)
        .thenChosen('mail', 'settled');
    });

    it('given a settled channel of a kind no transport serves, then a settled one that is served', () => {
      given([channel('sms', 'sms', 5), channel('mail', 'email', 0)])
        .whenChoosingAt(40, (kind) => kind === 'email')
        .thenChosen('mail', 'settled');
    });
  });

  describe('the enrolment case: a party that never had a settled channel', () => {
    it('given one channel verified a minute ago, then it is used at once', () => {
      given([channel('first', 'email', 0)])
        .whenChoosingAt(0.02)
        .thenChosen('first', 'enrolment');
    });

    it('given two channels verified within the first hours, then the earliest (the one the party was enrolled with)', () => {
      given([channel('first', 'email', 0), channel('second', 'sms', 2)])
        .whenChoosingAt(3)
        .thenChosen('first', 'enrolment');
    });

    it('given the first channel removed before it settled, then the next one is used at once', () => {
      given([channel('typo', 'email', 0, 1), channel('right', 'email', 2)])
        .whenChoosingAt(3)
        .thenChosen('right', 'enrolment');
    });

    it('given a channel verified after `now` (clocks apart), then it counts as not settled', () => {
      given([channel('old', 'email', 0), channel('future', 'email', 200)])
        .whenChoosingAt(100)
        .thenChosen('old', 'settled');
    });
  });

  describe('no channel to use', () => {
    it('given no verified channel, then channel.unverified', () => {
      given([channel('pending', 'email', null)])
        .whenChoosingAt(1)
        .thenRefused({ rule: 'channel.unverified', kinds: [] });
      given([]).whenChoosingAt(1).thenRefused({ rule: 'channel.unverified' });
    });

    it('given verified channels no transport serves, and nothing to wait for, then channel.transport-unavailable', () => {
      given([channel('sms', 'sms', 0)])
        .whenChoosingAt(1, () => false)
        .thenRefused({ rule: 'channel.transport-unavailable', kinds: ['sms'] });
    });
  });

  describe('a cooling period of 0', () => {
    it('given two channels, then the most recently verified, as before the rule', () => {
      given([channel('old', 'email', 0), channel('new', 'sms', 100)])
        .whenChoosingAt(100, () => true, 0)
        .thenChosen('new', 'settled');
    });

    it('refuses a negative or non-finite period', () => {
      expect(() => chooseSessionChannel([], new Date(T0), -1)).toThrow(RangeError);
      expect(() => chooseSessionChannel([], new Date(T0), Number.NaN)).toThrow(RangeError);
    });
  });
});

describe('isSettled', () => {
  it('needs the whole cooling period before the removal, for a removed channel', () => {
    expect(isSettled(channel('c', 'email', 0, 23), new Date(T0 + 100 * HOUR), COOLING)).toBe(false);
    expect(isSettled(channel('c', 'email', 0, 24), new Date(T0 + 100 * HOUR), COOLING)).toBe(true);
    expect(isSettled(channel('c', 'email', null), new Date(T0 + 100 * HOUR), COOLING)).toBe(false);
  });
});

describe('evolveChannelHistory (the reader of the directory events the rule needs)', () => {
  const events: PartyEvent[] = [
    { type: 'PartyRegistered', version: 1, data: { partyId: 'p', kind: 'person', displayName: 'Bob', registeredAt: at(0) } },
    {
      type: 'SecondChannelEnrolled',
      version: 1,
      data: {
        partyId: 'p',
        channelId: 'c1',
        kind: 'email',
        address: 'bob@example.org',
        verifier: 'v',
        verifierKeyId: 'k',
        expiresAt: at(1),
        maxAttempts: 3,
        enrolledAt: at(0),
      },
    },
    { type: 'SecondChannelVerified', version: 1, data: { partyId: 'p', channelId: 'c1', verifiedAt: at(0.1) } },
    {
      type: 'SecondChannelEnrolled',
      version: 1,
      data: {
        partyId: 'p',
        channelId: 'c2',
        kind: 'sms',
        address: '+33612345678',
        verifier: 'v',
        verifierKeyId: 'k',
        expiresAt: at(3),
        maxAttempts: 3,
        enrolledAt: at(2),
      },
    },
    { type: 'SecondChannelRemoved', version: 1, data: { partyId: 'p', channelId: 'c1', removedAt: at(50) } },
    { type: 'SecondChannelVerified', version: 1, data: { partyId: 'p', channelId: 'c1', verifiedAt: at(60) } },
  ];

  it('keeps removed channels with their removal time, and ignores events after a removal', () => {
    const history = events.reduce<ChannelHistory[]>(evolveChannelHistory, []);
    expect(history).toEqual([
      { channelId: 'c1', kind: 'email', verifiedAt: at(0.1), removedAt: at(50) },
      { channelId: 'c2', kind: 'sms', verifiedAt: null, removedAt: null },
    ]);
  });
});
