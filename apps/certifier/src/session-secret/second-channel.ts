import type { Reason, SecondChannelKind } from '@sigillum/contracts';
import { chooseSessionChannel } from '@sigillum/contracts/directory/channel-choice';
import type { PartyFacts, SecondChannelFact } from '../state/party-facts';

export type ChannelChoice = { readonly kind: 'chosen'; readonly channel: SecondChannelFact } | { readonly kind: 'none'; readonly reasons: readonly Reason[] };

/** How the rule is applied: the certifier's clock and CHANNEL_COOLING_HOURS. */
export interface ChannelChoiceContext {
  readonly now: Date;
  readonly coolingMs: number;
}

/**
 * The second channel a session code goes to: `chooseSessionChannel` (libs/contracts/src/directory/channel-choice.ts)
 * over the party's channels as the directory recorded them, among those a configured transport serves. In short:
 * the most recently verified channel that has stood for the cooling period; a party enrolled within that period
 * gets its earliest channel; a party whose only usable channels are still cooling while it has or had an older
 * one gets none (`channel.cooling`, saying when). The session runs over HTTPS, so any e-mail or SMS channel
 * differs from it.
 */
export function chooseSecondChannel(
  partyId: string,
  facts: PartyFacts,
  supports: (kind: SecondChannelKind) => boolean,
  context: ChannelChoiceContext,
): ChannelChoice {
  const reason = (rule: string, message: string): Reason => ({ rule, message, partyId, subjectRole: 'user' });
  if (facts.status !== 'registered') return { kind: 'none', reasons: [reason('party.unknown', `party ${partyId} is not in the directory`)] };
  const choice = chooseSessionChannel(facts.channels, context.now, context.coolingMs, supports);
  if (choice.outcome === 'chosen') return { kind: 'chosen', channel: choice.channel };
  switch (choice.rule) {
    case 'channel.unverified':
      return { kind: 'none', reasons: [reason('channel.unverified', `party ${partyId} has no verified second channel (e-mail or SMS)`)] };
    case 'channel.transport-unavailable':
      return {
        kind: 'none',
        reasons: [reason('channel.transport-unavailable', `no transport is configured for the party's verified channel kinds (${choice.kinds.join(', ')})`)],
      };
    case 'channel.cooling':
      return {
        kind: 'none',
        reasons: [
          reason(
            'channel.cooling',
            `the second channels of party ${partyId} that can be used were all verified within the last ${coolingHours(context.coolingMs)} ` +
              `while an older verified channel exists or existed; codes go to a new channel from ${choice.usableFrom}`,
          ),
        ],
      };
  }
}

const coolingHours = (ms: number): string => {
  const hours = ms / 3600_000;
  return hours === 1 ? '1 hour' : `${Number.isInteger(hours) ? hours : hours.toFixed(2)} hours`;
};
