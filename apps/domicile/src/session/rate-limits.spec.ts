import { addressSubject, decide, HOUR_MS, inWindow, type RateCheck, type RateLimit, rateLimitMessage, waitMs } from './rate-limits';

const t0 = Date.parse('2026-11-25T08:00:00.000Z');
const min = (minutes: number) => t0 + minutes * 60_000;

const perUser: RateLimit = { rule: 'session.rate-limited.user', limit: 5, windowMs: HOUR_MS };
const perAddress: RateLimit = { rule: 'session.rate-limited.address', limit: 30, windowMs: HOUR_MS };
const attempts: RateLimit = { rule: 'session.rate-limited.attempts', limit: 10, windowMs: 60 * 60_000 };

/** Given these times already counted under a limit, when one more request comes at `now`, then this decision. */
const given = (limit: RateLimit, counted: number[], subject = 'user-ada') => ({
  when: (now: number) => decide([{ limit, subject, counted }], now),
});

describe('session rate limits (sliding window per key)', () => {
  describe('one limit', () => {
    it('given nothing counted, when a request comes, then it is allowed', () => {
      expect(given(perUser, []).when(t0)).toEqual({ allowed: true });
    });

    it('given fewer than the limit in the window, when one more comes, then it is allowed', () => {
      expect(given(perUser, [min(0), min(1), min(2), min(3)]).when(min(4))).toEqual({ allowed: true });
    });

    it('given the limit reached, when one more comes, then it is refused until the oldest leaves the window', () => {
      const decision = given(perUser, [min(0), min(10), min(20), min(30), min(40)]).when(min(50));
      expect(decision).toEqual({
        allowed: false,
        retryAfterSeconds: 600, // the one of 08:00 leaves at 09:00, ten minutes after 08:50
        refused: [{ rule: 'session.rate-limited.user', retryAfterSeconds: 600 }],
      });
    });

    it('given the limit reached, when the oldest has just left the window, then one more is allowed again', () => {
      const counted = [min(0), min(10), min(20), min(30), min(40)];
      expect(given(perUser, counted).when(min(60) - 1).allowed).toBe(false);
      expect(given(perUser, counted).when(min(60))).toEqual({ allowed: true });
    });

    it('given more counted than the limit (a smaller limit since), then it waits until enough have left', () => {
      const counted = [min(0), min(1), min(2), min(3), min(4), min(5), min(6)];
      // Seven in the window, room for five: the three oldest must leave; the third leaves at 09:02.
      expect(given(perUser, counted).when(min(10))).toMatchObject({ allowed: false, retryAfterSeconds: 52 * 60 });
    });

    it('given times outside the window, then they do not count', () => {
      const counted = [min(-120), min(-61), min(-60), min(-30)];
      expect(inWindow(perUser, counted, t0)).toEqual([min(-30)]);
      expect(given({ ...perUser, limit: 2 }, counted).when(t0)).toEqual({ allowed: true });
    });

    it('given a time after now (the clock was set back), then it still counts', () => {
      expect(given({ ...perUser, limit: 1 }, [min(5)]).when(t0)).toMatchObject({ allowed: false, retryAfterSeconds: 65 * 60 });
    });

    it('given older times counted but not listed (a busy key), then they count, and the wait comes from the newest listed', () => {
      const check = (counted: number[], older: number) => decide([{ limit: perUser, subject: 'user-ada', counted, older }], min(50));
      expect(check([], 4)).toEqual({ allowed: true }); // four in the window: room for one more
      expect(check([], 5)).toMatchObject({ allowed: false, retryAfterSeconds: 60 * 60 }); // not listed: the whole window
      // The five newest listed, 20 older: the fifth newest (08:10) leaves at 09:10, twenty minutes after 08:50.
      expect(check([min(10), min(20), min(30), min(40), min(45)], 20)).toMatchObject({ allowed: false, retryAfterSeconds: 20 * 60 });
    });

    it('given a wait below a second, then Retry-After is rounded up to 1 second', () => {
      expect(waitMs({ ...perUser, limit: 1 }, [t0], t0 + HOUR_MS - 10)).toBe(10);
      expect(given({ ...perUser, limit: 1 }, [t0]).when(t0 + HOUR_MS - 10)).toMatchObject({ retryAfterSeconds: 1 });
    });

    it('given a limit of 0, then the limit is off', () => {
      expect(given({ ...perAddress, limit: 0 }, Array(1000).fill(t0)).when(t0)).toEqual({ allowed: true });
    });
  });

  describe('several limits at once', () => {
    const checks = (user: number[], address: number[], failed: number[]): RateCheck[] => [
      { limit: perAddress, subject: '203.0.113.7', counted: address },
      { limit: perUser, subject: 'user-ada', counted: user },
      { limit: attempts, subject: 'user-ada', counted: failed },
    ];

    it('given every limit has room, then the request is allowed', () => {
      expect(decide(checks([min(0)], [min(0)], [min(0)]), min(1))).toEqual({ allowed: true });
    });

    it('given two limits refuse, then both are named and Retry-After waits for the later one', () => {
      const address = Array.from({ length: 30 }, (_, i) => min(i));
      const failed = Array.from({ length: 10 }, (_, i) => min(20 + i));
      expect(decide(checks([], address, failed), min(40))).toEqual({
        allowed: false,
        retryAfterSeconds: 40 * 60,
        refused: [
          { rule: 'session.rate-limited.address', retryAfterSeconds: 20 * 60 }, // the request of 08:00 leaves at 09:00
          { rule: 'session.rate-limited.attempts', retryAfterSeconds: 40 * 60 }, // the wrong code of 08:20 leaves at 09:20
        ],
      });
    });
  });

  describe('messages', () => {
    it('say the rule and the window, never whether the user exists', () => {
      expect(rateLimitMessage(perUser)).toBe('At most 5 session codes for one user in 1 hour(s)');
      expect(rateLimitMessage(perAddress)).toBe('At most 30 session requests from one address in 1 hour(s)');
      expect(rateLimitMessage({ ...attempts, windowMs: 15 * 60_000 })).toMatch(/^At most 10 wrong codes for one user's sessions in 15 minute\(s\)/);
    });
  });

  describe('client addresses', () => {
    it.each([
      ['203.0.113.7', '203.0.113.7'],
      ['::ffff:203.0.113.7', '203.0.113.7'],
      ['::FFFF:127.0.0.1', '127.0.0.1'],
      ['2001:db8:85a3:7:8a2e:370:7334:1', '2001:db8:85a3:7::/64'],
      ['2001:0db8:0000:0007:ffff::1', '2001:db8:0:7::/64'],
      ['2001:db8::1', '2001:db8:0:0::/64'],
      ['2001:db8::', '2001:db8:0:0::/64'],
      ['::1', '0:0:0:0::/64'],
      ['fe80::1%eth0', 'fe80:0:0:0::/64'],
      ['64:ff9b::192.0.2.33', '64:ff9b:0:0::/64'],
      [undefined, 'unknown'],
      ['', 'unknown'],
    ])('%s is counted as %s', (address, subject) => {
      expect(addressSubject(address)).toBe(subject);
    });

    it('counts two addresses of one IPv6 /64 together, and of two /64s apart', () => {
      expect(addressSubject('2001:db8:1:2::a')).toBe(addressSubject('2001:db8:1:2:ffff:ffff:ffff:ffff'));
      expect(addressSubject('2001:db8:1:2::a')).not.toBe(addressSubject('2001:db8:1:3::a'));
    });
  });
});
