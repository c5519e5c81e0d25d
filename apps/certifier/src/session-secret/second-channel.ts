import type { Reason, SecondChannelKind } from '@sigillum/contracts';
import type { PartyFacts, SecondChannelFact } from '../state/party-facts';

export type ChannelChoice =
  | { readonly kind: 'chosen'; readonly channel: SecondChannelFact }
  | { readonly kind: 'none'; readonly reasons: readonly Reason[] };

/**
 * The second channel a session code goes to: a verified channel of the party that a configured transport
 * serves, the most recently verified first (SMS before e-mail on a tie). The session runs over HTTPS, so any
 * e-mail or SMS channel differs from it.
 */
export function chooseSecondChannel(
  partyId: string,
  facts: PartyFacts,
  supports: (kind: SecondChannelKind) => boolean,
): ChannelChoice {
  const reason = (rule: string, message: string): Reason => ({ rule, message, partyId, subjectRole: 'user' });
  if (facts.status !== 'registered') return { kind: 'none', reasons: [reason('party.unknown', `party ${partyId} is not in the directory`)] };
  const verified = facts.channels.filter((channel) => channel.verifiedAt !== null);
  if (verified.length === 0) {
    return { kind: 'none', reasons: [reason('channel.unverified', `party ${partyId} has no verified second channel (e-mail or SMS)`)] };
  }
  const usable = verified.filter((channel) => supports(channel.kind));
  if (usable.length === 0) {
    const kinds = [...new Set(verified.map((channel) => channel.kind))].join(', ');
    return {
      kind: 'none',
      reasons: [reason('channel.transport-unavailable', `no transport is configured for the party's verified channel kinds (${kinds})`)],
    };
  }
  const rank = (channel: SecondChannelFact): [number, number] => [Date.parse(channel.verifiedAt ?? ''), channel.kind === 'sms' ? 1 : 0];
  const [best] = [...usable].sort((a, b) => {
    const [ta, ka] = rank(a);
    const [tb, kb] = rank(b);
    return tb - ta || kb - ka;
  });
  return { kind: 'chosen', channel: best };
}
