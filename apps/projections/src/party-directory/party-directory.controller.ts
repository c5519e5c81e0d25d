import { ApiOperation } from '@nestjs/swagger';
import { Access, party, staff } from '@sigillum/auth';
import { Controller, Get, Inject, NotFoundException, Param, ParseUUIDPipe, Query } from '@nestjs/common';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { findParty, type PartySummary, type PartyView, searchParties } from './party-directory.projection';
import { PartySearchQuery } from './party-directory.query';

const DEFAULT_LIMIT = 20;

@Controller('parties')
export class PartyDirectoryController {
  constructor(@Inject(LOCAL_DB) private readonly db: Database.Database) {}

  /** Counterparts and operators: by display name, kind, operator role, offered step; paged. */
  @Get()
  @ApiOperation({ summary: 'Lists the parties of the directory read model (staff only)' })
  @Access(staff('admin', 'registrar', 'ops', 'auditor'))
  search(@Query() query: PartySearchQuery): { items: PartySummary[]; total: number; limit: number; offset: number } {
    const limit = query.limit ?? DEFAULT_LIMIT;
    const offset = query.offset ?? 0;
    const { items, total } = searchParties(this.db, { ...query, limit, offset });
    return { items, total, limit, offset };
  }

  /** The party as projected from the log; a party just registered appears once its event is consumed. */
  @Get(':partyId')
  @ApiOperation({ summary: 'One party of the directory read model: attributes, channels (masked), keys, specification' })
  @Access(party('partyId'), staff('admin', 'registrar', 'ops', 'auditor'))
  get(@Param('partyId', new ParseUUIDPipe()) partyId: string): PartyView {
    const party = findParty(this.db, partyId);
    if (!party) throw new NotFoundException({ statusCode: 404, message: `No party ${partyId} in the directory view (yet)` });
    return party;
  }
}
