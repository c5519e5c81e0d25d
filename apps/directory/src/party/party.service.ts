import { Inject, Injectable, Logger, Optional, ServiceUnavailableException } from '@nestjs/common';
import { OUT_OF_BAND_SENDER, type OutOfBandSender } from '@sigillum/channels';
import {
  CLOCK,
  type Clock,
  DomainError,
  ID_GENERATOR,
  type IdGenerator,
  type OperatorSpecification,
  PARTY_CATEGORY,
  type PartyEvent,
  type Reason,
  type SecondChannelKind,
  streamIdOf,
} from '@sigillum/contracts';
import { codeVerifier, generateNumericCode, maskAddress, verifyCode } from '@sigillum/crypto';
import { commandHandler, type CommandResult, EVENT_STORE, type EventStore, type HandleCommand, requestContext } from '@sigillum/eventstore';
import { CHANNEL_VERIFIER_KEY, type VerifierKey } from '@sigillum/runtime';
import { type PartyCommand, partyDecider, type PartyState, type RegisterParty } from './party.decider';
import { DEFAULT_DIRECTORY_OPTIONS, DIRECTORY_OPTIONS, type DirectoryOptions } from './party.options';
import { inspectPublicKey } from './public-key';

type Command<T extends PartyCommand['type']> = Omit<Extract<PartyCommand, { type: T }>, 'type' | 'now'>;

/**
 * The directory's command side: each method reads the party's stream, lets the decider decide, appends.
 * Secrets stay here: the enrolment code is generated, turned into its verifier and sent, never recorded.
 */
@Injectable()
export class PartyService {
  private readonly log = new Logger('Directory');
  private readonly handle: HandleCommand<PartyCommand, PartyState, PartyEvent>;
  private readonly options: DirectoryOptions;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    @Inject(CHANNEL_VERIFIER_KEY) private readonly verifierKey: VerifierKey,
    @Inject(OUT_OF_BAND_SENDER) private readonly sender: OutOfBandSender,
    @Optional() @Inject(DIRECTORY_OPTIONS) options?: Partial<DirectoryOptions>,
  ) {
    this.handle = commandHandler(partyDecider, { store, clock, ids, source: '/sigillum/directory' });
    this.options = { ...DEFAULT_DIRECTORY_OPTIONS, ...options };
  }

  /** One command an HTTP request asks for (`traceparent`: the request's, so its events carry its trace). */
  private run(partyId: string, command: PartyCommand, traceparent: string | undefined): Promise<CommandResult<PartyState, PartyEvent>> {
    return this.handle(streamIdOf(PARTY_CATEGORY, partyId), command, requestContext(this.ids.next(), traceparent));
  }

  private async load(partyId: string): Promise<PartyState> {
    return (await this.handle.load(streamIdOf(PARTY_CATEGORY, partyId))).state;
  }

  async register(command: Omit<RegisterParty, 'type' | 'now' | 'partyId'>, traceparent?: string) {
    const partyId = this.ids.next();
    const result = await this.run(partyId, { type: 'RegisterParty', partyId, ...command, now: this.clock.now() }, traceparent);
    return { partyId, revision: result.nextExpectedVersion };
  }

  async rename(command: Command<'RenameParty'>, traceparent?: string) {
    const result = await this.run(command.partyId, { type: 'RenameParty', ...command, now: this.clock.now() }, traceparent);
    return { partyId: command.partyId, revision: result.nextExpectedVersion, changed: result.events.length > 0 };
  }

  async declareAttribute(command: Command<'DeclareAttribute'>, traceparent?: string) {
    const result = await this.run(command.partyId, { type: 'DeclareAttribute', ...command, now: this.clock.now() }, traceparent);
    return { partyId: command.partyId, name: command.name, revision: result.nextExpectedVersion, changed: result.events.length > 0 };
  }

  /** Enrols a channel and sends its verification code over it; nothing is written when no transport serves the kind. */
  async enrolChannel(partyId: string, kind: SecondChannelKind, address: string, traceparent?: string) {
    const sender = this.sender;
    const key = this.verifierKey;
    if (!sender.supports(kind)) {
      throw new ServiceUnavailableException({
        statusCode: 503,
        error: 'Service Unavailable',
        message: `No transport is configured for ${kind} messages, so no verification code can be sent. Ask the operator to configure the ${kind} channel, or enrol another kind of channel.`,
      });
    }
    const channelId = this.ids.next();
    const code = generateNumericCode(this.options.channelCodeLength);
    const result = await this.run(
      partyId,
      {
        type: 'EnrolChannel',
        partyId,
        channelId,
        kind,
        address,
        verifier: codeVerifier(key.key, channelId, code),
        verifierKeyId: key.keyId,
        codeTtlSeconds: this.options.channelCodeTtlSeconds,
        maxAttempts: this.options.channelMaxAttempts,
        maxChannels: this.options.maxChannelsPerParty,
        now: this.clock.now(),
      },
      traceparent,
    );
    const enrolled = result.events.find((e) => e.type === 'SecondChannelEnrolled');
    if (enrolled?.type !== 'SecondChannelEnrolled') throw new Error(`Enrolment of channel ${channelId} recorded no SecondChannelEnrolled`);
    const { address: normalised, expiresAt } = enrolled.data;
    const maskedAddress = maskAddress(kind, normalised);
    try {
      await sender.send({
        messageId: this.ids.next(),
        partyId,
        channel: { channelId, kind, address: normalised },
        purpose: 'channel-verification',
        reference: channelId,
        code,
        expiresAt,
      });
    } catch (error) {
      // The code never reached the user: withdraw the enrolment so that the address can be enrolled again at once.
      this.log.warn(`Verification code for channel ${channelId} of party ${partyId} (${maskedAddress}) not sent: ${(error as Error).message}`);
      await this.run(partyId, { type: 'RemoveChannel', partyId, channelId, now: this.clock.now() }, traceparent);
      throw new ServiceUnavailableException({
        statusCode: 503,
        error: 'Service Unavailable',
        message: `The verification code could not be sent to ${maskedAddress}; the enrolment was withdrawn. Try again later.`,
      });
    }
    return { channelId, expiresAt, maskedAddress };
  }

  /** Checks the typed code in constant time against the channel's verifier, then records the outcome. */
  async verifyChannel(partyId: string, channelId: string, code: string, traceparent?: string) {
    const key = this.verifierKey;
    const state = await this.load(partyId);
    const channel = state.status === 'registered' ? state.channels.find((c) => c.channelId === channelId) : undefined;
    // The verifier of a channel id never changes, so checking before the decision cannot race with another writer.
    const codeMatches = channel !== undefined && channel.verifierKeyId === key.keyId && verifyCode(key.key, channelId, code, channel.verifier);
    const result = await this.run(partyId, { type: 'VerifyChannel', partyId, channelId, codeMatches, now: this.clock.now() }, traceparent);
    const failed = result.events.find((e) => e.type === 'SecondChannelVerificationFailed');
    if (failed?.type === 'SecondChannelVerificationFailed') {
      const { rule, attempt } = failed.data;
      const maxAttempts = channel?.maxAttempts ?? this.options.channelMaxAttempts;
      const attemptsLeft = rule === 'code.mismatch' ? Math.max(0, maxAttempts - attempt) : 0;
      const message =
        rule === 'code.mismatch'
          ? `The code does not match; ${attemptsLeft} attempt(s) left.`
          : rule === 'code.expired'
            ? 'The code has expired; enrol the channel again to receive a new code.'
            : 'Too many wrong codes; enrol the channel again to receive a new code.';
      throw new DomainError('DIRECTORY.CHANNEL_VERIFICATION_FAILED', message, 'conflict', [{ rule, message, partyId, attempt, attemptsLeft } as Reason]);
    }
    return { partyId, channelId, verified: true };
  }

  async removeChannel(command: Command<'RemoveChannel'>, traceparent?: string) {
    const result = await this.run(command.partyId, { type: 'RemoveChannel', ...command, now: this.clock.now() }, traceparent);
    return { partyId: command.partyId, channelId: command.channelId, removed: true, changed: result.events.length > 0 };
  }

  async registerKey(
    partyId: string,
    algorithm: Command<'RegisterPublicKey'>['algorithm'],
    use: Command<'RegisterPublicKey'>['use'],
    publicKeyPem: string,
    traceparent?: string,
  ) {
    const key = inspectPublicKey(publicKeyPem);
    const result = await this.run(
      partyId,
      {
        type: 'RegisterPublicKey',
        partyId,
        keyId: this.ids.next(),
        algorithm,
        use,
        key,
        maxKeys: this.options.maxKeysPerParty,
        now: this.clock.now(),
      },
      traceparent,
    );
    const fingerprint = key.ok ? key.fingerprint : '';
    const registered = result.state.status === 'registered' ? result.state.keys.find((k) => k.fingerprint === fingerprint) : undefined;
    if (!registered) throw new Error(`Key registration for party ${partyId} left no key with fingerprint ${fingerprint}`);
    return { partyId, keyId: registered.keyId, fingerprint, created: result.events.length > 0 };
  }

  async revokeKey(command: Command<'RevokePublicKey'>, traceparent?: string) {
    const result = await this.run(command.partyId, { type: 'RevokePublicKey', ...command, now: this.clock.now() }, traceparent);
    return { partyId: command.partyId, keyId: command.keyId, revoked: true, changed: result.events.length > 0 };
  }

  async registerSpecification(partyId: string, specification: OperatorSpecification, traceparent?: string) {
    const result = await this.run(partyId, { type: 'RegisterSpecification', partyId, specification, now: this.clock.now() }, traceparent);
    return { partyId, version: specification.version, revision: result.nextExpectedVersion, changed: result.events.length > 0 };
  }
}
