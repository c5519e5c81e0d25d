import { ApiOperation } from '@nestjs/swagger';
import { Access, staff } from '@sigillum/auth';
import { Controller, Get, Inject, NotFoundException, Param, ParseUUIDPipe, Query } from '@nestjs/common';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { DEFAULT_PAGE_LIMIT, PageQuery } from '../mailbox/page.query';
import { AUDIT_RANGE_DEFAULT_LIMIT, AuditCorrespondencesQuery, decodeAuditCursor, encodeAuditCursor } from './audit-correspondences.query';
import {
  type AuditCorrespondenceInRange,
  type AuditCorrespondenceView,
  auditCorrespondence,
  auditCorrespondencesInRange,
  auditParty,
  type PartyEvidenceView,
} from './audit.projection';

/** A page of `GET /audit/correspondences`: `next` is the `after` of the following page, null on the last one. */
export interface AuditCorrespondencesPage {
  readonly items: AuditCorrespondenceInRange[];
  readonly next: string | null;
  readonly since: string | null;
  readonly until: string | null;
  readonly limit: number;
}

/** A validated ISO-8601 time as the range compares it (normalized UTC). */
const utc = (time: string | undefined) => (time === undefined ? undefined : new Date(time).toISOString());

/**
 * The auditor's view: a correspondence's evidence chain with digests and its verification status (checked here,
 * against the CA certificates recorded in the log), every evidence that names a party, and the correspondences
 * submitted in a time range (for the regulator's export by time range).
 */
@Controller('audit')
export class AuditController {
  constructor(@Inject(LOCAL_DB) private readonly db: Database.Database) {}

  @Get('correspondences')
  @ApiOperation({
    summary: 'Correspondences whose first evidence (the submission) falls in [since, until), by (time, id), paged with a cursor',
  })
  @Access(staff('auditor'))
  correspondences(@Query() query: AuditCorrespondencesQuery): AuditCorrespondencesPage {
    const limit = query.limit ?? AUDIT_RANGE_DEFAULT_LIMIT;
    const since = utc(query.since);
    const until = utc(query.until);
    const after = query.after === undefined ? undefined : decodeAuditCursor(query.after); // validated by the pipe
    const { items, next } = auditCorrespondencesInRange(this.db, { since, until, after, limit });
    return {
      items,
      next: next ? encodeAuditCursor({ time: next.time, correspondenceId: next.correspondenceId }) : null,
      since: since ?? null,
      until: until ?? null,
      limit,
    };
  }

  @Get('correspondences/:correspondenceId')
  @ApiOperation({ summary: 'Audit trail of one correspondence, rebuilt from the log' })
  @Access(staff('auditor'))
  correspondence(@Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string): AuditCorrespondenceView {
    const view = auditCorrespondence(this.db, correspondenceId);
    if (!view)
      throw new NotFoundException({
        statusCode: 404,
        code: 'AUDIT.UNKNOWN_CORRESPONDENCE',
        message: `No evidence of correspondence ${correspondenceId} in the audit view (yet)`,
      });
    return view;
  }

  @Get('parties/:partyId')
  @ApiOperation({ summary: 'Audit trail of one party, rebuilt from the log' })
  @Access(staff('auditor'))
  party(
    @Param('partyId', new ParseUUIDPipe()) partyId: string,
    @Query() page: PageQuery,
  ): { items: PartyEvidenceView[]; total: number; limit: number; offset: number } {
    return auditParty(this.db, partyId, page.limit ?? DEFAULT_PAGE_LIMIT, page.offset ?? 0);
  }
}
