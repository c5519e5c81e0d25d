import { timingSafeEqual } from 'node:crypto';
import {
  type CanActivate,
  createParamDecorator,
  type ExecutionContext,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import type { Reason } from '@sigillum/contracts';
import type { Request, Response } from 'express';
import { expiryRuleAt } from './session.decider';
import { SessionLocalStore } from './session-local.store';
import { credentialDigest, SessionService } from './session.service';

/** The open session a request was authenticated with. */
export interface AuthenticatedSession {
  readonly sessionId: string;
  readonly userId: string;
}

/** Header naming the session when the route has no `:id` / `:sessionId` parameter. */
export const SESSION_ID_HEADER = 'x-sigillum-session';

type SessionRequest = Request & { sigillumSession?: AuthenticatedSession };

const BEARER = /^Bearer ([A-Za-z0-9_-]{16,128})$/;

/**
 * Guards routes that need an open session: `Authorization: Bearer <credential>` plus the session id (route param
 * `:id` or `:sessionId`, else header `X-Sigillum-Session`). The credential's SHA-256 must match the digest in
 * SessionOpened (constant-time); the session must be open and within its idle and absolute limits. Last activity is
 * kept in LOCAL_DB, not as an event per request; a session found past a limit gets SessionExpired and a 401.
 */
@Injectable()
export class SessionCredentialGuard implements CanActivate {
  constructor(
    private readonly sessions: SessionService,
    private readonly local: SessionLocalStore,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<SessionRequest>();
    const response = http.getResponse<Response>();
    const refuse = (reason: Reason): never => {
      response.setHeader?.('WWW-Authenticate', 'Bearer realm="sigillum-session"');
      throw new UnauthorizedException({
        statusCode: 401,
        code: 'SESSION.UNAUTHENTICATED',
        message: reason.message,
        reasons: [reason],
      });
    };

    const params = (request.params ?? {}) as Record<string, string | undefined>;
    const header = request.headers[SESSION_ID_HEADER];
    const sessionId = params.sessionId ?? params.id ?? (typeof header === 'string' ? header : undefined);
    if (!sessionId) return refuse({ rule: 'session.missing', message: `Name the session (route or ${SESSION_ID_HEADER} header)` });
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (!match) return refuse({ rule: 'credential.missing', message: 'Send the session credential as "Authorization: Bearer <credential>"' });

    const state = await this.sessions.load(sessionId);
    const invalid = { rule: 'credential.invalid', message: 'The credential does not open this session' };
    if (state.status === 'none') return refuse(invalid);
    if (state.status !== 'open') {
      // The status is no secret (GET /sessions/:id shows it); the credential of a session no longer open is worthless.
      return refuse({ rule: `session.${state.status}`, message: `The session is ${state.status}; open a new one` });
    }
    const expected = Buffer.from(state.credentialDigest, 'hex');
    const actual = Buffer.from(credentialDigest(match[1]), 'hex');
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return refuse(invalid);

    const now = this.sessions.now();
    const lastActivityAt = this.local.lastActivity(sessionId);
    const rule = expiryRuleAt(state, lastActivityAt, now);
    if (rule) {
      await this.sessions.execute(sessionId, { type: 'Expire', lastActivityAt, now }, this.sessions.newRequestContext());
      this.local.forgetActivity(sessionId);
      return refuse({
        rule,
        message: rule === 'session.idle' ? 'The session expired after inactivity; open a new one' : 'The session reached its maximum lifetime; open a new one',
      });
    }
    this.local.touch(sessionId, now);
    request.sigillumSession = { sessionId, userId: state.userId };
    return true;
  }
}

/** The session SessionCredentialGuard authenticated: `@CurrentSession() session: AuthenticatedSession`. */
export const CurrentSession = createParamDecorator((_: unknown, context: ExecutionContext): AuthenticatedSession => {
  const session = context.switchToHttp().getRequest<SessionRequest>().sigillumSession;
  if (!session) throw new Error('CurrentSession used on a route without SessionCredentialGuard');
  return session;
});
