import type { AccountChange } from '@sigillum/channels';
import type { PartyEvent } from '@sigillum/contracts';
import { maskAddress } from '@sigillum/crypto';
import type { ChannelState, PartyState } from './party.decider';

/** One notice to plan: the channel told, and what it is told. */
export interface PlannedNotice {
  /** The channel the notice goes to: verified at the time of the change. */
  readonly channel: ChannelState;
  readonly change: AccountChange;
}

/** The directory events that tell the party's channels something (issue #8); the others are silent. */
export const NOTICED_EVENT_TYPES: ReadonlySet<PartyEvent['type']> = new Set([
  'SecondChannelEnrolled',
  'SecondChannelVerified',
  'SecondChannelRemoved',
  'PublicKeyRegistered',
  'PublicKeyRevoked',
  'PartyRenamed',
]);

/**
 * Who is told of a change to a party's account, and what — a pure rule over the party as it stood just before the
 * event (`before`, the directory's own fold) and the event:
 * - a channel added (enrolled), or confirmed (verified): every *other* channel verified before it, with the new
 *   channel's masked address. A freshly enrolled channel is never told of itself; the first channel of a party
 *   has nobody to tell;
 * - a verified channel removed: every other verified channel, and the removed channel itself (it was the party's;
 *   its owner learns it no longer gets the codes). A removed enrolment that was never verified (withdrawn, or
 *   superseded by a new enrolment of the address) is silent: the enrolment was already told;
 * - a key registered or revoked, the name changed: every verified channel.
 * Each notice names the change with masked addresses and key fingerprints only — never the verifier, a code or a
 * full address. Removed or unverified channels are never told (except the removed channel of its own removal).
 */
export function planAccountNotices(before: PartyState, event: PartyEvent): PlannedNotice[] {
  if (before.status !== 'registered' || !NOTICED_EVENT_TYPES.has(event.type)) return [];
  const verified = before.channels.filter((c) => c.status === 'verified');
  const others = (channelId: string) => verified.filter((c) => c.channelId !== channelId);
  const toAll = (change: AccountChange) => verified.map((channel) => ({ channel, change }));
  switch (event.type) {
    case 'SecondChannelEnrolled': {
      const { channelId, kind, address } = event.data;
      const change: AccountChange = { what: 'channel-added', channelKind: kind, maskedAddress: maskAddress(kind, address), thisChannel: false };
      return others(channelId).map((channel) => ({ channel, change }));
    }
    case 'SecondChannelVerified': {
      const subject = before.channels.find((c) => c.channelId === event.data.channelId);
      if (!subject || subject.status !== 'pending') return [];
      const change: AccountChange = {
        what: 'channel-verified',
        channelKind: subject.kind,
        maskedAddress: maskAddress(subject.kind, subject.address),
        thisChannel: false,
      };
      return others(subject.channelId).map((channel) => ({ channel, change }));
    }
    case 'SecondChannelRemoved': {
      const subject = before.channels.find((c) => c.channelId === event.data.channelId);
      if (!subject || subject.status !== 'verified') return [];
      const about = { what: 'channel-removed', channelKind: subject.kind, maskedAddress: maskAddress(subject.kind, subject.address) } as const;
      return [
        ...others(subject.channelId).map((channel) => ({ channel, change: { ...about, thisChannel: false } })),
        { channel: subject, change: { ...about, thisChannel: true } },
      ];
    }
    case 'PublicKeyRegistered':
      return toAll({ what: 'key-registered', algorithm: event.data.algorithm, fingerprint: event.data.fingerprint });
    case 'PublicKeyRevoked': {
      const key = before.keys.find((k) => k.keyId === event.data.keyId);
      return key && !key.revoked ? toAll({ what: 'key-revoked', algorithm: key.algorithm, fingerprint: key.fingerprint }) : [];
    }
    case 'PartyRenamed':
      return toAll({ what: 'renamed' });
    default:
      return [];
  }
}
