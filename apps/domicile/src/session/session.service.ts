import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { CLOCK, type Clock, DomainError, ID_GENERATOR, type IdGenerator, SESSION_CATEGORY, type SessionEvent, streamIdOf } from '@sigillum/contracts';
import { verifyCode } from '@sigillum/crypto';
import {
  type CommandContext,
  commandHandler,
  type CommandResult,
  EVENT_STORE,
  type EventStore,
  type HandleCommand,
  requestContext,
} from '@sigillum/eventstore';
import { SESSION_VERIFIER_KEY, type VerifierKey } from '@sigillum/runtime';
import { DOMICILE_CONFIG, type DomicileConfig } from '../domicile.config';
import { type SessionCommand, sessionDecider, SessionErrors, type SessionState } from './session.decider';
import { SessionNotifier } from './session.notifier';

export const DOMICILE_SOURCE = '/sigillum/domicile';

export const sessionStreamId = (sessionId: string) => streamIdOf(SESSION_CATEGORY, sessionId);

/** SHA-256 (hex) of a session credential: the only form of it the domicile keeps. */
export const credentialDigest = (credential: string) => createHash('sha256').update(credential, 'utf8').digest('hex');

export type CodeOutcome =
  | { readonly kind: 'opened'; readonly credential: string; readonly state: Extract<SessionState, { status: 'open' }> }
  | { readonly kind: 'rejected'; readonly events: readonly SessionEvent[]; readonly state: SessionState };

/** Sessions whose folded state is kept in memory at most; the least recently used is dropped first. */
const MAX_CACHED_SESSIONS = 10_000;
/** Attempts of a command when another writer (another instance, a concurrent request) got to the stream first. */
const MAX_ATTEMPTS = 3;

/**
 * The sessions management module: runs the session decider against the event store for HTTP and bus alike.
 * The folded state of each session is cached in memory keyed by its stream revision: a load still reads the
 * store, but only the events after the cached revision (so it always sees what another instance appended), and
 * a command appends with that revision as expected version, then folds its own events into the cache.
 */
@Injectable()
export class SessionService {
  private readonly log = new Logger('Sessions');
  private readonly handle: HandleCommand<SessionCommand, SessionState, SessionEvent>;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    @Inject(DOMICILE_CONFIG) readonly config: DomicileConfig,
    private readonly notifier: SessionNotifier,
    @Optional() @Inject(SESSION_VERIFIER_KEY) private readonly verifierKey?: VerifierKey,
  ) {
    this.handle = commandHandler(sessionDecider(config.session), {
      store,
      clock,
      ids,
      source: DOMICILE_SOURCE,
      maxAttempts: MAX_ATTEMPTS,
      cache: { maxStreams: MAX_CACHED_SESSIONS },
    });
    if (!verifierKey) this.log.warn('No session verifier key (SESSION_VERIFIER_KEY) is provided: codes cannot be checked until it is.');
  }

  now(): Date {
    return this.clock.now();
  }

  /** The context of a command an HTTP request asks for (`traceparent`: the request's, so its events carry its trace). */
  newRequestContext(traceparent?: string): CommandContext {
    return requestContext(this.ids.next(), traceparent);
  }

  async load(sessionId: string): Promise<SessionState> {
    return (await this.handle.load(sessionStreamId(sessionId))).state;
  }

  /** The user a session was asked for, null when there is no such session (what the abuse limits count under). */
  async userOf(sessionId: string): Promise<string | null> {
    const state = await this.load(sessionId);
    return state.status === 'none' ? null : state.userId;
  }

  /**
   * Runs one command on the session's stream (fold, decide, append with the folded revision as expected version;
   * on a concurrent write, again with the newer events) and wakes whoever waits for the session to change.
   */
  async execute(sessionId: string, command: SessionCommand, context: CommandContext): Promise<CommandResult<SessionState, SessionEvent>> {
    const result = await this.handle(sessionStreamId(sessionId), command, context);
    if (result.events.length > 0) this.notifier.changed(sessionId, result.state);
    return result;
  }

  async request(input: { userId: string; counterpartIds: string[]; correspondenceKind: string }, traceparent?: string) {
    const sessionId = this.ids.next();
    const result = await this.execute(sessionId, { type: 'RequestSession', sessionId, ...input, now: this.clock.now() }, this.newRequestContext(traceparent));
    return { sessionId, state: result.state };
  }

  /**
   * Waits up to `ms` for the session to leave `requested`. Event-driven: the consumer of this process hands the
   * new state over the moment it appends (no read, no delay); the store is read again only every `pollMs`, for a
   * decision recorded by another domicile instance. The watch starts before the read, so no change is missed.
   */
  async awaitDecision(sessionId: string, ms: number, pollMs = 250): Promise<SessionState> {
    const deadline = Date.now() + ms;
    for (;;) {
      const watch = this.notifier.watch(sessionId);
      const state = await this.load(sessionId);
      let left = deadline - Date.now();
      if (state.status !== 'requested' || left <= 0) {
        watch.cancel();
        return state;
      }
      const changed = await watch.next(Math.min(left, pollMs));
      left = deadline - Date.now();
      if (changed && (changed.status !== 'requested' || left <= 0)) return changed;
    }
  }

  /**
   * The authorization submodule's user-authentication function (claim 1, 1g): the typed code is checked in constant
   * time against the verifier bound to this session id; the decider applies the outcome. The credential is made
   * here and leaves only in the answer; the stream keeps its SHA-256.
   */
  async submitCode(sessionId: string, code: string, traceparent?: string): Promise<CodeOutcome> {
    const context = this.newRequestContext(traceparent);
    for (let attempt = 1; ; attempt++) {
      const state = await this.load(sessionId);
      let issueNumber = 0;
      let matches = false;
      if (state.status === 'challenged' || state.status === 'locked') {
        const key = this.requireKey(state.challenge.verifierKeyId);
        issueNumber = state.challenge.issueNumber;
        matches = verifyCode(key, sessionId, code, state.challenge.verifier);
      }
      const credential = randomBytes(32).toString('base64url');
      try {
        const result = await this.execute(
          sessionId,
          { type: 'SubmitCode', issueNumber, matches, credentialDigest: credentialDigest(credential), now: this.clock.now() },
          context,
        );
        if (result.state.status === 'open' && result.events.some((event) => event.type === 'SessionOpened')) {
          return { kind: 'opened', credential, state: result.state };
        }
        return { kind: 'rejected', events: result.events, state: result.state };
      } catch (error) {
        // A resend replaced the verifier between our check and the decision: check the code again.
        if (error instanceof DomainError && error.code === SessionErrors.challengeChanged && attempt < 3) continue;
        throw error;
      }
    }
  }

  private requireKey(keyId: string): Buffer {
    if (!this.verifierKey) {
      throw new Error('The domicile has no session verifier key; provide SESSION_VERIFIER_KEY (the certifier\'s "session-verifier" key).');
    }
    if (this.verifierKey.keyId !== keyId) {
      throw new Error(
        `The challenge was made with verifier key "${keyId}" but this domicile holds "${this.verifierKey.keyId}"; ` +
          'give the domicile the same session-verifier key as the certifier.',
      );
    }
    return this.verifierKey.key;
  }
}
