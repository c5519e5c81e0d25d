import { Inject, Injectable } from '@nestjs/common';
import type { DeliveredMessage, ProcessingStep } from '@sigillum/contracts';
import { SqliteProjector } from '@sigillum/eventstore';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { operatorCandidates, operatorIndexProjection } from './operator-index.projection';

/**
 * The operator index in the process's local SQLite file: fed by the party-events consumer, read by trust checks.
 *
 * Every trust check asks it once per step of the kind's chain (4 queries a session opening) while the index changes
 * only when an operator registers or changes its specification: the answers are kept in memory and forgotten whenever
 * this index applies a party event (the only writer of its tables). A kept answer is no staler than the index itself
 * may be: the trust check confirms each candidate on the party's own stream.
 */
@Injectable()
export class OperatorIndex {
  private readonly projector: SqliteProjector;
  /** Candidates by step and limit, as last read from the tables. */
  private readonly answers = new Map<string, readonly string[]>();

  constructor(@Inject(LOCAL_DB) private readonly db: Database.Database) {
    this.projector = new SqliteProjector(db, operatorIndexProjection);
  }

  /** Applies a party event once (redeliveries change nothing). */
  apply(message: DeliveredMessage): boolean {
    const applied = this.projector.handle(message);
    if (applied) this.answers.clear();
    return applied;
  }

  candidates(step: ProcessingStep, limit?: number): string[] {
    const key = `${step}\u0000${limit ?? ''}`;
    let answer = this.answers.get(key);
    if (!answer) {
      answer = operatorCandidates(this.db, step, limit);
      this.answers.set(key, answer);
    }
    return [...answer];
  }
}
