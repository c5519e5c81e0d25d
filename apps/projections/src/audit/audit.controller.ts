import { ApiOperation } from '@nestjs/swagger';
import { Access, staff } from '@sigillum/auth';
import { Controller, Get, Inject, NotFoundException, Param, ParseUUIDPipe, Query } from '@nestjs/common';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { DEFAULT_PAGE_LIMIT, PageQuery } from '../mailbox/page.query';
import { type AuditCorrespondenceView, auditCorrespondence, auditParty, type PartyEvidenceView } from './audit.projection';

/**
 * The auditor's view: a correspondence's evidence chain with digests and its verification status (checked here,
 * against the CA certificates recorded in the log), and every evidence that names a party.
 */
@Controller('audit')
export class AuditController {
  constructor(@Inject(LOCAL_DB) private readonly db: Database.Database) {}

  @Get('correspondences/:correspondenceId')
  @ApiOperation({ summary: 'Audit trail of one correspondence, rebuilt from the log' })
  @Access(staff('auditor'))
  correspondence(@Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string): AuditCorrespondenceView {
    const view = auditCorrespondence(this.db, correspondenceId);
    if (!view) throw new NotFoundException({ statusCode: 404, code: 'AUDIT.UNKNOWN_CORRESPONDENCE', message: `No evidence of correspondence ${correspondenceId} in the audit view (yet)` });
    return view;
  }

  @Get('parties/:partyId')
  @ApiOperation({ summary: 'Audit trail of one party, rebuilt from the log' })
  @Access(staff('auditor'))
  party(@Param('partyId', new ParseUUIDPipe()) partyId: string, @Query() page: PageQuery): { items: PartyEvidenceView[]; total: number; limit: number; offset: number } {
    return auditParty(this.db, partyId, page.limit ?? DEFAULT_PAGE_LIMIT, page.offset ?? 0);
  }
}
