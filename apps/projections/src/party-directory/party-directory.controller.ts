import { Controller, Get, Inject, NotFoundException, Param, ParseUUIDPipe } from '@nestjs/common';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { findParty, type PartyView } from './party-directory.projection';

@Controller('parties')
export class PartyDirectoryController {
  constructor(@Inject(LOCAL_DB) private readonly db: Database.Database) {}

  /** The party as projected from the log; a party just registered appears once its event is consumed. */
  @Get(':partyId')
  get(@Param('partyId', new ParseUUIDPipe()) partyId: string): PartyView {
    const party = findParty(this.db, partyId);
    if (!party) throw new NotFoundException({ statusCode: 404, message: `No party ${partyId} in the directory view (yet)` });
    return party;
  }
}
