import { parseData, PoisonMessageError } from '@sigillum/bus';
import {
  type DeliveredMessage,
  eventTypeOf,
  OPERATOR_ROLES,
  type ProcessingStep,
  readOperatorSpecificationRegistered,
  readPartyRegistered,
} from '@sigillum/contracts';
import type { SqliteProjection } from '@sigillum/eventstore';
import type Database from 'better-sqlite3';

/**
 * Which processing operator offers which step, in registration order: the certifier's small read model of
 * `sigillum.party.events`, used to choose the operator of each step of a chain. Only operators and their
 * specifications are kept; other party events pass through untouched.
 */
export const operatorIndexProjection: SqliteProjection = {
  name: 'certifier-operator-index',
  version: 1,
  tables: ['cert_operators', 'cert_operator_steps'],
  schema: `CREATE TABLE IF NOT EXISTS cert_operators (
      party_id TEXT PRIMARY KEY, operator_role TEXT NOT NULL, registered_at TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS cert_operator_steps (
      party_id TEXT NOT NULL, step TEXT NOT NULL, PRIMARY KEY (party_id, step)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS cert_operator_steps_by_step ON cert_operator_steps (step, party_id);`,
  apply(db: Database.Database, message: DeliveredMessage): void {
    const type = eventTypeOf(message);
    if (type !== 'PartyRegistered' && type !== 'OperatorSpecificationRegistered') return;
    if (type === 'PartyRegistered') {
      const data = parseData(message, readPartyRegistered);
      if (data.kind !== 'operator') return;
      if (!data.operatorRole) throw new PoisonMessageError(`${type}: data.operatorRole must be one of ${OPERATOR_ROLES.join(', ')} for an operator`);
      db.prepare(
        `INSERT INTO cert_operators (party_id, operator_role, registered_at) VALUES (?, ?, ?)
         ON CONFLICT(party_id) DO UPDATE SET operator_role = excluded.operator_role, registered_at = excluded.registered_at`,
      ).run(data.partyId, data.operatorRole, data.registeredAt);
      return;
    }
    const data = parseData(message, readOperatorSpecificationRegistered);
    const steps = new Set<ProcessingStep>(data.specification.steps.map(({ step }) => step));
    // A new specification replaces the previous one.
    db.prepare('DELETE FROM cert_operator_steps WHERE party_id = ?').run(data.partyId);
    const insert = db.prepare('INSERT INTO cert_operator_steps (party_id, step) VALUES (?, ?)');
    for (const step of steps) insert.run(data.partyId, step);
  },
};

/** Processing operators whose last projected specification offers `step`, earliest registered first. */
export function operatorCandidates(db: Database.Database, step: ProcessingStep, limit = 20): string[] {
  const rows = candidatesStatement(db).all(step, limit) as { partyId: string }[];
  return rows.map((row) => row.partyId);
}

/** The candidates query, prepared once per connection (it runs on every trust check). */
const candidateStatements = new WeakMap<Database.Database, Database.Statement>();

function candidatesStatement(db: Database.Database): Database.Statement {
  let statement = candidateStatements.get(db);
  if (!statement) {
    statement = db.prepare(
      `SELECT o.party_id AS partyId FROM cert_operator_steps s JOIN cert_operators o ON o.party_id = s.party_id
       WHERE s.step = ? AND o.operator_role = 'processing' ORDER BY o.registered_at, o.party_id LIMIT ?`,
    );
    candidateStatements.set(db, statement);
  }
  return statement;
}
