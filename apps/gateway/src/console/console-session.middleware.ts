import { HttpException, Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { CONSOLE_COOKIE, type ConsoleSession, ConsoleSessions, cookieOf, sameSecret } from './console-sessions';

export type ConsoleRequest = Request & { consoleSession?: ConsoleSession };

function forbidden(rule: string, message: string): HttpException {
  return new HttpException({ statusCode: 403, code: 'CONSOLE.FORBIDDEN', message, reasons: [{ rule, message }] }, 403);
}

/**
 * Runs before the global access guard on /console routes: a console session cookie becomes the staff token it was
 * opened with (`Authorization: Bearer …`), so the guard decides every console page with the route's own @Access, as
 * for any API call (a revoked credential is refused at the next page). A POST must come from the console itself:
 * its Origin (when sent) is this host, and, with a session, its form carries the session's CSRF token.
 */
@Injectable()
export class ConsoleSessionMiddleware implements NestMiddleware {
  constructor(private readonly sessions: ConsoleSessions) {}

  use(request: ConsoleRequest, response: Response, next: NextFunction): void {
    // No script may run in a console page, nothing loads from elsewhere, no other site frames it; nothing is cached.
    response.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    response.setHeader('X-Frame-Options', 'DENY');
    response.setHeader('Cache-Control', 'no-store');
    response.setHeader('Referrer-Policy', 'same-origin'); // not no-referrer: Chromium would then post forms with Origin: null
    const session = this.sessions.find(cookieOf(request.headers.cookie, CONSOLE_COOKIE));
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      const origin = request.headers.origin;
      if (origin !== undefined && origin !== 'null') {
        let host: string | undefined;
        try {
          host = new URL(origin).host;
        } catch {
          host = undefined;
        }
        if (host !== request.headers.host)
          return next(forbidden('console.cross-origin', `A console form may only be posted from the console (Origin ${origin})`));
      } else if (origin === 'null') {
        return next(forbidden('console.cross-origin', 'A console form may only be posted from the console (Origin null)'));
      }
      if (session && !sameSecret((request.body as Record<string, unknown> | undefined)?.csrf, session.csrf)) {
        return next(forbidden('console.csrf', "The form does not carry this session's CSRF token: reload the page and try again"));
      }
    }
    if (session) {
      request.consoleSession = session;
      request.headers.authorization = `Bearer ${session.token}`;
    }
    next();
  }
}
