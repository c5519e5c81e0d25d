import { Controller, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { PoisonMessageError, RoleEventPattern } from '@sigillum/bus';
import {
  type ChannelHint,
  type DeliveredMessage,
  eventTypeOf,
  type Reason,
  SECOND_CHANNEL_KINDS,
  SESSION_SECRET_CATEGORY,
  type SubjectVerdict,
  Topics,
  TRUST_CHECK_CATEGORY,
} from '@sigillum/contracts';
import type { CommandContext } from '@sigillum/eventstore';
import { SessionLocalStore } from './session-local.store';
import { SessionNotifier } from './session.notifier';
import { SessionService } from './session.service';

/** What the domicile keeps of a SessionSecretIssued (the verifier is the domicile's form of the secret, never the code). */
interface IssuedSecret {
  readonly sessionId: string;
  /** The passed trust check the secret follows. */
  readonly checkId: string;
  readonly issueNumber: number;
  readonly verifier: string;
  readonly verifierKeyId: string;
  readonly channel: ChannelHint;
  readonly issuedAt: string;
  readonly expiresAt: string;
}

/**
 * The authorization submodule listening to the certifier: trust check answers and the session secret's forms.
 * A secret is only issued after a passed check and names it (`checkId`), so SessionSecretIssued alone records
 * the challenge, whatever the order in which the two topics (keyed differently, maybe read by different
 * domicile instances) deliver; a passed TrustCheckAnswered leaves nothing to do, a failed one denies.
 * Idempotent: the decider ignores a check or an issue it already recorded, so redeliveries change nothing.
 * A message whose data does not have the documented shape is poison: it goes to the dead-letter topic with why.
 */
@Controller()
export class SessionConsumer {
  private readonly log = new Logger('SessionConsumer');

  constructor(
    private readonly sessions: SessionService,
    private readonly local: SessionLocalStore,
    private readonly notifier: SessionNotifier,
  ) {}

  @RoleEventPattern('domicile', Topics.eventsOf(TRUST_CHECK_CATEGORY))
  async onTrustCheckEvent(@Payload() message: DeliveredMessage): Promise<void> {
    if (eventTypeOf(message) !== 'TrustCheckAnswered') return;
    const data = parse(message, (d) => ({
      checkId: str(d, 'checkId'),
      purpose: oneOf(d, 'purpose', ['session', 'delivery'] as const),
      subjectOf: str(d, 'subjectOf'),
      passed: bool(d, 'passed'),
      verdicts: arr(d, 'verdicts').map(verdict),
    }));
    // A passed check leaves no event of its own: SessionSecretIssued names it when it records the challenge.
    if (data.purpose !== 'session' || data.passed) return;
    const sessionId = data.subjectOf;
    const result = await this.sessions.execute(
      sessionId,
      { type: 'RecordTrustCheck', checkId: data.checkId, passed: false, verdicts: data.verdicts, now: this.sessions.now() },
      contextOf(message),
    );
    if (result.state.status === 'none') this.log.warn(`Trust check ${data.checkId} answers session ${sessionId}, unknown to this domicile; ignored`);
  }

  @RoleEventPattern('domicile', Topics.eventsOf(SESSION_SECRET_CATEGORY))
  async onSecretEvent(@Payload() message: DeliveredMessage): Promise<void> {
    const type = eventTypeOf(message);
    const context = contextOf(message);
    switch (type) {
      case 'SessionSecretIssued': {
        const issued = parse(message, (d): IssuedSecret => ({
          sessionId: str(d, 'sessionId'),
          checkId: str(d, 'checkId'),
          issueNumber: int(d, 'issueNumber'),
          verifier: hex(d, 'verifier'),
          verifierKeyId: str(d, 'verifierKeyId'),
          channel: channel(obj(d, 'channel')),
          issuedAt: time(d, 'issuedAt'),
          expiresAt: time(d, 'expiresAt'),
        }));
        const result = await this.recordChallenge(issued, context);
        if (result.state.status === 'none') {
          this.log.warn(`Secret issue ${issued.issueNumber} for session ${issued.sessionId}, unknown to this domicile; ignored`);
        }
        return;
      }
      case 'SessionSecretRefused': {
        const refused = parse(message, (d) => ({
          sessionId: str(d, 'sessionId'),
          partyId: str(d, 'partyId'),
          reasons: arr(d, 'reasons').map(reason),
        }));
        await this.sessions.execute(
          refused.sessionId,
          { type: 'RecordSecretRefused', partyId: refused.partyId, reasons: refused.reasons, now: this.sessions.now() },
          context,
        );
        return;
      }
      case 'SessionSecretResendRefused': {
        const refused = parse(message, (d) => ({
          sessionId: str(d, 'sessionId'),
          reasons: arr(d, 'reasons').map(reason),
          retryAfter: d.retryAfter === null ? null : time(d, 'retryAfter'),
          refusedAt: time(d, 'refusedAt'),
        }));
        const first = refused.reasons[0];
        this.local.recordNotice(refused.sessionId, {
          rule: first?.rule ?? 'resend.refused',
          message: first?.message ?? 'The certifier refused to send a new code now',
          at: refused.refusedAt,
          retryAfter: refused.retryAfter,
        });
        this.notifier.changed(refused.sessionId);
        return;
      }
      case 'SecondChannelDeliveryFailed': {
        const failed = parse(message, (d) => ({
          sessionId: str(d, 'sessionId'),
          issueNumber: int(d, 'issueNumber'),
          channel: channel(obj(d, 'channel')),
          failedAt: time(d, 'failedAt'),
        }));
        // The transport's own reason is not copied: it may name the address.
        this.local.recordNotice(failed.sessionId, {
          rule: 'channel.delivery-failed',
          message: `Code ${failed.issueNumber} could not be delivered by ${failed.channel.kind} to ${failed.channel.maskedAddress}; ask for a resend`,
          at: failed.failedAt,
        });
        this.notifier.changed(failed.sessionId);
        return;
      }
      default:
        return;
    }
  }

  private recordChallenge(issued: IssuedSecret, context: CommandContext) {
    // A redelivered or older issue, or one for a session already denied (or over), changes nothing: the decider says so.
    return this.sessions.execute(
      issued.sessionId,
      {
        type: 'RecordChallenge',
        checkId: issued.checkId,
        issueNumber: issued.issueNumber,
        verifier: issued.verifier,
        verifierKeyId: issued.verifierKeyId,
        channel: issued.channel,
        expiresAt: issued.expiresAt,
        issuedAt: issued.issuedAt,
      },
      context,
    );
  }
}

const contextOf = (message: DeliveredMessage): CommandContext => ({ correlationId: message.correlationId, causationId: message.id });

//////// Shape checks: a message that does not match is poison (dead-lettered with the reason)

type Data = Record<string, unknown>;

class ShapeError extends Error {}

function parse<T>(message: DeliveredMessage, read: (data: Data) => T): T {
  try {
    if (typeof message.data !== 'object' || message.data === null || Array.isArray(message.data)) throw new ShapeError('data is not an object');
    return read(message.data as Data);
  } catch (error) {
    if (error instanceof ShapeError) {
      throw new PoisonMessageError(`${message.type} ${message.id} (dataversion ${message.dataVersion}) has an unexpected shape: ${error.message}`);
    }
    throw error;
  }
}

function obj(d: Data, field: string): Data {
  const value = d[field];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ShapeError(`${field} must be an object`);
  return value as Data;
}
function str(d: Data, field: string): string {
  const value = d[field];
  if (typeof value !== 'string' || value.length === 0 || value.length > 512) throw new ShapeError(`${field} must be a non-empty string`);
  return value;
}
function hex(d: Data, field: string): string {
  const value = str(d, field);
  if (!/^[0-9a-f]{64}$/.test(value)) throw new ShapeError(`${field} must be 64 lowercase hex digits`);
  return value;
}
function time(d: Data, field: string): string {
  const value = str(d, field);
  if (Number.isNaN(Date.parse(value))) throw new ShapeError(`${field} must be an ISO-8601 time`);
  return value;
}
function bool(d: Data, field: string): boolean {
  if (typeof d[field] !== 'boolean') throw new ShapeError(`${field} must be a boolean`);
  return d[field] as boolean;
}
function int(d: Data, field: string): number {
  const value = d[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new ShapeError(`${field} must be an integer >= 1`);
  return value;
}
function arr(d: Data, field: string): Data[] {
  const value = d[field];
  if (!Array.isArray(value)) throw new ShapeError(`${field} must be an array`);
  return value.map((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new ShapeError(`${field}[${i}] must be an object`);
    return item as Data;
  });
}
function oneOf<T extends string>(d: Data, field: string, allowed: readonly T[]): T {
  const value = d[field];
  if (typeof value !== 'string' || !allowed.includes(value as T)) throw new ShapeError(`${field} must be one of ${allowed.join(', ')}`);
  return value as T;
}
const SUBJECT_ROLES = ['user', 'counterpart', 'operator', 'sender', 'recipient'] as const;
function reason(d: Data): Reason {
  const partyId = d.partyId === undefined ? undefined : str(d, 'partyId');
  const subjectRole = d.subjectRole === undefined ? undefined : oneOf(d, 'subjectRole', SUBJECT_ROLES);
  return { rule: str(d, 'rule'), message: str(d, 'message'), ...(partyId ? { partyId } : {}), ...(subjectRole ? { subjectRole } : {}) };
}
function verdict(d: Data): SubjectVerdict {
  const subjectRole = oneOf(d, 'subjectRole', SUBJECT_ROLES);
  return {
    // A chain step that no processing operator offers yields an operator verdict without a party.
    partyId: subjectRole === 'operator' && d.partyId === '' ? '' : str(d, 'partyId'),
    subjectRole,
    levelHeld: d.levelHeld === null ? null : str(d, 'levelHeld'),
    levelRequired: str(d, 'levelRequired'),
    validNow: bool(d, 'validNow'),
    reasons: arr(d, 'reasons').map(reason),
  };
}
function channel(d: Data): ChannelHint {
  return { channelId: str(d, 'channelId'), kind: oneOf(d, 'kind', SECOND_CHANNEL_KINDS), maskedAddress: str(d, 'maskedAddress') };
}
