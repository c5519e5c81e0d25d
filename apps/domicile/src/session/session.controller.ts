import { ApiOperation, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { Access, party, publicRoute } from '@sigillum/auth';
import { Body, Controller, Delete, Get, HttpCode, HttpException, HttpStatus, Inject, Param, ParseUUIDPipe, Post, Req, Res } from '@nestjs/common';
import type { Reason } from '@sigillum/contracts';
import { RequestTraceparent } from '@sigillum/runtime';
import type { Request, Response } from 'express';
import { DOMICILE_CONFIG, type DomicileConfig } from '../domicile.config';
import { CurrentSession, type AuthenticatedSession } from './session-credential.guard';
import { RequestSessionBody, SubmitCodeBody } from './session.dto';
import type { SessionState } from './session.decider';
import { SessionLocalStore } from './session-local.store';
import { SessionRateLimiter } from './session-rate-limiter';
import { SessionService } from './session.service';

/** The session as its user may see it: never the verifier nor the credential digest. */
export function sessionView(state: Exclude<SessionState, { status: 'none' }>, notice: unknown = null) {
  const base = {
    sessionId: state.sessionId,
    status: state.status,
    userId: state.userId,
    counterpartIds: state.counterpartIds,
    correspondenceKind: state.correspondenceKind,
    levelRequired: state.levelRequired,
    requestedAt: state.requestedAt,
  };
  switch (state.status) {
    case 'requested':
      return { ...base, notice };
    case 'denied':
      return { ...base, reasons: state.reasons, deniedAt: state.deniedAt };
    case 'challenged':
    case 'locked':
      return {
        ...base,
        channel: { kind: state.challenge.channel.kind, maskedAddress: state.challenge.channel.maskedAddress },
        issueNumber: state.challenge.issueNumber,
        expiresAt: state.challenge.expiresAt,
        remainingAttempts: Math.max(0, state.challenge.maxAttempts - state.challenge.attempts),
        ...(state.status === 'locked' ? { lockedAt: state.lockedAt, lockedUntil: state.lockedUntil } : {}),
        notice,
      };
    case 'open':
      return { ...base, openedAt: state.openedAt, idleTimeoutSeconds: state.idleTimeoutSeconds, absoluteExpiresAt: state.absoluteExpiresAt };
    case 'closed':
      return { ...base, closedAt: state.closedAt };
    case 'expired':
      return { ...base, rule: state.rule, expiredAt: state.expiredAt };
  }
}

const refusal = (status: number, code: string, message: string, reasons: readonly Reason[], extra: Record<string, unknown> = {}) =>
  new HttpException({ statusCode: status, code, message, reasons, ...extra }, status);

/** Sessions with the user's private office (claim 1): request, prove the out-of-band code, use, close. */
@Controller('sessions')
export class SessionController {
  constructor(
    private readonly sessions: SessionService,
    private readonly local: SessionLocalStore,
    @Inject(DOMICILE_CONFIG) private readonly config: DomicileConfig,
    private readonly limits: SessionRateLimiter,
  ) {}

  /**
   * Asks for a session: the certifier checks the user, the counterparts and the chain operators, then sends the
   * code over the second channel. 201 once challenged, 403 when denied, 202 when the answer is still pending.
   */
  @Post()
  @ApiTooManyRequestsResponse({
    description: 'An abuse limit holds (codes per user, requests per address, failed codes per user): Retry-After says when to try again; nothing is written',
  })
  @ApiOperation({ summary: 'Claim 1, step 1: asks to open a session; the code goes over the second channel' })
  @Access(publicRoute('claim 1: opening a session is how a party authenticates'))
  async request(@Body() body: RequestSessionBody, @Res({ passthrough: true }) response: Response, @RequestTraceparent() traceparent: string | undefined) {
    // Abuse limits (429 + Retry-After) before anything is written or sent.
    const admission = this.limits.admitSessionRequest(response.req, body.userId);
    const { sessionId } = await admission.during(() =>
      this.sessions.request({ userId: body.userId, counterpartIds: body.counterpartIds, correspondenceKind: body.correspondenceKind }, traceparent),
    );
    const state = await this.sessions.awaitDecision(sessionId, this.config.session.requestWaitMs);
    switch (state.status) {
      case 'challenged':
        return {
          sessionId,
          status: state.status,
          channel: { kind: state.challenge.channel.kind, maskedAddress: state.challenge.channel.maskedAddress },
          expiresAt: state.challenge.expiresAt,
        };
      case 'denied':
        throw refusal(HttpStatus.FORBIDDEN, 'SESSION.DENIED', 'The session cannot open: a party of it falls short; see reasons', state.reasons, {
          sessionId,
        });
      case 'requested':
        response.status(HttpStatus.ACCEPTED);
        return { sessionId, status: state.status };
      default:
        return state.status === 'none' ? { sessionId, status: 'requested' } : sessionView(state);
    }
  }

  @Get(':id')
  @ApiOperation({ summary: 'State of a session being opened (polled while the trust check runs)' })
  @Access(publicRoute('claim 1: opening a session is how a party authenticates'))
  async view(@Param('id', new ParseUUIDPipe()) sessionId: string) {
    const state = await this.sessions.load(sessionId);
    if (state.status === 'none') {
      throw refusal(HttpStatus.NOT_FOUND, 'SESSION.NOT_FOUND', 'No such session', [{ rule: 'session.unknown', message: 'No session has this id' }]);
    }
    return sessionView(state, this.local.notice(sessionId));
  }

  /** The code received over the second channel. 200 with the session credential (shown once). */
  @Post(':id/code')
  @ApiTooManyRequestsResponse({
    description: 'An abuse limit holds (codes per user, requests per address, failed codes per user): Retry-After says when to try again; nothing is written',
  })
  @ApiOperation({ summary: 'Claim 1, step 2: the code received over the second channel; answers the session credential once' })
  @Access(publicRoute('claim 1: opening a session is how a party authenticates'))
  @HttpCode(HttpStatus.OK)
  async submitCode(
    @Param('id', new ParseUUIDPipe()) sessionId: string,
    @Body() body: SubmitCodeBody,
    @Req() http: Request,
    @RequestTraceparent() traceparent: string | undefined,
  ) {
    const admission = this.limits.admitCode(http, await this.sessions.userOf(sessionId));
    const outcome = await admission.during(() => this.sessions.submitCode(sessionId, body.code, traceparent));
    admission.settle(outcome);
    if (outcome.kind === 'opened') {
      return {
        sessionId,
        credential: outcome.credential,
        idleTimeoutSeconds: outcome.state.idleTimeoutSeconds,
        absoluteExpiresAt: outcome.state.absoluteExpiresAt,
      };
    }
    const rejected = outcome.events.find((event) => event.type === 'SessionCodeRejected');
    const locked = outcome.events.find((event) => event.type === 'SessionLocked');
    const remainingAttempts = rejected?.type === 'SessionCodeRejected' ? rejected.data.remainingAttempts : 0;
    if (locked?.type === 'SessionLocked') {
      const until = locked.data.lockedUntil === null ? 'permanently' : `until ${locked.data.lockedUntil}`;
      throw refusal(
        HttpStatus.FORBIDDEN,
        'SESSION.LOCKED',
        `Wrong code; too many attempts: the session is locked ${until}`,
        [
          { rule: 'code.mismatch', message: 'The code does not match' },
          { rule: 'session.locked', message: `Too many wrong codes: the session is locked ${until}` },
        ],
        { remainingAttempts: 0, lockedUntil: locked.data.lockedUntil },
      );
    }
    if (rejected?.type === 'SessionCodeRejected' && rejected.data.rule === 'code.expired') {
      throw refusal(
        HttpStatus.UNAUTHORIZED,
        'SESSION.CODE_EXPIRED',
        'The code has expired; ask for a new one (POST /sessions/:id/resend)',
        [{ rule: 'code.expired', message: 'The code has expired' }],
        { remainingAttempts },
      );
    }
    throw refusal(
      HttpStatus.UNAUTHORIZED,
      'SESSION.CODE_REJECTED',
      `Wrong code; ${remainingAttempts} attempt(s) left`,
      [{ rule: 'code.mismatch', message: 'The code does not match' }],
      { remainingAttempts },
    );
  }

  /** Asks the certifier for a new code (it may refuse when asked too soon or too often: see GET notice). */
  @Post(':id/resend')
  @ApiTooManyRequestsResponse({
    description: 'An abuse limit holds (codes per user, requests per address, failed codes per user): Retry-After says when to try again; nothing is written',
  })
  @ApiOperation({ summary: 'Asks for a new code over the second channel (throttled)' })
  @Access(publicRoute('claim 1: opening a session is how a party authenticates'))
  @HttpCode(HttpStatus.ACCEPTED)
  async resend(@Param('id', new ParseUUIDPipe()) sessionId: string, @Req() http: Request, @RequestTraceparent() traceparent: string | undefined) {
    const admission = this.limits.admitResend(http, await this.sessions.userOf(sessionId));
    const now = this.sessions.now();
    await admission.during(() => this.sessions.execute(sessionId, { type: 'RequestResend', now }, this.sessions.newRequestContext(traceparent)));
    return { sessionId, status: 'resend-requested', requestedAt: now.toISOString() };
  }

  /** A party closes its own session: the credential authenticates the session named in the path (no header needed). */
  @Delete(':sessionId')
  @ApiOperation({ summary: "Closes the caller's own session" })
  @HttpCode(HttpStatus.NO_CONTENT)
  @Access(party())
  async close(
    @Param('sessionId', new ParseUUIDPipe()) sessionId: string,
    @CurrentSession() session: AuthenticatedSession,
    @RequestTraceparent() traceparent: string | undefined,
  ): Promise<void> {
    if (sessionId !== session.sessionId) {
      throw refusal(HttpStatus.FORBIDDEN, 'ACCESS.FORBIDDEN', 'A party may close only the session it is authenticated with', [
        { rule: 'access.not-own-resource', message: 'The path names another session than the credential opens' },
      ]);
    }
    await this.sessions.execute(session.sessionId, { type: 'Close', now: this.sessions.now() }, this.sessions.newRequestContext(traceparent));
    this.local.forgetActivity(sessionId);
  }
}
