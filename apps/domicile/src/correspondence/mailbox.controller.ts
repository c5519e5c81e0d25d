import { Access, party } from '@sigillum/auth';
import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiPropertyOptional, ApiOperation } from '@nestjs/swagger';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { type AuthenticatedSession, CurrentSession } from '../session/session-credential.guard';
import { MailboxQueries } from './mailbox.projection';

export class MailboxQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;
}

/**
 * The session party's inbox (correspondence delivered to it, with its own state) and outbox (what it sent, with
 * each recipient's state), newest first, from the office's read model of its own events (eventually consistent:
 * a change shows once the consumer has applied it; GET /correspondences/:correspondenceId reads the log itself).
 */
@Controller()
@Access(party())
export class MailboxController {
  private readonly queries: MailboxQueries;

  constructor(@Inject(LOCAL_DB) db: Database.Database) {
    this.queries = new MailboxQueries(db);
  }

  @Get('inbox')
  @ApiOperation({ summary: "The caller's inbox" })
  inbox(@Query() query: MailboxQuery, @CurrentSession() session: AuthenticatedSession) {
    return { partyId: session.userId, correspondences: this.queries.inboxOf(session.userId, query.limit ?? 50) };
  }

  @Get('outbox')
  @ApiOperation({ summary: "The caller's outbox" })
  outbox(@Query() query: MailboxQuery, @CurrentSession() session: AuthenticatedSession) {
    return { partyId: session.userId, correspondences: this.queries.outboxOf(session.userId, query.limit ?? 50) };
  }
}
