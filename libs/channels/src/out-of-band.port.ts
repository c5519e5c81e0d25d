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
  /** Releases connections (an SMTP pool); called once at shutdown. */
  close?(): void | Promise<void>;
}

export const OUT_OF_BAND_SENDER = Symbol('OUT_OF_BAND_SENDER');

export class OutOfBandUnavailableError extends Error {
  constructor(readonly kind: SecondChannelKind, detail: string) {
    super(`No transport for ${kind} messages: ${detail}`);
    this.name = 'OutOfBandUnavailableError';
  }
}

/**
 * The transport took the message but could not deliver it (SMTP refused, bus down, file not writable...).
 * The message is safe to log and to record in an event: adapters never put the code or the full address in it.
 */
export class OutOfBandDeliveryError extends Error {
  constructor(readonly transport: string, detail: string) {
    super(`The ${transport} transport could not take the message: ${detail}`);
    this.name = 'OutOfBandDeliveryError';
  }
}
