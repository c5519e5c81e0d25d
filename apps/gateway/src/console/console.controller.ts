import {
  type ArgumentsHost,
  BadRequestException,
  Body,
  Catch,
  Controller,
  type ExceptionFilter,
  Get,
  Header,
  HttpCode,
  HttpException,
  Logger,
  Param,
  ParseIntPipe,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
  Res,
  UseFilters,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Access, CurrentPrincipal, type Principal, publicRoute, staff } from '@sigillum/auth';
import { IsISO8601, IsOptional, IsString, IsUUID, Length, Matches, MaxLength } from 'class-validator';
import type { Request, Response } from 'express';
import { ConsoleApi, type ApiAnswer } from './console-api';
import type { ConsoleRequest } from './console-session.middleware';
import { CONSOLE_COOKIE, ConsoleSessions, clearedCookie, cookieOf, sessionCookie } from './console-sessions';
import {
  type BusView,
  errorPage,
  type Expiring,
  type RemoteRoles,
  type Frame,
  type Health,
  loginPage,
  overviewPage,
  projectionPage,
  type Projections,
  type Read,
  type RebuildStatus,
  type Summary,
} from './console.views';
import {
  type ChainItem,
  chainsPage,
  type ChainView,
  deadLetterPage,
  deadLettersPage,
  type DeadLetter,
  timelinePage,
  type TimelineView,
  type Verification,
} from './timeline.views';
import { RetryChainForm } from './chain-retry.form';
import { retryRefusedPage } from './timeline.views';

/** The sign-in form: the staff token, once; it never comes back to the browser. */
export class LoginForm {
  @IsString()
  @Length(16, 4096)
  token!: string;
}

/** Every other console form carries the session's CSRF token only (checked by ConsoleSessionMiddleware). */
export class CsrfForm {
  @IsOptional()
  @IsString()
  @MaxLength(100)
  csrf?: string;
}

export class ChainsQuery {
  @IsOptional()
  @Matches(/^(all|in-flight|stuck|failed|completed)$/, { message: 'state must be one of all, in-flight, stuck, failed, completed' })
  state?: string;
  @IsOptional() @IsUUID() party?: string;
  @IsOptional() @IsUUID() operator?: string;
  @IsOptional() @IsISO8601({ strict: true }) since?: string;
  @IsOptional() @IsISO8601({ strict: true }) until?: string;
  @IsOptional() @MaxLength(400) @Matches(/^[A-Za-z0-9_-]+$/, { message: 'after must be a next-page cursor' }) after?: string;
}

/** Discarding a dead letter: the reason is recorded in DeadLetterDiscarded (plain text, checked by the API). */
export class DiscardConsoleForm extends CsrfForm {
  @IsString()
  @Length(1, 300)
  reason!: string;
}

export class SearchQuery {
  @IsString() @IsUUID(undefined, { message: 'q must be a correspondence id or a party id (a UUID)' }) q!: string;
}

export class DeadLettersQuery {
  @IsOptional() @MaxLength(200) @Matches(/^[a-z0-9._-]+\.dlq$/, { message: 'topic must be a dead-letter topic (<topic>.dlq)' }) topic?: string;
  @IsOptional() @Matches(/^\d{1,15}$/, { message: 'after must be an offset' }) after?: string;
}

const CONSOLE_STAFF = staff('ops', 'auditor', 'admin');

/** A projection name in a console path, or 400 naming the rule. */
function projectionName(name: string): void {
  if (!/^[a-z0-9-]{1,40}$/.test(name))
    throw new BadRequestException({
      statusCode: 400,
      message: 'name must be a projection name',
      reasons: [{ rule: 'name.format', message: 'name must be a projection name ([a-z0-9-])' }],
    });
}
const roles = (principal: Principal) => (principal.kind === 'staff' ? principal.roles : []);
const readOf = <T>(answer: ApiAnswer<T>): Read<T> =>
  answer.ok ? { ok: true, value: answer.body } : { ok: false, why: `${answer.rule}${answer.message ? `: ${answer.message}` : ''}` };

/** Refusals and errors of console pages as pages: 401 signs in again, 403 names the rule, 400 the field. */
@Catch(HttpException)
export class ConsoleErrorFilter implements ExceptionFilter {
  catch(exception: HttpException, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const request = host.switchToHttp().getRequest<ConsoleRequest & { principal?: Principal }>();
    const status = exception.getStatus();
    if (status === 401) {
      response.setHeader('Set-Cookie', clearedCookie(request.secure));
      response.redirect(303, '/console/login');
      return;
    }
    const body = exception.getResponse() as { message?: unknown; reasons?: { rule?: string; message?: string }[] } | string;
    const reason = typeof body === 'object' && Array.isArray(body.reasons) ? body.reasons[0] : undefined;
    const message = typeof body === 'string' ? body : Array.isArray(body.message) ? body.message.join('; ') : String(body.message ?? exception.message);
    const frame: Frame = { title: `Error ${status}`, principal: request.principal, csrf: request.consoleSession?.csrf };
    response
      .status(status)
      .type('html')
      .send(errorPage(frame, status, reason?.rule ?? `http.${status}`, reason?.message ?? message));
  }
}

/**
 * The operator's console at /console: server-rendered pages, no script. Signed in with a staff token (kept on the
 * server, the browser holding an HttpOnly SameSite=Strict cookie); every page has its own access decision, checked
 * by the global guard, and reads through the API with the staff member's token, so what a role may see is what the
 * API lets it see (an `ops` token never reads a subject: the mailbox read model answers it 403).
 */
@ApiExcludeController()
@UseFilters(ConsoleErrorFilter)
@Controller('console')
export class ConsoleController {
  constructor(
    private readonly api: ConsoleApi,
    private readonly sessions: ConsoleSessions,
  ) {}

  private readonly log = new Logger('Console');

  private frame(title: string, principal: Principal, request: ConsoleRequest, refresh?: number): Frame {
    return { title, principal, csrf: request.consoleSession?.csrf, refresh };
  }

  @Get('login')
  @Access(publicRoute('the console sign-in form: it asks for a staff token'))
  @Header('content-type', 'text/html; charset=utf-8')
  loginForm(): string {
    return loginPage();
  }

  @Post('login')
  @Access(publicRoute('signing in to the console: the token posted is checked against GET /staff/me'))
  async login(@Body() form: LoginForm, @Req() request: Request, @Res() response: Response): Promise<void> {
    const me = await this.api.get<Principal>('/staff/me', `Bearer ${form.token}`);
    const allowed = me.ok && me.body.kind === 'staff' && me.body.roles.some((role) => role === 'ops' || role === 'auditor' || role === 'admin');
    if (!allowed) {
      const why = me.ok
        ? 'This console is for the ops, auditor and admin roles (access.role)'
        : `Not signed in: ${me.rule}${me.message ? ` — ${me.message}` : ''}`;
      response
        .status(me.ok ? 403 : 401)
        .type('html')
        .send(loginPage(why));
      return;
    }
    this.sessions.close(cookieOf(request.headers.cookie, CONSOLE_COOKIE));
    const session = this.sessions.open(form.token);
    response.setHeader('Set-Cookie', sessionCookie(session.id, request.secure));
    response.redirect(303, '/console');
  }

  @Post('logout')
  @Access(publicRoute('signing out ends only the console session of the cookie presented'))
  logout(@Body() _form: CsrfForm, @Req() request: ConsoleRequest, @Res() response: Response): void {
    this.sessions.close(request.consoleSession?.id);
    response.setHeader('Set-Cookie', clearedCookie(request.secure));
    response.redirect(303, '/console/login');
  }

  @Get()
  @Access(CONSOLE_STAFF)
  @Header('content-type', 'text/html; charset=utf-8')
  async overview(@CurrentPrincipal() principal: Principal, @Req() request: ConsoleRequest): Promise<string> {
    const auth = request.headers.authorization;
    const [summary, health, bus, projections, expiring, remote] = await Promise.all([
      this.api.get<Summary>('/ops/chains/summary', auth),
      this.api.call<Health>('GET', '/health', undefined),
      this.api.get<BusView>('/ops/bus', auth),
      this.api.get<Projections>('/projections', auth),
      this.api.get<Expiring>('/ops/certificates/expiring?days=30', auth),
      this.api.call<RemoteRoles>('GET', '/health/roles', undefined), // 404 when every role runs in this process
    ]);
    return overviewPage(this.frame('Overview', principal, request, 10), {
      summary: readOf(summary),
      health: health.ok ? { ok: true, value: health.body } : health.status === 503 && health.body ? { ok: true, value: health.body as Health } : readOf(health),
      bus: readOf(bus),
      projections: readOf(projections),
      expiring: readOf(expiring),
      remote: remote.ok ? remote.body : remote.status === 503 && remote.body ? (remote.body as RemoteRoles) : undefined,
      canRebuild: roles(principal).includes('ops'),
    });
  }

  @Get('chains')
  @Access(CONSOLE_STAFF)
  @Header('content-type', 'text/html; charset=utf-8')
  async chains(@CurrentPrincipal() principal: Principal, @Req() request: ConsoleRequest, @Query() filters: ChainsQuery): Promise<string> {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(filters)) if (typeof value === 'string' && value !== '') search.set(name, value);
    const list = await this.api.get<{ items: ChainItem[]; next: string | null }>(`/ops/chains?${search.toString()}`, request.headers.authorization);
    return chainsPage(this.frame('Chains', principal, request), filters, readOf(list));
  }

  @Get('search')
  @Access(CONSOLE_STAFF)
  async search(@Query() { q }: SearchQuery, @Req() request: ConsoleRequest, @Res() response: Response): Promise<void> {
    const timeline = await this.api.get(`/ops/chains/${q}/timeline`, request.headers.authorization);
    response.redirect(303, timeline.ok ? `/console/correspondences/${q}` : `/console/chains?party=${q}`);
  }

  @Get('correspondences/:correspondenceId')
  @Access(CONSOLE_STAFF)
  @Header('content-type', 'text/html; charset=utf-8')
  async correspondence(
    @Param('correspondenceId', new ParseUUIDPipe()) id: string,
    @CurrentPrincipal() principal: Principal,
    @Req() request: ConsoleRequest,
  ): Promise<string> {
    const auth = request.headers.authorization;
    // Subjects and evidence verification are the auditor's (the API refuses them to ops); not even asked for others.
    const auditor = roles(principal).includes('auditor');
    const noAuditor: ApiAnswer<never> = { ok: false, status: 403, rule: 'access.role', message: 'auditors only' };
    const [timeline, chain, mailbox, verification] = await Promise.all([
      this.api.get<TimelineView>(`/ops/chains/${id}/timeline`, auth),
      this.api.get<ChainView>(`/chains/${id}`, auth),
      auditor ? this.api.get<{ subject: string | null }>(`/mailbox/correspondences/${id}`, auth) : Promise.resolve(noAuditor),
      auditor ? this.api.get<Verification>(`/evidence/${id}/verification`, auth) : Promise.resolve(noAuditor),
    ]);
    const subject: Read<string | null> = mailbox.ok ? { ok: true, value: mailbox.body.subject } : readOf(mailbox);
    return timelinePage(this.frame('Correspondence', principal, request), id, {
      timeline: readOf(timeline),
      chain: readOf(chain),
      subject,
      verification: readOf(verification),
    });
  }

  @Get('dead-letters')
  @Access(staff('ops', 'admin'))
  @Header('content-type', 'text/html; charset=utf-8')
  async deadLetters(@CurrentPrincipal() principal: Principal, @Req() request: ConsoleRequest, @Query() filters: DeadLettersQuery): Promise<string> {
    const search = new URLSearchParams();
    if (filters.topic) search.set('topic', filters.topic);
    if (filters.after) search.set('after', filters.after);
    const list = await this.api.get<{ items: DeadLetter[]; next: number | null }>(`/ops/dead-letters?${search.toString()}`, request.headers.authorization);
    return deadLettersPage(this.frame('Dead letters', principal, request), filters.topic, readOf(list));
  }

  @Get('dead-letters/:offset')
  @Access(staff('ops', 'admin'))
  @Header('content-type', 'text/html; charset=utf-8')
  async deadLetter(
    @Param('offset', new ParseIntPipe()) offset: number,
    @CurrentPrincipal() principal: Principal,
    @Req() request: ConsoleRequest,
  ): Promise<string> {
    const letter = await this.api.get<DeadLetter>(`/ops/dead-letters/${offset}`, request.headers.authorization);
    return deadLetterPage(this.frame('Dead letter', principal, request), readOf(letter), roles(principal).includes('ops'));
  }

  @Post('dead-letters/:offset/replay')
  @Access(staff('ops'))
  async replay(
    @Param('offset', new ParseIntPipe()) offset: number,
    @Body() _form: CsrfForm,
    @Req() request: ConsoleRequest,
    @Res() response: Response,
  ): Promise<void> {
    const answer = await this.api.call('POST', `/ops/dead-letters/${offset}/replay`, request.headers.authorization);
    if (!answer.ok)
      throw new HttpException({ statusCode: answer.status, message: answer.message, reasons: [{ rule: answer.rule, message: answer.message }] }, answer.status);
    response.redirect(303, `/console/dead-letters/${offset}`);
  }

  @Post('dead-letters/:offset/discard')
  @Access(staff('ops'))
  async discard(
    @Param('offset', new ParseIntPipe()) offset: number,
    @Body() form: DiscardConsoleForm,
    @Req() request: ConsoleRequest,
    @Res() response: Response,
  ): Promise<void> {
    const answer = await this.api.call('POST', `/ops/dead-letters/${offset}/discard`, request.headers.authorization, { reason: form.reason });
    if (!answer.ok)
      throw new HttpException({ statusCode: answer.status, message: answer.message, reasons: [{ rule: answer.rule, message: answer.message }] }, answer.status);
    response.redirect(303, `/console/dead-letters/${offset}`);
  }

  @Get('projections/:name')
  @Access(CONSOLE_STAFF)
  @Header('content-type', 'text/html; charset=utf-8')
  async projection(@Param('name') name: string, @CurrentPrincipal() principal: Principal, @Req() request: ConsoleRequest): Promise<string> {
    projectionName(name);
    const status = await this.api.get<RebuildStatus>(`/projections/${name}/rebuild`, request.headers.authorization);
    if (!status.ok && status.status === 404)
      throw new HttpException({ statusCode: 404, message: status.message, reasons: [{ rule: status.rule, message: status.message }] }, 404);
    // Reloads every 2 s while a rebuild runs (a meta refresh: no script), then stays.
    const running = status.ok && status.body.state === 'rebuilding';
    return projectionPage(
      this.frame(`Projection ${name}`, principal, request, running ? 2 : undefined),
      name,
      readOf(status),
      roles(principal).includes('ops'),
    );
  }

  @Post('projections/:name/rebuild')
  @Access(staff('ops'))
  @HttpCode(303)
  async rebuild(@Param('name') name: string, @Body() _form: CsrfForm, @Req() request: ConsoleRequest, @Res() response: Response): Promise<void> {
    projectionName(name);
    // Answered once the rebuild is under way (202); its page follows it to the end.
    const answer = await this.api.call('POST', `/projections/${name}/rebuild?wait=false`, request.headers.authorization);
    if (!answer.ok)
      throw new HttpException({ statusCode: answer.status, message: answer.message, reasons: [{ rule: answer.rule, message: answer.message }] }, answer.status);
    response.redirect(303, `/console/projections/${name}`);
  }

  /**
   * Retries a failed chain (its timeline's form): through the API with the staff member's token, so the certifier's
   * access decision and retry policy apply; back to the timeline, at the retry's notice, or every refusal reason.
   */
  @Post('chains/:correspondenceId/retry')
  @Access(staff('ops', 'admin'))
  async retryChain(
    @Param('correspondenceId', new ParseUUIDPipe()) id: string,
    @Body() form: RetryChainForm,
    @CurrentPrincipal() principal: Principal,
    @Req() request: ConsoleRequest,
    @Res() response: Response,
  ): Promise<void> {
    const answer = await this.api.call<{ attempt: number }>('POST', `/chains/${id}/retry`, request.headers.authorization, { reason: form.reason });
    if (answer.ok) {
      response.redirect(303, `/console/correspondences/${id}#retry-${answer.body.attempt}`);
      return;
    }
    if (answer.status === 401)
      throw new HttpException({ statusCode: 401, message: answer.message, reasons: [{ rule: answer.rule, message: answer.message }] }, 401);
    const listed = (answer.body as { reasons?: unknown } | undefined)?.reasons;
    const reasons = Array.isArray(listed)
      ? listed.map((reason: { rule?: unknown; message?: unknown }) => ({ rule: String(reason?.rule ?? ''), message: String(reason?.message ?? '') }))
      : [{ rule: answer.rule, message: answer.message }];
    const violations = (answer.body as { violations?: { field?: unknown; rule?: unknown; message?: unknown }[] } | undefined)?.violations ?? [];
    response
      .status(answer.status)
      .type('html')
      .send(
        retryRefusedPage(this.frame('Retry refused', principal, request), id, answer.status, [
          ...reasons,
          ...violations.map((violation) => ({ rule: String(violation.rule ?? ''), message: String(violation.message ?? '') })),
        ]),
      );
  }
}
