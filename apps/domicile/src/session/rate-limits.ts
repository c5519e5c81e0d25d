import { isIP } from 'node:net';

/**
 * Abuse limits on opening sessions (NIST SP 800-63B, out-of-band codes: rate-limited), as pure rules: a sliding
 * window per key, deciding from the times of the requests already counted under that key whether one more is
 * allowed and, if not, how long until the window frees a slot. No clock, no store: the limiter passes both in.
 *
 *   session.rate-limited.address   session requests (POST /sessions, resends) per client address per hour
 *   session.rate-limited.user      codes asked for (POST /sessions, resends) per user per hour
 *   session.rate-limited.attempts  wrong codes per user, across all of its sessions, per window
 */

export type RateLimitRule = 'session.rate-limited.address' | 'session.rate-limited.user' | 'session.rate-limited.attempts';

export interface RateLimit {
  readonly rule: RateLimitRule;
  /** How many counted requests the window holds; 0 turns the limit off. */
  readonly limit: number;
  readonly windowMs: number;
}

/** One limit applied to one subject (a user id, a client address), with the times (ms) already counted under it. */
export interface RateCheck {
  readonly limit: RateLimit;
  readonly subject: string;
  readonly counted: readonly number[];
  /**
   * Further times counted inside the window and not listed, all older than the listed ones (a store lists only the
   * newest `limit` of a busy key, or none while the window has room: the decision needs no more). Default 0.
   */
  readonly older?: number;
}

export type RateDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** Whole seconds (≥ 1) until every refusing window frees a slot: the Retry-After header. */
      readonly retryAfterSeconds: number;
      readonly refused: readonly { readonly rule: RateLimitRule; readonly retryAfterSeconds: number }[];
    };

export const HOUR_MS = 3_600_000;

/** Counted times still inside the window ending at `now` (a time after `now`, from a clock set back, still counts). */
export const inWindow = (limit: RateLimit, counted: readonly number[], now: number): number[] =>
  counted.filter((at) => at > now - limit.windowMs).sort((a, b) => a - b);

/**
 * Milliseconds until one more request fits in the window, 0 when it fits now. With `n` counted times inside the
 * window and room for `limit`, the oldest `n - limit + 1` must leave it: the last of them leaves at its time plus
 * the window.
 */
export function waitMs(limit: RateLimit, counted: readonly number[], now: number, older = 0): number {
  if (limit.limit <= 0) return 0;
  const inside = inWindow(limit, counted, now);
  if (inside.length + older < limit.limit) return 0;
  // The time that must leave is among the older ones, not listed (a store listing as it should never gets here): the window.
  if (inside.length < limit.limit) return limit.windowMs;
  return Math.max(1, inside[inside.length - limit.limit] + limit.windowMs - now);
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** Every check must allow; when some refuse, the answer names each and waits for the longest. */
export function decide(checks: readonly RateCheck[], now: number): RateDecision {
  const refused = checks
    .map((check) => ({ rule: check.limit.rule, wait: waitMs(check.limit, check.counted, now, check.older) }))
    .filter((check) => check.wait > 0)
    .map((check) => ({ rule: check.rule, retryAfterSeconds: seconds(check.wait) }));
  if (refused.length === 0) return { allowed: true };
  return { allowed: false, retryAfterSeconds: Math.max(...refused.map((r) => r.retryAfterSeconds)), refused };
}

/** The time before which nothing counted under this limit matters any more (what a store may prune). */
export const prunableBefore = (limit: RateLimit, now: number) => now - limit.windowMs;

/**
 * What a refusal says, the same whether or not a party with this id exists (the limit counts requests for an id,
 * whatever the answer to them was).
 */
export function rateLimitMessage(limit: RateLimit): string {
  const window = limit.windowMs % HOUR_MS === 0 ? `${limit.windowMs / HOUR_MS} hour(s)` : `${Math.round(limit.windowMs / 60_000)} minute(s)`;
  switch (limit.rule) {
    case 'session.rate-limited.address':
      return `At most ${limit.limit} session requests from one address in ${window}`;
    case 'session.rate-limited.user':
      return `At most ${limit.limit} session codes for one user in ${window}`;
    case 'session.rate-limited.attempts':
      return `At most ${limit.limit} wrong codes for one user's sessions in ${window}: no new session nor code until the window passes`;
  }
}

/**
 * The subject a client address is counted under: IPv4 as is (an IPv4-mapped IPv6 address as its IPv4), IPv6 by
 * its /64 prefix (one subscriber usually holds a whole /64, so counting single addresses would not limit it).
 */
export function addressSubject(address: string | undefined | null): string {
  if (!address) return 'unknown';
  let ip = address.trim();
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1];
  const family = isIP(ip);
  if (family === 4) return ip;
  if (family !== 6) return ip.toLowerCase();
  return `${expandIpv6(ip).slice(0, 4).join(':')}::/64`;
}

/** The eight hextets of an IPv6 address (an embedded IPv4 tail becomes two hextets). */
function expandIpv6(ip: string): string[] {
  let text = ip.toLowerCase();
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const middle = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((hextet) => hextet.replace(/^0+(?=.)/, ''));
}
