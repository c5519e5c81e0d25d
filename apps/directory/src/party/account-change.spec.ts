import type { PartyEvent } from '@sigillum/contracts';
import { planAccountNotices } from './account-change';
import { partyDecider } from './party.decider';

const at = '2026-06-01T12:00:00.000Z';
const P = 'party-1';
const registered: PartyEvent = { type: 'PartyRegistered', version: 1, data: { partyId: P, kind: 'person', displayName: 'Bob', registeredAt: at } };
const enrolled = (channelId: string, kind: 'email' | 'sms', address: string): PartyEvent => ({
  type: 'SecondChannelEnrolled',
  version: 1,
  data: {
    partyId: P,
    channelId,
    kind,
    address,
    verifier: 'ab'.repeat(32),
    verifierKeyId: 'k',
    expiresAt: '2026-06-01T12:10:00.000Z',
    maxAttempts: 3,
    enrolledAt: at,
  },
});
const verified = (channelId: string): PartyEvent => ({ type: 'SecondChannelVerified', version: 1, data: { partyId: P, channelId, verifiedAt: at } });
const removed = (channelId: string): PartyEvent => ({ type: 'SecondChannelRemoved', version: 1, data: { partyId: P, channelId, removedAt: at } });
const key: PartyEvent = {
  type: 'PublicKeyRegistered',
  version: 1,
  data: { partyId: P, keyId: 'k1', algorithm: 'Ed25519', use: 'signature', publicKeyPem: 'PEM', fingerprint: 'ab'.repeat(32), registeredAt: at },
};

/** Given the party's past events, when this event is recorded, then these channels are told this. */
const given = (past: PartyEvent[]) => ({
  when: (event: PartyEvent) => {
    const before = past.reduce(partyDecider.evolve, partyDecider.initialState());
    const planned = planAccountNotices(before, event).map(({ channel, change }) => ({ to: channel.channelId, change }));
    return { then: (expected: unknown[]) => expect(planned).toEqual(expected), thenNobodyIsTold: () => expect(planned).toEqual([]) };
  },
});

const bob = [
  registered,
  enrolled('bob-mail', 'email', 'bob@example.org'),
  verified('bob-mail'),
  enrolled('bob-sms', 'sms', '+33612345678'),
  verified('bob-sms'),
];

describe('planAccountNotices: who is told of a change to the account, and what', () => {
  it('given Bob with two verified channels, when a channel is added, then both are told, with its masked address only', () => {
    given(bob)
      .when(enrolled('evil', 'email', 'mallory@evil.example'))
      .then([
        { to: 'bob-mail', change: { what: 'channel-added', channelKind: 'email', maskedAddress: 'm***@evil.example', thisChannel: false } },
        { to: 'bob-sms', change: { what: 'channel-added', channelKind: 'email', maskedAddress: 'm***@evil.example', thisChannel: false } },
      ]);
  });

  it('when the added channel is verified, then the others are told again — but not the new channel itself', () => {
    given([...bob, enrolled('evil', 'email', 'mallory@evil.example')])
      .when(verified('evil'))
      .then([
        { to: 'bob-mail', change: { what: 'channel-verified', channelKind: 'email', maskedAddress: 'm***@evil.example', thisChannel: false } },
        { to: 'bob-sms', change: { what: 'channel-verified', channelKind: 'email', maskedAddress: 'm***@evil.example', thisChannel: false } },
      ]);
  });

  it('when a verified channel is removed, then the others and the removed channel itself are told', () => {
    given(bob)
      .when(removed('bob-mail'))
      .then([
        { to: 'bob-sms', change: { what: 'channel-removed', channelKind: 'email', maskedAddress: 'b***@example.org', thisChannel: false } },
        { to: 'bob-mail', change: { what: 'channel-removed', channelKind: 'email', maskedAddress: 'b***@example.org', thisChannel: true } },
      ]);
  });

  it('when an enrolment that was never verified is removed (withdrawn or superseded), then nobody is told again', () => {
    given([...bob, enrolled('typo', 'email', 'bobb@example.org')])
      .when(removed('typo'))
      .thenNobodyIsTold();
  });

  it('given no verified channel yet, when the first channel is added and verified, then nobody is told', () => {
    given([registered])
      .when(enrolled('first', 'email', 'bob@example.org'))
      .thenNobodyIsTold();
    given([registered, enrolled('first', 'email', 'bob@example.org')])
      .when(verified('first'))
      .thenNobodyIsTold();
  });

  it('when a key is registered or revoked, or the name changes, then every verified channel is told', () => {
    const keyChange = { what: 'key-registered', algorithm: 'Ed25519', fingerprint: 'ab'.repeat(32) };
    given(bob)
      .when(key)
      .then([
        { to: 'bob-mail', change: keyChange },
        { to: 'bob-sms', change: keyChange },
      ]);
    given([...bob, key])
      .when({ type: 'PublicKeyRevoked', version: 1, data: { partyId: P, keyId: 'k1', reason: 'rotated', revokedAt: at } })
      .then([
        { to: 'bob-mail', change: { ...keyChange, what: 'key-revoked' } },
        { to: 'bob-sms', change: { ...keyChange, what: 'key-revoked' } },
      ]);
    given(bob)
      .when({ type: 'PartyRenamed', version: 1, data: { partyId: P, displayName: 'Robert', renamedAt: at } })
      .then([
        { to: 'bob-mail', change: { what: 'renamed' } },
        { to: 'bob-sms', change: { what: 'renamed' } },
      ]);
  });

  it('never tells a removed or unverified channel, and is silent on other events', () => {
    given([...bob, removed('bob-sms'), enrolled('pending', 'sms', '+33698765432')])
      .when({ type: 'PartyRenamed', version: 1, data: { partyId: P, displayName: 'Robert', renamedAt: at } })
      .then([{ to: 'bob-mail', change: { what: 'renamed' } }]);
    given(bob)
      .when({ type: 'IdentityAttributeDeclared', version: 1, data: { partyId: P, name: 'country', value: 'FR', declaredAt: at } })
      .thenNobodyIsTold();
    given([])
      .when(enrolled('x', 'email', 'x@example.org'))
      .thenNobodyIsTold();
  });

  it('never puts a verifier or a full address in what it plans', () => {
    const planned = JSON.stringify(
      planAccountNotices(bob.reduce(partyDecider.evolve, partyDecider.initialState()), enrolled('evil', 'email', 'mallory@evil.example')).map((n) => n.change),
    );
    expect(planned).not.toContain('mallory@evil.example');
    expect(planned).not.toContain('ab'.repeat(32));
  });
});
