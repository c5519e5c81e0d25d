import type { PartyFacts, SecondChannelFact } from '../state/party-facts';
import { chooseSecondChannel } from './second-channel';

const channel = (channelId: string, kind: 'sms' | 'email', verifiedAt: string | null): SecondChannelFact => ({
  channelId,
  kind,
  address: kind === 'sms' ? '+33612345678' : 'ada@example.org',
  enrolledAt: '2026-01-01T00:00:00.000Z',
  verifiedAt,
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

describe('chooseSecondChannel', () => {
  it('takes the most recently verified channel', () => {
    const choice = chooseSecondChannel('u1', party([channel('c1', 'sms', '2026-01-02T00:00:00Z'), channel('c2', 'email', '2026-01-03T00:00:00Z')]), all);
    expect(choice).toMatchObject({ kind: 'chosen', channel: { channelId: 'c2' } });
  });

  it('prefers SMS on a tie, and never an unverified channel', () => {
    const choice = chooseSecondChannel(
      'u1',
      party([channel('c1', 'email', '2026-01-02T00:00:00Z'), channel('c2', 'sms', '2026-01-02T00:00:00Z'), channel('c3', 'sms', null)]),
      all,
    );
    expect(choice).toMatchObject({ kind: 'chosen', channel: { channelId: 'c2' } });
  });

  it('skips channels no transport serves', () => {
    const choice = chooseSecondChannel('u1', party([channel('c1', 'sms', '2026-01-03T00:00:00Z'), channel('c2', 'email', '2026-01-02T00:00:00Z')]), (kind) => kind === 'email');
    expect(choice).toMatchObject({ kind: 'chosen', channel: { channelId: 'c2' } });
  });

  it('refuses with channel.unverified when no channel is verified', () => {
    expect(chooseSecondChannel('u1', party([channel('c1', 'sms', null)]), all)).toEqual({
      kind: 'none',
      reasons: [{ rule: 'channel.unverified', message: 'party u1 has no verified second channel (e-mail or SMS)', partyId: 'u1', subjectRole: 'user' }],
    });
  });

  it('refuses with channel.transport-unavailable when no transport serves the verified channels', () => {
    const choice = chooseSecondChannel('u1', party([channel('c1', 'sms', '2026-01-02T00:00:00Z')]), () => false);
    expect(choice).toMatchObject({ kind: 'none', reasons: [{ rule: 'channel.transport-unavailable' }] });
  });

  it('refuses an unknown party', () => {
    expect(chooseSecondChannel('u1', { status: 'unknown' }, all)).toMatchObject({ kind: 'none', reasons: [{ rule: 'party.unknown' }] });
  });
});
