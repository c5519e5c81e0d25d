import { Inject, Injectable } from '@nestjs/common';
import type { DeliveredMessage, ProcessingStep } from '@sigillum/contracts';
import { SqliteProjector } from '@sigillum/eventstore';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { operatorCandidates, operatorIndexProjection } from './operator-index.projection';

/** The operator index in the process's local SQLite file: fed by the party-events consumer, read by trust checks. */
@Injectable()
export class OperatorIndex {
  private readonly projector: SqliteProjector;

  constructor(@Inject(LOCAL_DB) private readonly db: Database.Database) {
    this.projector = new SqliteProjector(db, operatorIndexProjection);
  }

  /** Applies a party event once (redeliveries change nothing). */
  apply(message: DeliveredMessage): boolean {
    return this.projector.handle(message);
  }

  candidates(step: ProcessingStep, limit?: number): string[] {
    return operatorCandidates(this.db, step, limit);
  }
}
