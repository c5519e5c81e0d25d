import { eventTypeOf, type DeliveredMessage, PARTY_KINDS, type PartyEvent } from '@sigillum/contracts';
import { PoisonMessageError } from '@sigillum/bus';
import type Database from 'better-sqlite3';
import type { SqliteProjection } from '../sqlite-projector';

export interface PartyView {
  readonly partyId: string;
  readonly kind: string;
  readonly displayName: string;
  readonly registeredAt: string;
  readonly updatedAt: string;
  /** How many events of the party's stream this view reflects. */
  readonly eventCount: number;
}

const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/** Refuses, as poison, a message whose body is not the event its type announces. */
export function parsePartyEvent(message: DeliveredMessage): PartyEvent {
  const data = message.data as Record<string, unknown> | null;
  const type = eventTypeOf(message);
  if (typeof data !== 'object' || data === null) throw new PoisonMessageError(`${type}: body is not a JSON object`);
  if (!isText(data.partyId)) throw new PoisonMessageError(`${type}: data.partyId must be a non-empty string`);
  if (!isText(data.displayName)) throw new PoisonMessageError(`${type}: data.displayName must be a non-empty string`);
  switch (type) {
    case 'PartyRegistered':
      if (!PARTY_KINDS.includes(data.kind as never)) throw new PoisonMessageError(`${type}: data.kind must be one of ${PARTY_KINDS.join(', ')}`);
      if (!isText(data.registeredAt)) throw new PoisonMessageError(`${type}: data.registeredAt must be an ISO time`);
      return { type, version: message.dataVersion, data: data as PartyEvent['data'] } as PartyEvent;
    case 'PartyRenamed':
      if (!isText(data.renamedAt)) throw new PoisonMessageError(`${type}: data.renamedAt must be an ISO time`);
      return { type, version: message.dataVersion, data: data as PartyEvent['data'] } as PartyEvent;
    default:
      throw new PoisonMessageError(`unknown party event type "${message.type}"`);
  }
}

export const partyDirectoryProjection: SqliteProjection = {
  name: 'party-directory',
  version: 1,
  tables: ['rm_parties'],
  schema: `CREATE TABLE IF NOT EXISTS rm_parties (
    party_id TEXT PRIMARY KEY, kind TEXT NOT NULL, display_name TEXT NOT NULL,
    registered_at TEXT NOT NULL, updated_at TEXT NOT NULL, event_count INTEGER NOT NULL)`,
  apply(db: Database.Database, message: DeliveredMessage): void {
    const event = parsePartyEvent(message);
    switch (event.type) {
      case 'PartyRegistered':
        db.prepare(
          `INSERT INTO rm_parties (party_id, kind, display_name, registered_at, updated_at, event_count)
           VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT(party_id) DO NOTHING`,
        ).run(event.data.partyId, event.data.kind, event.data.displayName, event.data.registeredAt, event.data.registeredAt);
        return;
      case 'PartyRenamed':
        db.prepare(
          'UPDATE rm_parties SET display_name = ?, updated_at = ?, event_count = event_count + 1 WHERE party_id = ?',
        ).run(event.data.displayName, event.data.renamedAt, event.data.partyId);
        return;
    }
  },
};

export function findParty(db: Database.Database, partyId: string): PartyView | undefined {
  return db
    .prepare(
      `SELECT party_id AS partyId, kind, display_name AS displayName, registered_at AS registeredAt,
              updated_at AS updatedAt, event_count AS eventCount FROM rm_parties WHERE party_id = ?`,
    )
    .get(partyId) as PartyView | undefined;
}
