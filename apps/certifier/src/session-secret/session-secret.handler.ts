import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { causedBy, parseData } from '@sigillum/bus';
import { OUT_OF_BAND_SENDER, type OutOfBandSender } from '@sigillum/channels';
import {
  CLOCK,
  type Clock,
  type DeliveredMessage,
  DomainError,
  eventTypeOf,
  foldEvents,
  ID_GENERATOR,
  type IdGenerator,
  readSessionCodeResendRequested,
  readSessionRequested,
  SESSION_SECRET_CATEGORY,
  type SessionSecretEvent,
  type SessionSecretIssued,
  streamIdOf,
} from '@sigillum/contracts';
import { DEFAULT_CHANNEL_COOLING_HOURS } from '@sigillum/contracts/directory/channel-choice';
import { codeVerifier, generateNumericCode, maskAddress } from '@sigillum/crypto';
import { type CommandContext, commandHandler, EVENT_STORE, type EventStore, type HandleCommand } from '@sigillum/eventstore';
import { SESSION_VERIFIER_KEY, type VerifierKey } from '@sigillum/runtime';
import { CERTIFIER_CONFIG, type CertifierConfig } from '../certifier.config';
import { CERTIFIER_SOURCE } from '../certifier.source';
import { TrustStateReader } from '../state/trust-state.reader';
import { sessionCheckId, TrustCheckService } from '../trust-check/trust-check.service';
import { OutOfBandDeliveryQueue } from './out-of-band-delivery';
import { chooseSecondChannel } from './second-channel';
import { type SecretOffer, type SessionSecretCommand, sessionSecretDecider, type SessionSecretState } from './session-secret.decider';

interface SessionRequestedData {
  readonly sessionId: string;
  readonly userId: string;
  readonly counterpartIds: readonly string[];
  readonly correspondenceKind: string;
  readonly levelRequired: string;
}

/**
 * The certifier's side of session opening (claim 1): on SessionRequested, the trust check of the user, every
 * counterpart and every chain operator, then — if it passed — one secret in two forms: the verifier in
 * `secret-<sessionId>` for the domicile, the code over the user's verified second channel. On
 * SessionCodeResendRequested, a new code unless throttled. The code lives only in this handler's memory
 * (and its delivery queue's) and in the out-of-band message.
 *
 * The send itself does not hold the consumer: once SessionSecretIssued is appended, the message goes to a
 * bounded-concurrency delivery queue (OOB_SEND_CONCURRENCY) and the handler returns, so the transport's
 * latency no longer caps how many sessions open per second. A failed send still records
 * SecondChannelDeliveryFailed; shutdown waits for queued sends (OOB_SEND_DRAIN_SECONDS).
 */
@Injectable()
export class SessionSecretHandler implements OnApplicationShutdown {
  private readonly log = new Logger('SessionSecret');
  private readonly handleSecret: HandleCommand<SessionSecretCommand, SessionSecretState, SessionSecretEvent>;
  private readonly deliveries: OutOfBandDeliveryQueue;

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
    this.deliveries = new OutOfBandDeliveryQueue(config.oobSendConcurrency ?? 16);
  }

  /** Lets the queued out-of-band sends finish (the consumers are stopped by now, the event store still open). */
  async onApplicationShutdown(): Promise<void> {
    const pending = this.deliveries.pending;
    if (pending === 0) return;
    const seconds = this.config.oobSendDrainSeconds ?? 10;
    if (!(await this.deliveries.drain(seconds * 1000))) {
      this.log.warn(
        `${this.deliveries.pending} out-of-band send(s) of session codes did not finish within ${seconds}s of shutdown; their users can ask for a resend`,
      );
    }
  }

  /** Resolves once every out-of-band send handed over so far has run (and its failure, if any, is recorded). */
  async deliveriesSettled(timeoutMs = 30_000): Promise<boolean> {
    return this.deliveries.drain(timeoutMs);
  }

  /** One message of `sigillum.session.events`; events other than the two below are not the certifier's business. */
  async handle(message: DeliveredMessage): Promise<void> {
    const type = eventTypeOf(message);
    if (type !== 'SessionRequested' && type !== 'SessionCodeResendRequested') return;
    const context: CommandContext = causedBy(message);
    if (type === 'SessionRequested') return this.onSessionRequested(parseData(message, readSessionRequested), context);
    return this.onResendRequested(parseData(message, readSessionCodeResendRequested).sessionId, context);
  }

  private async onSessionRequested(request: SessionRequestedData, context: CommandContext): Promise<void> {
    const streamId = streamIdOf(SESSION_SECRET_CATEGORY, request.sessionId);
    if ((await this.store.readStream(streamId, { maxCount: 1 })).length > 0) return; // redelivered: already decided

    const checkId = sessionCheckId(request.sessionId);
    let answer: { readonly passed: boolean; readonly checkId: string };
    try {
      answer = await this.trustCheck.check(
        {
          purpose: 'session',
          subjectOf: request.sessionId,
          subjects: [
            { partyId: request.userId, subjectRole: 'user' },
            ...request.counterpartIds.map((partyId) => ({ partyId, subjectRole: 'counterpart' as const })),
          ],
          levelRequired: request.levelRequired,
          correspondenceKind: request.correspondenceKind,
          checkId,
        },
        context,
      );
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      // The request cannot be checked at all (e.g. an unknown kind): no secret, with the reason.
      await this.handleSecret(
        streamId,
        {
          type: 'IssueSessionSecret',
          sessionId: request.sessionId,
          checkId,
          partyId: request.userId,
          offer: { kind: 'refused', reasons: error.reasons.map((r) => (typeof r === 'string' ? { rule: error.code, message: r } : r)) },
          ttlSeconds: this.config.sessionCodeTtlSeconds,
          now: this.clock.now(),
        },
        context,
      );
      return;
    }
    if (!answer.passed) return; // the domicile denies the session from TrustCheckAnswered

    const { offer, code, address } = await this.prepareSecret(request.userId, request.sessionId);
    const result = await this.handleSecret(
      streamId,
      {
        type: 'IssueSessionSecret',
        sessionId: request.sessionId,
        // The secret names the check it follows: the domicile needs nothing else to record the challenge.
        checkId: answer.checkId,
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
    const state = foldEvents(
      sessionSecretDecider,
      current.map(({ event }) => event as SessionSecretEvent),
    );
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
    // Event time: the directory's verifiedAt/removedAt against this clock (issue #8: a new channel cools first).
    const coolingMs = (this.config.channelCoolingHours ?? DEFAULT_CHANNEL_COOLING_HOURS) * 3600_000;
    const choice = chooseSecondChannel(partyId, facts, (kind) => this.sender.supports(kind), { now: this.clock.now(), coolingMs });
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

  /**
   * Hands the code to the delivery queue once its verifier is recorded, and returns (waiting only when the queue's
   * backlog is full). The send runs apart from the consumer.
   */
  private async deliver(events: readonly SessionSecretEvent[], code: string | null, address: string | null, context: CommandContext): Promise<void> {
    const issued = events.find((event): event is SessionSecretIssued => event.type === 'SessionSecretIssued');
    if (!issued || code === null || address === null) return;
    await this.deliveries.enqueue(() => this.send(issued, code, address, context));
  }

  /** Sends the code; a transport failure is recorded (without the code) so the user can ask again. Never throws. */
  private async send(issued: SessionSecretIssued, code: string, address: string, context: CommandContext): Promise<void> {
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
      try {
        await this.handleSecret(
          streamIdOf(SESSION_SECRET_CATEGORY, sessionId),
          { type: 'RecordDeliveryFailure', sessionId, issueNumber, reason, now: this.clock.now() },
          context,
        );
      } catch (recordError) {
        const why = recordError instanceof Error ? `${recordError.name}: ${recordError.message}` : String(recordError);
        this.log.error(`Session ${sessionId}: the failed send of code ${issueNumber} could not be recorded: ${why.split(code).join('******').slice(0, 500)}`);
      }
    }
  }
}
