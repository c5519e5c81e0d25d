import type { SecondChannelKind } from '@sigillum/contracts';
import { type ChannelHistory, chooseSessionChannel } from '@sigillum/contracts/directory/channel-choice';

export type NoticeChannelChoice<C extends ChannelHistory> =
  | { readonly outcome: 'chosen'; readonly channel: C }
  /** The party's usable channels are all still cooling while it has or had an older one: wait until `usableFrom`. */
  | { readonly outcome: 'cooling'; readonly usableFrom: string }
  | { readonly outcome: 'none'; readonly rule: 'channel.unverified' | 'channel.transport-unavailable' };

/**
 * Which channel the notice of a delivery goes to: the session-code rule (`chooseSessionChannel`, issue #8 — a
 * freshly verified channel gets nothing while an older verified one exists, for CHANNEL_COOLING_HOURS), e-mail
 * first because it is the notice of record: the rule among the e-mail channels a transport serves, then, if it names
 * none, among every channel a transport serves. No rule of its own: only the preference for e-mail.
 */
export function chooseNoticeChannel<C extends ChannelHistory>(
  channels: readonly C[],
  now: Date,
  coolingMs: number,
  serves: (kind: SecondChannelKind) => boolean,
): NoticeChannelChoice<C> {
  const email = chooseSessionChannel(channels, now, coolingMs, (kind) => kind === 'email' && serves(kind));
  if (email.outcome === 'chosen') return { outcome: 'chosen', channel: email.channel };
  const any = chooseSessionChannel(channels, now, coolingMs, serves);
  if (any.outcome === 'chosen') return { outcome: 'chosen', channel: any.channel };
  if (any.rule === 'channel.cooling') return { outcome: 'cooling', usableFrom: any.usableFrom };
  return { outcome: 'none', rule: any.rule };
}
