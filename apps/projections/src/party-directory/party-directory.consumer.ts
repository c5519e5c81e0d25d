import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RoleViewPattern } from '@sigillum/bus';
import { type DeliveredMessage, PARTY_CATEGORY, Topics } from '@sigillum/contracts';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { SqliteProjector } from '../sqlite-projector';
import { partyDirectoryProjection } from './party-directory.projection';

@Controller()
export class PartyDirectoryConsumer {
  private readonly projector: SqliteProjector;

  constructor(@Inject(LOCAL_DB) db: Database.Database) {
    this.projector = new SqliteProjector(db, partyDirectoryProjection);
  }

  @RoleViewPattern('projections', Topics.eventsOf(PARTY_CATEGORY))
  async onPartyEvent(@Payload() message: DeliveredMessage): Promise<void> {
    this.projector.handle(message);
  }
}
