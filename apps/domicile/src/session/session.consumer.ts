import { Controller, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { causedBy, parseData, RoleEventPattern } from '@sigillum/bus';
import {
  type ChannelHint,
  type DeliveredMessage,
  eventTypeOf,
  readSecondChannelDeliveryFailed,
  readSessionSecretIssued,
  readSessionSecretRefused,
  readSessionSecretResendRefused,
  readTrustCheckAnswered,
  recordableReasons,
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

  @RoleEventPattern('domicile', Topics.eventsOf(TRUST_CHECK_CATEGORY), ['TrustCheckAnswered'])
  async onTrustCheckEvent(@Payload() message: DeliveredMessage): Promise<void> {
    if (eventTypeOf(message) !== 'TrustCheckAnswered') return;
    const answered = parseData(message, readTrustCheckAnswered);
    const data = { ...answered, verdicts: answered.verdicts.map(verdict) };
    // A passed check leaves no event of its own: SessionSecretIssued names it when it records the challenge.
    if (data.purpose !== 'session' || data.passed) return;
    const sessionId = data.subjectOf;
    const result = await this.sessions.execute(
      sessionId,
      { type: 'RecordTrustCheck', checkId: data.checkId, passed: false, verdicts: data.verdicts, now: this.sessions.now() },
      causedBy(message),
    );
    if (result.state.status === 'none') this.log.warn(`Trust check ${data.checkId} answers session ${sessionId}, unknown to this domicile; ignored`);
  }

  @RoleEventPattern('domicile', Topics.eventsOf(SESSION_SECRET_CATEGORY))
  async onSecretEvent(@Payload() message: DeliveredMessage): Promise<void> {
    const type = eventTypeOf(message);
    const context = causedBy(message);
    switch (type) {
      case 'SessionSecretIssued': {
        const read = parseData(message, readSessionSecretIssued);
        const issued: IssuedSecret = {
          sessionId: read.sessionId,
          checkId: read.checkId,
          issueNumber: read.issueNumber,
          verifier: read.verifier,
          verifierKeyId: read.verifierKeyId,
          channel: channel(read.channel),
          issuedAt: read.issuedAt,
          expiresAt: read.expiresAt,
        };
        const result = await this.recordChallenge(issued, context);
        if (result.state.status === 'none') {
          this.log.warn(`Secret issue ${issued.issueNumber} for session ${issued.sessionId}, unknown to this domicile; ignored`);
        }
        return;
      }
      case 'SessionSecretRefused': {
        const read = parseData(message, readSessionSecretRefused);
        const refused = { sessionId: read.sessionId, partyId: read.partyId, reasons: recordableReasons(read.reasons) };
        await this.sessions.execute(
          refused.sessionId,
          { type: 'RecordSecretRefused', partyId: refused.partyId, reasons: refused.reasons, now: this.sessions.now() },
          context,
        );
        return;
      }
      case 'SessionSecretResendRefused': {
        const refused = parseData(message, readSessionSecretResendRefused);
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
        const failed = parseData(message, readSecondChannelDeliveryFailed);
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

//////// What the domicile records again of the certifier's events (read by the contracts readers)

function verdict(v: SubjectVerdict): SubjectVerdict {
  const { partyId, subjectRole, levelHeld, levelRequired, validNow, reasons } = v;
  return { partyId, subjectRole, levelHeld, levelRequired, validNow, reasons: recordableReasons(reasons) };
}
function channel({ channelId, kind, maskedAddress }: ChannelHint): ChannelHint {
  return { channelId, kind, maskedAddress };
}
