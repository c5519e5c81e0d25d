import { timingSafeEqual } from 'node:crypto';
import { createParamDecorator, type ExecutionContext, Injectable, type OnModuleInit } from '@nestjs/common';
import { AuthenticationError, type AuthenticatedRequest, AuthenticatorRegistry, type PartyPrincipal, type PartySessionAuthenticator } from '@sigillum/auth';
import { expiryRuleAt } from './session.decider';
import { SessionLocalStore } from './session-local.store';
import { credentialDigest, SessionService } from './session.service';

export { SESSION_ID_HEADER } from '@sigillum/auth';

/** The open session a request was authenticated with. */
export interface AuthenticatedSession {
  readonly sessionId: string;
  readonly userId: string;
}

const CREDENTIAL = /^[A-Za-z0-9_-]{16,128}$/;
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Last activity is recorded at most once a second per session: a client's burst of requests costs one write, not one
 * each. The idle limit (minutes) is then judged from an activity up to a second older than the true last one.
 */
export const ACTIVITY_GRANULARITY_MS = 1_000;

/**
 * The authorization submodule's check of a party's session (claim 1 is the party's authentication), plugged into the
 * global AccessGuard: the credential's SHA-256 must match the digest in SessionOpened (constant-time); the session
 * must be open and within its idle and absolute limits. Last activity is kept in LOCAL_DB, not as an event per
 * request (and at most once a second); a session found past a limit gets SessionExpired and a 401.
 */
@Injectable()
export class SessionCredentialAuthenticator implements PartySessionAuthenticator, OnModuleInit {
  constructor(
    private readonly sessions: SessionService,
    private readonly local: SessionLocalStore,
    private readonly registry: AuthenticatorRegistry,
  ) {}

  onModuleInit(): void {
    this.registry.registerPartySessions(this);
  }

  async authenticate(sessionId: string, credential: string): Promise<PartyPrincipal> {
    const invalid = () => new AuthenticationError('credential.invalid', 'The credential does not open this session');
    if (!SESSION_ID.test(sessionId) || !CREDENTIAL.test(credential)) throw invalid();
    const state = await this.sessions.load(sessionId);
    if (state.status === 'none') throw invalid();
    if (state.status !== 'open') {
      // The status is no secret (GET /sessions/:id shows it); the credential of a session no longer open is worthless.
      throw new AuthenticationError(`session.${state.status}`, `The session is ${state.status}; open a new one`);
    }
    const expected = Buffer.from(state.credentialDigest, 'hex');
    const actual = Buffer.from(credentialDigest(credential), 'hex');
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw invalid();

    const now = this.sessions.now();
    const lastActivityAt = this.local.lastActivity(sessionId);
    const rule = expiryRuleAt(state, lastActivityAt, now);
    if (rule) {
      await this.sessions.execute(sessionId, { type: 'Expire', lastActivityAt, now }, this.sessions.newRequestContext());
      this.local.forgetActivity(sessionId);
      throw new AuthenticationError(
        rule,
        rule === 'session.idle' ? 'The session expired after inactivity; open a new one' : 'The session reached its maximum lifetime; open a new one',
      );
    }
    if (lastActivityAt === null || now.getTime() - lastActivityAt.getTime() >= ACTIVITY_GRANULARITY_MS) this.local.touch(sessionId, now);
    return { kind: 'party', partyId: state.userId, sessionId };
  }
}

/** The session the AccessGuard authenticated (a route with `@Access(party(...))`): `@CurrentSession() session`. */
export const CurrentSession = createParamDecorator((_: unknown, context: ExecutionContext): AuthenticatedSession => {
  const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (principal?.kind !== 'party') throw new Error('CurrentSession used on a route that does not admit party sessions only');
  return { sessionId: principal.sessionId, userId: principal.partyId };
});
