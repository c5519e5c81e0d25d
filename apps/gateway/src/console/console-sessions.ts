import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';

/** The console's cookie: HttpOnly, SameSite=Strict, scoped to /console; it holds a random id, never the token. */
export const CONSOLE_COOKIE = 'sigillum_console';
const IDLE_MS = 30 * 60_000;
const ABSOLUTE_MS = 8 * 3_600_000;
const MAX_SESSIONS = 10_000;

export interface ConsoleSession {
  readonly id: string;
  /** The staff token the session was opened with, kept in this process's memory only; every page re-authenticates it. */
  readonly token: string;
  /** Sent back in every form of the console and checked on every POST (with SameSite=Strict and the Origin check). */
  readonly csrf: string;
  readonly openedAt: number;
  lastSeenAt: number;
}

/**
 * Console sessions, in memory: a restart signs everyone out, which is the safe side. The token stays on the server;
 * the browser holds only the session id. Revoking the staff credential ends the console session at the next page,
 * since each page presents the token to the access guard again.
 */
@Injectable()
export class ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();

  open(token: string, now = Date.now()): ConsoleSession {
    this.prune(now);
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const session: ConsoleSession = {
      id: randomBytes(32).toString('base64url'),
      token,
      csrf: randomBytes(32).toString('base64url'),
      openedAt: now,
      lastSeenAt: now,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  find(id: string | undefined, now = Date.now()): ConsoleSession | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (now - session.lastSeenAt > IDLE_MS || now - session.openedAt > ABSOLUTE_MS) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastSeenAt = now;
    return session;
  }

  close(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  private prune(now: number): void {
    for (const [id, session] of this.sessions) {
      if (now - session.lastSeenAt > IDLE_MS || now - session.openedAt > ABSOLUTE_MS) this.sessions.delete(id);
    }
  }
}

/** Constant-time comparison of the form's CSRF token with the session's. */
export function sameSecret(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of one cookie of a Cookie header (no cookie library: one name, one value). */
export function cookieOf(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    if (part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

export function sessionCookie(id: string, secure: boolean): string {
  return `${CONSOLE_COOKIE}=${id}; Path=/console; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}; Max-Age=${ABSOLUTE_MS / 1000}`;
}

export function clearedCookie(secure: boolean): string {
  return `${CONSOLE_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}; Max-Age=0`;
}
