import type { TLSSocket } from 'node:tls';
import { type CanActivate, type ExecutionContext, HttpException, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { type AccessDecision, decideAccess } from './access-rules';
import { ACCESS_DECISION } from './access.decorator';
import { AuthenticationError, type PresentedCertificate } from './authenticators';
import { AuthenticatorRegistry } from './authenticator-registry';
import { ANONYMOUS, describePrincipal, type Principal } from './principal';

/** Header naming the party's session (with `Authorization: Bearer <session credential>`). */
export const SESSION_ID_HEADER = 'x-sigillum-session';

export type AuthenticatedRequest = Request & { principal?: Principal };

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{16,4096})$/;

function refusal(status: 401 | 403, rule: string, message: string): HttpException {
  const code = status === 401 ? 'ACCESS.UNAUTHENTICATED' : 'ACCESS.FORBIDDEN';
  return new HttpException({ statusCode: status, code, message, reasons: [{ rule, message }] }, status);
}

/** The client certificate of a mutual-TLS connection whose chain verified against the configured CA, if any. */
export function presentedCertificate(request: Request): PresentedCertificate | null {
  const socket = request.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function' || socket.authorized !== true) return null;
  const peer = socket.getPeerCertificate();
  if (!peer || !peer.serialNumber) return null;
  const cn = peer.subject?.CN;
  return {
    serialNumber: peer.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    subjectCommonName: Array.isArray(cn) ? cn[0] : (cn ?? ''),
    fingerprint256: (peer.fingerprint256 ?? '').replace(/:/g, '').toLowerCase(),
  };
}

/**
 * The one gate of every HTTP route (global guard): reads the route's AccessDecision, authenticates the caller only
 * when the route is not public, and lets the request through only when a rule of the decision admits the principal.
 * Deny by default: a route without a decision is refused here, and refused at start-up by route-decisions.ts.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly log = new Logger('Access');

  constructor(
    private readonly reflector: Reflector,
    private readonly registry: AuthenticatorRegistry,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true; // bus handlers: the broker's ACLs and the readers decide
    const decision = this.reflector.getAllAndOverride<AccessDecision | undefined>(ACCESS_DECISION, [context.getHandler(), context.getClass()]);
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const params = (request.params ?? {}) as Record<string, string | undefined>;
    if (decision?.some((rule) => rule.kind === 'public')) {
      request.principal = ANONYMOUS;
      return true;
    }
    let principal: Principal;
    try {
      principal = await this.authenticate(request, params);
    } catch (error) {
      if (error instanceof AuthenticationError) {
        context.switchToHttp().getResponse<Response>().setHeader?.('WWW-Authenticate', 'Bearer realm="sigillum"');
        throw refusal(401, error.rule, error.message);
      }
      throw error;
    }
    request.principal = principal;
    const verdict = decideAccess(decision, principal, params);
    if (verdict.allowed) return true;
    if (verdict.status === 401) context.switchToHttp().getResponse<Response>().setHeader?.('WWW-Authenticate', 'Bearer realm="sigillum"');
    this.log.debug(`${request.method} ${request.path} refused to ${describePrincipal(principal)}: ${verdict.rule}`);
    throw refusal(verdict.status, verdict.rule, verdict.message);
  }

  private async authenticate(request: AuthenticatedRequest, params: Record<string, string | undefined>): Promise<Principal> {
    const authorization = request.headers.authorization;
    const sessionHeader = request.headers[SESSION_ID_HEADER];
    if (authorization !== undefined) {
      const match = BEARER.exec(authorization);
      if (!match) throw new AuthenticationError('credential.malformed', 'Send the credential as "Authorization: Bearer <token>"');
      const token = match[1];
      const sessionId = typeof sessionHeader === 'string' ? sessionHeader : params.sessionId;
      if (sessionId !== undefined) {
        const sessions = this.registry.partySessions;
        if (!sessions)
          throw new AuthenticationError('session.unavailable', 'Party sessions are checked by the domicile, which this process does not run; call the gateway');
        return sessions.authenticate(sessionId, token);
      }
      const staff = this.registry.staffFor(token);
      if (!staff) {
        throw new AuthenticationError(
          'credential.unrecognised',
          `The bearer token is neither a staff token this server knows nor a session credential (a session credential needs the ${SESSION_ID_HEADER} header)`,
        );
      }
      return staff.authenticate(token);
    }
    if (typeof sessionHeader === 'string') {
      throw new AuthenticationError('credential.missing', 'Send the session credential as "Authorization: Bearer <credential>"');
    }
    const certificate = presentedCertificate(request);
    if (certificate) {
      const machines = this.registry.machines;
      if (!machines) throw new AuthenticationError('machine.unavailable', 'Client certificates are checked by the certifier, which this process does not run');
      return machines.authenticate(certificate);
    }
    return ANONYMOUS;
  }
}
