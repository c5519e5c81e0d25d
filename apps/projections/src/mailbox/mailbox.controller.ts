import { ApiOperation } from '@nestjs/swagger';
import { Access, party, staff } from '@sigillum/auth';
import { Controller, Get, Inject, NotFoundException, Param, ParseUUIDPipe, Query } from '@nestjs/common';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { type CorrespondenceSummary, type CorrespondenceView, findCorrespondence, inbox, outbox, type Page, type RecipientStatus } from './mailbox.projection';
import { DEFAULT_PAGE_LIMIT, PageQuery } from './page.query';

/**
 * Mailboxes as projected from the log: a party's inbox and outbox (paged, newest first), and one correspondence with
 * its status, every recipient's answer, its history and its evidence. A fact just recorded appears once consumed.
 */
@Controller('mailbox')
export class MailboxReadModelController {
  constructor(@Inject(LOCAL_DB) private readonly db: Database.Database) {}

  // Declared before ':partyId/…' so that "correspondences" is never taken for a party.
  @Get('correspondences/:correspondenceId')
  @ApiOperation({ summary: 'Mailbox read model of one correspondence (auditor)' })
  @Access(staff('auditor'))
  correspondence(@Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string): CorrespondenceView {
    const view = findCorrespondence(this.db, correspondenceId);
    if (!view)
      throw new NotFoundException({
        statusCode: 404,
        code: 'MAILBOX.UNKNOWN_CORRESPONDENCE',
        message: `No correspondence ${correspondenceId} in the mailbox view (yet)`,
      });
    return view;
  }

  @Get(':partyId/inbox')
  @ApiOperation({ summary: "A party's inbox read model" })
  @Access(party('partyId'), staff('auditor'))
  inbox(@Param('partyId', new ParseUUIDPipe()) partyId: string, @Query() page: PageQuery): Page<CorrespondenceSummary & { myStatus: RecipientStatus }> {
    return inbox(this.db, partyId, page.limit ?? DEFAULT_PAGE_LIMIT, page.offset ?? 0);
  }

  @Get(':partyId/outbox')
  @ApiOperation({ summary: "A party's outbox read model" })
  @Access(party('partyId'), staff('auditor'))
  outbox(@Param('partyId', new ParseUUIDPipe()) partyId: string, @Query() page: PageQuery): Page<CorrespondenceSummary> {
    return outbox(this.db, partyId, page.limit ?? DEFAULT_PAGE_LIMIT, page.offset ?? 0);
  }
}
