import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { CLOCK, type Clock, SESSION_CATEGORY, type SessionEvent, streamIdOf } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { AuthenticationError, type PartyPrincipal, type PartySessionAuthenticator } from '../authenticators';
import { AuthenticatorRegistry } from '../authenticator-registry';

const CREDENTIAL = /^[A-Za-z0-9_-]{16,128}$/;
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a process without the domicile needs of a session: open or not, whose, its credential digest, its absolute end. */
export type StoredSessionState =
  | { readonly status: 'unknown' }
  | { readonly status: 'open'; readonly userId: string; readonly credentialDigest: string; readonly absoluteExpiresAt: string }
  | { readonly status: 'ended'; readonly how: string };

/** Folds a session stream into what a party-session check needs (the domicile's decider holds the whole rule). */
export function storedSessionState(events: readonly SessionEvent[]): StoredSessionState {
  let state: StoredSessionState = { status: 'unknown' };
  let userId: string | undefined;
  for (const event of events) {
    switch (event.type) {
      case 'SessionRequested':
        userId = event.data.userId;
        break;
      case 'SessionOpened':
        if (userId === undefined) break; // not a stream this check can read: treated as unknown
        state = { status: 'open', userId, credentialDigest: event.data.credentialDigest, absoluteExpiresAt: event.data.absoluteExpiresAt };
        break;
      case 'SessionClosed':
        state = { status: 'ended', how: 'closed' };
        break;
      case 'SessionExpired':
        state = { status: 'ended', how: 'expired' };
        break;
      case 'SessionLocked':
        state = { status: 'ended', how: 'locked' };
        break;
      default:
        break;
    }
  }
  return state;
}

/**
 * Party sessions checked in a process that does not run the domicile (the certifier's evidence routes, the
 * directory's own-party routes, when each role runs in its own process): the session stream is read from the shared
 * store; the credential's SHA-256 must match SessionOpened's digest (constant time); the session must be open and
 * before its absolute end. The idle limit is the domicile's to judge (it alone keeps the last activity): a session
 * idle past it is refused here once the domicile has recorded SessionExpired (at the party's next call there).
 * In a process running the domicile, the domicile's own authenticator is used instead.
 */
@Injectable()
export class StoredSessionAuthenticator implements PartySessionAuthenticator, OnModuleInit {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly registry: AuthenticatorRegistry,
  ) {}

  onModuleInit(): void {
    // The domicile's authenticator, when that role runs here, registers too and wins (it knows the idle limit).
    if (!this.registry.partySessions) this.registry.registerPartySessions(this);
  }

  async authenticate(sessionId: string, credential: string): Promise<PartyPrincipal> {
    const invalid = () => new AuthenticationError('credential.invalid', 'The credential does not open this session');
    if (!SESSION_ID.test(sessionId) || !CREDENTIAL.test(credential)) throw invalid();
    const recorded = await this.store.readStream(streamIdOf(SESSION_CATEGORY, sessionId));
    const state = storedSessionState(recorded.map(({ event }) => event as SessionEvent));
    if (state.status === 'unknown') throw invalid();
    if (state.status === 'ended') throw new AuthenticationError(`session.${state.how}`, `The session is ${state.how}; open a new one`);
    const expected = Buffer.from(state.credentialDigest, 'hex');
    const actual = createHash('sha256').update(credential, 'utf8').digest();
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw invalid();
    if (this.clock.now().getTime() >= Date.parse(state.absoluteExpiresAt)) {
      throw new AuthenticationError('session.absolute', 'The session reached its maximum lifetime; open a new one');
    }
    return { kind: 'party', partyId: state.userId, sessionId };
  }
}
