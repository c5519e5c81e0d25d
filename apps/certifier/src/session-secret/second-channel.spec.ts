import type { PartyFacts, SecondChannelFact } from '../state/party-facts';
import { type ChannelChoiceContext, chooseSecondChannel } from './second-channel';

const channel = (channelId: string, kind: 'sms' | 'email', verifiedAt: string | null, removedAt: string | null = null): SecondChannelFact => ({
  channelId,
  kind,
  address: kind === 'sms' ? '+33612345678' : 'ada@example.org',
  enrolledAt: '2026-01-01T00:00:00.000Z',
  verifiedAt,
  removedAt,
});
const party = (channels: SecondChannelFact[]): PartyFacts => ({
  status: 'registered',
  partyId: 'u1',
  kind: 'person',
  operatorRole: null,
  registeredAt: '2026-01-01T00:00:00.000Z',
  channels,
  specification: null,
});
const all = () => true;
/** Long after every channel below settled, with the default 24 hours. */
const later: ChannelChoiceContext = { now: new Date('2026-03-01T00:00:00Z'), coolingMs: 24 * 3600_000 };

describe('chooseSecondChannel', () => {
  it('takes the most recently verified settled channel', () => {
    const choice = chooseSecondChannel('u1', party([channel('c1', 'sms', '2026-01-02T00:00:00Z'), channel('c2', 'email', '2026-01-03T00:00:00Z')]), all, later);
    expect(choice).toMatchObject({ kind: 'chosen', channel: { channelId: 'c2' } });
  });

  it('keeps the codes on the older channel while a newly verified one cools, and moves them once it settled', () => {
    const facts = party([channel('old', 'email', '2026-01-02T00:00:00Z'), channel('new', 'email', '2026-02-01T00:00:00Z')]);
    const coolingMs = 24 * 3600_000;
    expect(chooseSecondChannel('u1', facts, all, { now: new Date('2026-02-01T23:59:59Z'), coolingMs })).toMatchObject({
      kind: 'chosen',
      channel: { channelId: 'old' },
    });
    expect(chooseSecondChannel('u1', facts, all, { now: new Date('2026-02-02T00:00:00Z'), coolingMs })).toMatchObject({
      kind: 'chosen',
      channel: { channelId: 'new' },
    });
  });

  it('refuses with channel.cooling when the settled channel was removed and the new one still cools, naming when', () => {
    const facts = party([channel('old', 'email', '2026-01-02T00:00:00Z', '2026-02-01T00:00:00Z'), channel('new', 'email', '2026-02-01T00:00:00Z')]);
    expect(chooseSecondChannel('u1', facts, all, { now: new Date('2026-02-01T01:00:00Z'), coolingMs: 24 * 3600_000 })).toEqual({
      kind: 'none',
      reasons: [
        {
          rule: 'channel.cooling',
          message:
            'the second channels of party u1 that can be used were all verified within the last 24 hours while an older verified channel exists or existed; ' +
            'codes go to a new channel from 2026-02-02T00:00:00.000Z',
          partyId: 'u1',
          subjectRole: 'user',
        },
      ],
    });
  });

  it('prefers SMS on a tie, and never an unverified or removed channel', () => {
    const choice = chooseSecondChannel(
      'u1',
      party([
        channel('c1', 'email', '2026-01-02T00:00:00Z'),
        channel('c2', 'sms', '2026-01-02T00:00:00Z'),
        channel('c3', 'sms', null),
        channel('c4', 'sms', '2026-01-05T00:00:00Z', '2026-01-20T00:00:00Z'),
      ]),
      all,
      later,
    );
    expect(choice).toMatchObject({ kind: 'chosen', channel: { channelId: 'c2' } });
  });

  it('skips channels no transport serves', () => {
    const choice = chooseSecondChannel(
      'u1',
      party([channel('c1', 'sms', '2026-01-03T00:00:00Z'), channel('c2', 'email', '2026-01-02T00:00:00Z')]),
      (kind) => kind === 'email',
      later,
    );
    expect(choice).toMatchObject({ kind: 'chosen', channel: { channelId: 'c2' } });
  });

  it('refuses with channel.unverified when no channel is verified', () => {
    expect(chooseSecondChannel('u1', party([channel('c1', 'sms', null)]), all, later)).toEqual({
      kind: 'none',
      reasons: [{ rule: 'channel.unverified', message: 'party u1 has no verified second channel (e-mail or SMS)', partyId: 'u1', subjectRole: 'user' }],
    });
  });

  it('refuses with channel.transport-unavailable when no transport serves the verified channels', () => {
    const choice = chooseSecondChannel('u1', party([channel('c1', 'sms', '2026-01-02T00:00:00Z')]), () => false, later);
    expect(choice).toMatchObject({ kind: 'none', reasons: [{ rule: 'channel.transport-unavailable', message: expect.stringContaining('(sms)') }] });
  });

  it('refuses an unknown party', () => {
    expect(chooseSecondChannel('u1', { status: 'unknown' }, all, later)).toMatchObject({ kind: 'none', reasons: [{ rule: 'party.unknown' }] });
  });
});
