import { Inject, Injectable, Logger } from '@nestjs/common';
import { PoisonMessageError } from '@sigillum/bus';
import { OUT_OF_BAND_SENDER, type OutOfBandSender } from '@sigillum/channels';
import {
  CLOCK,
  type Clock,
  type DeliveredMessage,
  DomainError,
  eventTypeOf,
  ID_GENERATOR,
  type IdGenerator,
  SESSION_SECRET_CATEGORY,
  type SessionSecretEvent,
  type SessionSecretIssued,
  streamIdOf,
} from '@sigillum/contracts';
import { codeVerifier, generateNumericCode, maskAddress } from '@sigillum/crypto';
import { type CommandContext, commandHandler, EVENT_STORE, type EventStore, type HandleCommand } from '@sigillum/eventstore';
import { SESSION_VERIFIER_KEY, type VerifierKey } from '@sigillum/runtime';
import { CERTIFIER_CONFIG, type CertifierConfig } from '../certifier.config';
import { CERTIFIER_SOURCE } from '../certifier.source';
import { TrustStateReader } from '../state/trust-state.reader';
import { sessionCheckId, TrustCheckService } from '../trust-check/trust-check.service';
import { chooseSecondChannel } from './second-channel';
import { type SecretOffer, type SessionSecretCommand, sessionSecretDecider, type SessionSecretState } from './session-secret.decider';

interface SessionRequestedData {
  readonly sessionId: string;
  readonly userId: string;
  readonly counterpartIds: readonly string[];
  readonly correspondenceKind: string;
  readonly levelRequired: string;
}

const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

function parseSessionRequested(data: Record<string, unknown>): SessionRequestedData {
  const problems: string[] = [];
  for (const field of ['sessionId', 'userId', 'correspondenceKind', 'levelRequired'] as const) {
    if (!isText(data[field])) problems.push(`data.${field} must be a non-empty string`);
  }
  if (!Array.isArray(data.counterpartIds) || !data.counterpartIds.every(isText)) problems.push('data.counterpartIds must be an array of ids');
  if (problems.length > 0) throw new PoisonMessageError(`SessionRequested: ${problems.join('; ')}`);
  return data as unknown as SessionRequestedData;
}

/**
 * The certifier's side of session opening (claim 1): on SessionRequested, the trust check of the user, every
 * counterpart and every chain operator, then — if it passed — one secret in two forms: the verifier in
 * `secret-<sessionId>` for the domicile, the code over the user's verified second channel. On
 * SessionCodeResendRequested, a new code unless throttled. The code lives only in this handler's memory
 * and in the out-of-band message.
 */
@Injectable()
export class SessionSecretHandler {
  private readonly log = new Logger('SessionSecret');
  private readonly handleSecret: HandleCommand<SessionSecretCommand, SessionSecretState, SessionSecretEvent>;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    @Inject(CERTIFIER_CONFIG) private readonly config: CertifierConfig,
    @Inject(SESSION_VERIFIER_KEY) private readonly verifierKey: VerifierKey,
    @Inject(OUT_OF_BAND_SENDER) private readonly sender: OutOfBandSender,
    private readonly trustCheck: TrustCheckService,
    private readonly reader: TrustStateReader,
  ) {
    this.handleSecret = commandHandler(sessionSecretDecider, { store, clock, ids, source: CERTIFIER_SOURCE });
  }

  /** One message of `sigillum.session.events`; events other than the two below are not the certifier's business. */
  async handle(message: DeliveredMessage): Promise<void> {
    const data = message.data as Record<string, unknown> | null;
    const type = eventTypeOf(message);
    if (type !== 'SessionRequested' && type !== 'SessionCodeResendRequested') return;
    if (typeof data !== 'object' || data === null) throw new PoisonMessageError(`${type}: body is not a JSON object`);
    const context: CommandContext = { correlationId: message.correlationId, causationId: message.id };
    if (type === 'SessionRequested') return this.onSessionRequested(parseSessionRequested(data), context);
    if (!isText(data.sessionId)) throw new PoisonMessageError(`${type}: data.sessionId must be a non-empty string`);
    return this.onResendRequested(data.sessionId, context);
  }

  private async onSessionRequested(request: SessionRequestedData, context: CommandContext): Promise<void> {
    const streamId = streamIdOf(SESSION_SECRET_CATEGORY, request.sessionId);
    if ((await this.store.readStream(streamId, { maxCount: 1 })).length > 0) return; // redelivered: already decided

    let passed: boolean;
    try {
      const answer = await this.trustCheck.check(
        {
          purpose: 'session',
          subjectOf: request.sessionId,
          subjects: [
            { partyId: request.userId, subjectRole: 'user' },
            ...request.counterpartIds.map((partyId) => ({ partyId, subjectRole: 'counterpart' as const })),
          ],
          levelRequired: request.levelRequired,
          correspondenceKind: request.correspondenceKind,
          checkId: sessionCheckId(request.sessionId),
        },
        context,
      );
      passed = answer.passed;
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      // The request cannot be checked at all (e.g. an unknown kind): no secret, with the reason.
      await this.handleSecret(
        streamId,
        {
          type: 'IssueSessionSecret',
          sessionId: request.sessionId,
          partyId: request.userId,
          offer: { kind: 'refused', reasons: error.reasons.map((r) => (typeof r === 'string' ? { rule: error.code, message: r } : r)) },
          ttlSeconds: this.config.sessionCodeTtlSeconds,
          now: this.clock.now(),
        },
        context,
      );
      return;
    }
    if (!passed) return; // the domicile denies the session from TrustCheckAnswered

    const { offer, code, address } = await this.prepareSecret(request.userId, request.sessionId);
    const result = await this.handleSecret(
      streamId,
      {
        type: 'IssueSessionSecret',
        sessionId: request.sessionId,
        partyId: request.userId,
        offer,
        ttlSeconds: this.config.sessionCodeTtlSeconds,
        now: this.clock.now(),
      },
      context,
    );
    await this.deliver(result.events, code, address, context);
  }

  private async onResendRequested(sessionId: string, context: CommandContext): Promise<void> {
    const streamId = streamIdOf(SESSION_SECRET_CATEGORY, sessionId);
    const current = await this.store.readStream(streamId);
    // A redelivered resend request already left its mark (its id is the causation of what it caused).
    if (current.some((recorded) => recorded.metadata.causationId === context.causationId)) return;
    const state = current.reduce((s, { event }) => sessionSecretDecider.evolve(s, event as SessionSecretEvent), sessionSecretDecider.initialState());
    const prepared = state.status === 'issued' ? await this.prepareSecret(state.partyId, sessionId) : null;
    const result = await this.handleSecret(
      streamId,
      {
        type: 'ResendSessionSecret',
        sessionId,
        offer: prepared?.offer ?? { kind: 'refused', reasons: [] },
        ttlSeconds: this.config.sessionCodeTtlSeconds,
        resendIntervalSeconds: this.config.sessionResendIntervalSeconds,
        maxResends: this.config.sessionMaxResends,
        now: this.clock.now(),
      },
      context,
    );
    if (prepared) await this.deliver(result.events, prepared.code, prepared.address, context);
  }

  /** Chooses the channel and creates the one secret: the code (kept in memory) and its verifier bound to the session. */
  private async prepareSecret(partyId: string, sessionId: string): Promise<{ offer: SecretOffer; code: string | null; address: string | null }> {
    const { state: facts } = await this.reader.partyFacts(partyId);
    const choice = chooseSecondChannel(partyId, facts, (kind) => this.sender.supports(kind));
    if (choice.kind === 'none') return { offer: { kind: 'refused', reasons: choice.reasons }, code: null, address: null };
    const code = generateNumericCode(this.config.sessionCodeLength);
    const { channel } = choice;
    return {
      code,
      address: channel.address,
      offer: {
        kind: 'offer',
        verifier: codeVerifier(this.verifierKey.key, sessionId, code),
        verifierKeyId: this.verifierKey.keyId,
        codeLength: code.length,
        channel: { channelId: channel.channelId, kind: channel.kind, maskedAddress: maskAddress(channel.kind, channel.address) },
      },
    };
  }

  /** Sends the code once its verifier is recorded; a transport failure is recorded (without the code) so the user can ask again. */
  private async deliver(events: readonly SessionSecretEvent[], code: string | null, address: string | null, context: CommandContext): Promise<void> {
    const issued = events.find((event): event is SessionSecretIssued => event.type === 'SessionSecretIssued');
    if (!issued || code === null || address === null) return;
    const { sessionId, partyId, issueNumber, channel, expiresAt } = issued.data;
    try {
      await this.sender.send({
        messageId: this.ids.next(),
        partyId,
        channel: { channelId: channel.channelId, kind: channel.kind, address },
        purpose: 'session-code',
        reference: sessionId,
        code,
        expiresAt,
      });
    } catch (error) {
      const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      // Transports may echo what they were given: keep the code (and the full address) out of the log and the event.
      const reason = detail.split(code).join('******').split(address).join(channel.maskedAddress).slice(0, 500);
      this.log.warn(`Session ${sessionId}: code ${issueNumber} could not be sent over ${channel.kind} channel ${channel.channelId}: ${reason}`);
      await this.handleSecret(
        streamIdOf(SESSION_SECRET_CATEGORY, sessionId),
        { type: 'RecordDeliveryFailure', sessionId, issueNumber, reason, now: this.clock.now() },
        context,
      );
    }
  }
}
