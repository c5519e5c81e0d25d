import type { PartyEvent, SecondChannelKind } from './party.events';

/**
 * Which second channel a session code goes to — the rule that keeps a freshly added channel from taking over a
 * party's codes at once (issue #8: someone holding or abusing a party's session adds and verifies a channel of
 * their own, then asks for a session in the party's name).
 *
 * Definitions, all in event time (the `verifiedAt` / `removedAt` the directory recorded) against an injected `now`:
 * - a channel is **settled** once it has stayed verified for the whole cooling period: `verifiedAt + cooling ≤ now`
 *   and, if it was removed, `verifiedAt + cooling ≤ removedAt`;
 * - a channel is a **candidate** when it is verified, not removed, and a configured transport serves its kind.
 *
 * The choice:
 * 1. among the candidates that are settled, the most recently verified (SMS before e-mail on a tie, then the
 *    channel id) — the party's freshest channel that has stood for the cooling period;
 * 2. else, if the party has **never had** a settled channel (current or removed, served or not) — a party enrolled
 *    within the cooling period — the **earliest** verified candidate: the enrolment case. The earliest rather than
 *    the newest, so that a channel added during the first hours still does not take the codes from the one the
 *    party was enrolled with;
 * 3. else nothing: `channel.cooling`. The party has (or had) a settled channel but none that can be used now —
 *    it was removed, or no transport serves it — and the channels it has were all added within the cooling period.
 *    The answer says when the earliest of them settles. Removing the old channel therefore does not hand the codes
 *    to a new one before its cooling period ends.
 *
 * No verified channel at all is `channel.unverified`; verified channels that no transport serves (and nothing to
 * wait for) is `channel.transport-unavailable`. A cooling period of 0 turns the rule off (the most recently
 * verified candidate, as before). A `verifiedAt` after `now` (clocks of two roles apart) counts as not settled.
 */

/** Default of CHANNEL_COOLING_HOURS. */
export const DEFAULT_CHANNEL_COOLING_HOURS = 24;

/** What the rule needs to know of a channel; readers keep removed channels (with `removedAt`) for rule 2. */
export interface ChannelHistory {
  readonly channelId: string;
  readonly kind: SecondChannelKind;
  /** Null until the party typed the enrolment code. */
  readonly verifiedAt: string | null;
  /** Null while the channel belongs to the party. */
  readonly removedAt: string | null;
}

export type SessionChannelChoice<C extends ChannelHistory> =
  /** `settled`: rule 1; `enrolment`: rule 2. */
  | { readonly outcome: 'chosen'; readonly channel: C; readonly basis: 'settled' | 'enrolment' }
  | { readonly outcome: 'none'; readonly rule: 'channel.unverified' | 'channel.transport-unavailable'; readonly kinds: readonly SecondChannelKind[] }
  /** `usableFrom`: when the earliest verified candidate settles. */
  | { readonly outcome: 'none'; readonly rule: 'channel.cooling'; readonly usableFrom: string; readonly kinds: readonly SecondChannelKind[] };

const time = (iso: string | null): number => (iso === null ? Number.NaN : Date.parse(iso));

/** When the channel settles (NaN when it was never verified). */
export function settlesAt(channel: ChannelHistory, coolingMs: number): number {
  return time(channel.verifiedAt) + coolingMs;
}

/** Whether the channel stayed verified for the whole cooling period, by `now` (and before its removal, if removed). */
export function isSettled(channel: ChannelHistory, now: Date, coolingMs: number): boolean {
  const settles = settlesAt(channel, coolingMs);
  if (Number.isNaN(settles) || settles > now.getTime()) return false;
  return channel.removedAt === null || settles <= time(channel.removedAt);
}

/** Most recently verified first; SMS before e-mail on a tie; then by channel id, so the choice never depends on order. */
const newestFirst = (a: ChannelHistory, b: ChannelHistory): number =>
  time(b.verifiedAt) - time(a.verifiedAt) || (a.kind === b.kind ? 0 : a.kind === 'sms' ? -1 : 1) || a.channelId.localeCompare(b.channelId);

/** The rule above: pure, event time only. `serves` says whether a transport is configured for a kind. */
export function chooseSessionChannel<C extends ChannelHistory>(
  channels: readonly C[],
  now: Date,
  coolingMs: number,
  serves: (kind: SecondChannelKind) => boolean = () => true,
): SessionChannelChoice<C> {
  if (!Number.isFinite(coolingMs) || coolingMs < 0) throw new RangeError(`coolingMs must be a finite number ≥ 0, got ${coolingMs}`);
  const verified = channels.filter((c) => c.verifiedAt !== null && c.removedAt === null);
  const kinds = [...new Set(verified.map((c) => c.kind))];
  const candidates = verified.filter((c) => serves(c.kind)).sort(newestFirst);
  const settled = candidates.filter((c) => isSettled(c, now, coolingMs));
  if (settled.length > 0) return { outcome: 'chosen', channel: settled[0], basis: 'settled' };
  const everSettled = channels.some((c) => c.verifiedAt !== null && isSettled(c, now, coolingMs));
  if (candidates.length > 0) {
    const earliest = candidates[candidates.length - 1];
    if (!everSettled) return { outcome: 'chosen', channel: earliest, basis: 'enrolment' };
    return { outcome: 'none', rule: 'channel.cooling', usableFrom: new Date(settlesAt(earliest, coolingMs)).toISOString(), kinds };
  }
  return { outcome: 'none', rule: verified.length === 0 ? 'channel.unverified' : 'channel.transport-unavailable', kinds };
}

/**
 * A reader of the directory's channel facts: folds a party's events into the history the rule needs (removed
 * channels kept, with `removedAt`). Events other than the four channel events leave it as it is.
 */
export function evolveChannelHistory(channels: readonly ChannelHistory[], event: PartyEvent): ChannelHistory[] {
  switch (event.type) {
    case 'SecondChannelEnrolled': {
      const { channelId, kind } = event.data;
      return [...channels.filter((c) => c.channelId !== channelId), { channelId, kind, verifiedAt: null, removedAt: null }];
    }
    case 'SecondChannelVerified':
      return channels.map((c) => (c.channelId === event.data.channelId && c.removedAt === null ? { ...c, verifiedAt: event.data.verifiedAt } : c));
    case 'SecondChannelRemoved':
      return channels.map((c) => (c.channelId === event.data.channelId && c.removedAt === null ? { ...c, removedAt: event.data.removedAt } : c));
    default:
      return [...channels];
  }
}
