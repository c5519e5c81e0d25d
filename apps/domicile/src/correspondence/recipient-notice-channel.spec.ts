import type { SecondChannelKind } from '@sigillum/contracts';
import type { ChannelHistory } from '@sigillum/contracts/directory/channel-choice';
import { chooseNoticeChannel } from './recipient-notice-channel';

const HOUR = 3600_000;
const COOLING = 24 * HOUR;
const NOW = new Date('2026-06-10T12:00:00.000Z');
const ago = (hours: number) => new Date(NOW.getTime() - hours * HOUR).toISOString();
const channel = (channelId: string, kind: SecondChannelKind, verifiedHoursAgo: number | null, removedHoursAgo: number | null = null): ChannelHistory => ({
  channelId,
  kind,
  verifiedAt: verifiedHoursAgo === null ? null : ago(verifiedHoursAgo),
  removedAt: removedHoursAgo === null ? null : ago(removedHoursAgo),
});
const all = () => true;
const chosenId = (choice: ReturnType<typeof chooseNoticeChannel>) => (choice.outcome === 'chosen' ? choice.channel.channelId : choice);

describe('chooseNoticeChannel (the session-code channel rule, e-mail first)', () => {
  it('prefers a settled e-mail over a settled SMS, even a newer one', () => {
    expect(chosenId(chooseNoticeChannel([channel('mail', 'email', 100), channel('sms', 'sms', 50)], NOW, COOLING, all))).toBe('mail');
  });

  it('does not send to a freshly verified e-mail while an older verified e-mail exists', () => {
    expect(chosenId(chooseNoticeChannel([channel('old', 'email', 100), channel('new', 'email', 2)], NOW, COOLING, all))).toBe('old');
  });

  it('a fresh e-mail beside an older SMS: the notice goes to the SMS, not to the new address', () => {
    expect(chosenId(chooseNoticeChannel([channel('sms', 'sms', 100), channel('new', 'email', 2)], NOW, COOLING, all))).toBe('sms');
  });

  it('a party enrolled within the period: its earliest e-mail', () => {
    expect(chosenId(chooseNoticeChannel([channel('first', 'email', 3), channel('second', 'email', 1)], NOW, COOLING, all))).toBe('first');
  });

  it('only fresh channels left after the old one was removed: wait until the earliest settles', () => {
    expect(chooseNoticeChannel([channel('old', 'email', 100, 5), channel('new', 'email', 2)], NOW, COOLING, all)).toEqual({
      outcome: 'cooling',
      usableFrom: new Date(Date.parse(ago(2)) + COOLING).toISOString(),
    });
  });

  it('no verified channel, or none a transport serves', () => {
    expect(chooseNoticeChannel([channel('mail', 'email', null)], NOW, COOLING, all)).toEqual({ outcome: 'none', rule: 'channel.unverified' });
    expect(chooseNoticeChannel([channel('sms', 'sms', 100)], NOW, COOLING, (kind) => kind === 'email')).toEqual({
      outcome: 'none',
      rule: 'channel.transport-unavailable',
    });
  });

  it('a cooling period of 0: the most recently verified e-mail, as before', () => {
    expect(chosenId(chooseNoticeChannel([channel('old', 'email', 100), channel('new', 'email', 2)], NOW, 0, all))).toBe('new');
  });
});
