import type { SecondChannelKind } from '@sigillum/contracts';

/**
 * A message for a party over its second channel (e-mail, SMS): the one-time code of a session, or the
 * code that verifies a channel at enrolment. `code` is a secret: adapters put it in the message they send
 * (encrypted when it crosses Kafka) and nowhere else — never in a log line or an event.
 */
export interface OutOfBandMessage {
  /** Unique id of this message (also its idempotency key for gateways). */
  readonly messageId: string;
  readonly partyId: string;
  readonly channel: { readonly channelId: string; readonly kind: SecondChannelKind; readonly address: string };
  readonly purpose: 'session-code' | 'channel-verification';
  /** What the code is for, shown to the user so they can tell sessions apart, e.g. the session id. */
  readonly reference: string;
  readonly code: string;
  readonly expiresAt: string;
  /** Correlation of the flow that asked for the message (e.g. the session's); carried by bus-based adapters. */
  readonly correlationId?: string;
  /** Id of the event that caused the message (e.g. SessionSecretIssued's event id). */
  readonly causationId?: string;
}

/**
 * A notice for a party over its second channel: something happened in its private office (a registered
 * correspondence was delivered to its inbox). It carries no secret and no content — only who sent it, its
 * reference and until when to answer — and no link: the party opens the service as it always does.
 */
export interface OutOfBandNotice {
  /** Unique id of this notice (also its idempotency key for gateways). */
  readonly messageId: string;
  readonly partyId: string;
  readonly channel: { readonly channelId: string; readonly kind: SecondChannelKind; readonly address: string };
  readonly purpose: 'correspondence-delivered';
  /** The correspondence id, shown so the recipient can find it in its inbox. */
  readonly reference: string;
  /** The sender's display name in the directory. */
  readonly senderName: string;
  /** The kind of correspondence, e.g. `registered`. */
  readonly correspondenceKind: string;
  /** `consent`: the content is handed over only once the recipient accepts. */
  readonly consignment: 'basic' | 'consent';
  /** ISO-8601: the end of the acceptance window. */
  readonly acceptBy: string;
  readonly correlationId?: string;
  readonly causationId?: string;
}

/**
 * What changed on a party's account, as an account-change notice tells it: never a secret, never a full address
 * (`maskedAddress` is what `maskAddress` gives), never a display name (the notified party knows its own).
 */
export type AccountChange =
  | {
      readonly what: 'channel-added' | 'channel-verified' | 'channel-removed';
      readonly channelKind: SecondChannelKind;
      readonly maskedAddress: string;
      /** The notice goes to the channel concerned itself (a verified channel told of its own removal). */
      readonly thisChannel: boolean;
    }
  | { readonly what: 'key-registered' | 'key-revoked'; readonly algorithm: string; readonly fingerprint: string }
  | { readonly what: 'renamed' };

/**
 * A notice to every other verified channel of a party that its account changed (a channel added, verified or
 * removed, a key registered or revoked, the name changed), so that a change nobody asked for is noticed (issue #8).
 * No secret, no link, no full address: the party opens the service as usual or calls its operator.
 */
export interface AccountChangeNotice {
  /** Unique id of this notice (also its idempotency key for gateways). */
  readonly messageId: string;
  readonly partyId: string;
  /** The channel the notice goes to (not, in general, the one that changed). */
  readonly channel: { readonly channelId: string; readonly kind: SecondChannelKind; readonly address: string };
  readonly purpose: 'account-changed';
  /** Id of the directory event that recorded the change, shown so the operator can find it. */
  readonly reference: string;
  readonly change: AccountChange;
  /** ISO-8601: when the change was recorded (event time). */
  readonly changedAt: string;
  readonly correlationId?: string;
  readonly causationId?: string;
}

export interface OutOfBandReceipt {
  /** Which adapter took the message, e.g. `smtp`, `kafka-gateway`, `file`. */
  readonly transport: string;
  readonly acceptedAt: string;
  /** Transport's own id (SMTP message id, Kafka offset...), when it gives one. */
  readonly transportReference?: string;
}

/** Sends a message over a second channel; rejects with OutOfBandUnavailableError when no transport serves the channel. */
export interface OutOfBandSender {
  send(message: OutOfBandMessage): Promise<OutOfBandReceipt>;
  /** Whether a transport is configured for this kind of channel (a session cannot open without one). */
  supports(kind: SecondChannelKind): boolean;
  /** Which transport serves each kind, for health and ops (e.g. `{ email: 'SmtpSender' }`). */
  describe?(): Partial<Record<SecondChannelKind, string>>;
  /**
   * Sends a notice (no code) over the channel; optional: a transport without it cannot notify, and callers must
   * treat its absence like OutOfBandUnavailableError.
   */
  notify?(notice: OutOfBandNotice | AccountChangeNotice): Promise<OutOfBandReceipt>;
  /** Releases connections (an SMTP pool); called once at shutdown. */
  close?(): void | Promise<void>;
}

export const OUT_OF_BAND_SENDER = Symbol('OUT_OF_BAND_SENDER');

export class OutOfBandUnavailableError extends Error {
  constructor(
    readonly kind: SecondChannelKind,
    detail: string,
  ) {
    super(`No transport for ${kind} messages: ${detail}`);
    this.name = 'OutOfBandUnavailableError';
  }
}

/**
 * The transport took the message but could not deliver it (SMTP refused, bus down, file not writable...).
 * The message is safe to log and to record in an event: adapters never put the code or the full address in it.
 */
export class OutOfBandDeliveryError extends Error {
  constructor(
    readonly transport: string,
    detail: string,
  ) {
    super(`The ${transport} transport could not take the message: ${detail}`);
    this.name = 'OutOfBandDeliveryError';
  }
}

/**
 * A refusal that trying again cannot change: no transport for the channel, or an SMTP permanent reply (5xx: unknown
 * mailbox, policy refusal). Anything else (relay down, 4xx, timeout, bus unavailable) is transient and retried.
 */
export function isPermanentRefusal(error: unknown): boolean {
  if (error instanceof OutOfBandUnavailableError) return true;
  return error instanceof OutOfBandDeliveryError && error.transport === 'smtp' && /(?:^|\s)5\d\d(?:[\s-]|$)/.test(error.message);
}
