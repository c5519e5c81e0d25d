import { parseData, skipUnknownEventType } from '@sigillum/bus';
import {
  type DeliveredMessage,
  eventTypeOf,
  isPublicIdentityAttribute,
  PARTY_READERS,
  type PartyEvent,
  type PartyKind,
  readPartyEvent,
  type StepParameterSpec,
} from '@sigillum/contracts';
import { maskAddress } from '@sigillum/crypto';
import type Database from 'better-sqlite3';
import type { SqliteProjection } from '../sqlite-projector';

//////// Views

export interface AttributeView {
  readonly name: string;
  /** Shown for public registry facts of organisations and operators only; private values are never projected. */
  readonly value?: string;
  readonly declaredAt: string;
}

export interface ChannelView {
  readonly channelId: string;
  readonly kind: string;
  readonly maskedAddress: string;
  readonly verified: boolean;
  /** `pending` (code sent), `verified`, `expired` or `locked` (attempts exhausted). */
  readonly status: string;
  readonly enrolledAt: string;
  readonly verifiedAt?: string;
}

export interface KeyView {
  readonly keyId: string;
  readonly algorithm: string;
  readonly use: string;
  readonly fingerprint: string;
  readonly revoked: boolean;
  readonly registeredAt: string;
  readonly revokedAt?: string;
}

export interface StepView {
  readonly step: string;
  readonly maxDurationSeconds: number;
  readonly parameters: Readonly<Record<string, StepParameterSpec>>;
}

export interface PartyView {
  readonly partyId: string;
  readonly kind: string;
  readonly operatorRole: string | null;
  readonly displayName: string;
  readonly registeredAt: string;
  readonly updatedAt: string;
  /** How many events of the party's stream this view reflects. */
  readonly eventCount: number;
  readonly attributes: readonly AttributeView[];
  /** Channels not removed. */
  readonly channels: readonly ChannelView[];
  readonly keys: readonly KeyView[];
  readonly specification: { readonly version: number; readonly registeredAt: string; readonly steps: readonly StepView[] } | null;
}

export interface PartySummary {
  readonly partyId: string;
  readonly kind: string;
  readonly operatorRole: string | null;
  readonly displayName: string;
  /** Steps a processing operator offers (empty for others). */
  readonly steps: readonly string[];
}

export interface PartySearch {
  readonly q?: string;
  readonly kind?: string;
  readonly operatorRole?: string;
  readonly step?: string;
  readonly limit: number;
  readonly offset: number;
}

//////// Parsing: a message whose body is not the event its type announces is poison (the contracts readers)

/** The event with its data checked; null for a type this projection does not know (skipped and counted, not poison). */
export function parsePartyEvent(message: DeliveredMessage): PartyEvent | null {
  const type = eventTypeOf(message);
  if (!Object.prototype.hasOwnProperty.call(PARTY_READERS, type)) {
    skipUnknownEventType('party-directory', message);
    return null;
  }
  return parseData(message, (data) => readPartyEvent(type, message.dataVersion, data));
}

//////// Projection

/** Lower-cased, accents removed: what a search by display name compares. */
export function searchForm(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS rm_parties (
    party_id TEXT PRIMARY KEY, kind TEXT NOT NULL, operator_role TEXT, display_name TEXT NOT NULL,
    search_name TEXT NOT NULL, registered_at TEXT NOT NULL, updated_at TEXT NOT NULL, event_count INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS rm_parties_kind ON rm_parties (kind, operator_role);
  CREATE TABLE IF NOT EXISTS rm_party_attributes (
    party_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT, declared_at TEXT NOT NULL,
    PRIMARY KEY (party_id, name)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS rm_party_channels (
    party_id TEXT NOT NULL, channel_id TEXT NOT NULL, kind TEXT NOT NULL, masked_address TEXT NOT NULL,
    status TEXT NOT NULL, enrolled_at TEXT NOT NULL, verified_at TEXT, removed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (party_id, channel_id)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS rm_party_keys (
    party_id TEXT NOT NULL, key_id TEXT NOT NULL, algorithm TEXT NOT NULL, use TEXT NOT NULL, fingerprint TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0, registered_at TEXT NOT NULL, revoked_at TEXT,
    PRIMARY KEY (party_id, key_id)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS rm_party_specifications (
    party_id TEXT PRIMARY KEY, version INTEGER NOT NULL, registered_at TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS rm_party_steps (
    party_id TEXT NOT NULL, step TEXT NOT NULL, position INTEGER NOT NULL, max_duration_seconds INTEGER NOT NULL,
    parameters TEXT NOT NULL, PRIMARY KEY (party_id, step)) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS rm_party_steps_step ON rm_party_steps (step, party_id);`;

function touch(db: Database.Database, partyId: string, at: string): void {
  db.prepare('UPDATE rm_parties SET updated_at = ?, event_count = event_count + 1 WHERE party_id = ?').run(at, partyId);
}

function kindOf(db: Database.Database, partyId: string): PartyKind | undefined {
  return (db.prepare('SELECT kind FROM rm_parties WHERE party_id = ?').get(partyId) as { kind: PartyKind } | undefined)?.kind;
}

export const partyDirectoryProjection: SqliteProjection = {
  name: 'party-directory',
  version: 2,
  tables: ['rm_parties', 'rm_party_attributes', 'rm_party_channels', 'rm_party_keys', 'rm_party_specifications', 'rm_party_steps'],
  schema: SCHEMA,
  apply(db: Database.Database, message: DeliveredMessage): void {
    const event = parsePartyEvent(message);
    if (!event) return; // a newer producer's event type: nothing to project
    const partyId = event.data.partyId;
    switch (event.type) {
      case 'PartyRegistered': {
        const { kind, operatorRole, displayName, registeredAt } = event.data;
        db.prepare(
          `INSERT INTO rm_parties (party_id, kind, operator_role, display_name, search_name, registered_at, updated_at, event_count)
           VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT(party_id) DO NOTHING`,
        ).run(partyId, kind, operatorRole ?? null, displayName, searchForm(displayName), registeredAt, registeredAt);
        return;
      }
      case 'PartyRenamed':
        db.prepare('UPDATE rm_parties SET display_name = ?, search_name = ? WHERE party_id = ?').run(
          event.data.displayName,
          searchForm(event.data.displayName),
          partyId,
        );
        return touch(db, partyId, event.data.renamedAt);
      case 'IdentityAttributeDeclared': {
        const { name, value, declaredAt } = event.data;
        const kind = kindOf(db, partyId);
        const shown = kind !== undefined && isPublicIdentityAttribute(kind, name) ? value : null;
        db.prepare(
          `INSERT INTO rm_party_attributes (party_id, name, value, declared_at) VALUES (?, ?, ?, ?)
           ON CONFLICT(party_id, name) DO UPDATE SET value = excluded.value, declared_at = excluded.declared_at`,
        ).run(partyId, name, shown, declaredAt);
        return touch(db, partyId, declaredAt);
      }
      case 'SecondChannelEnrolled': {
        const { channelId, kind, address, enrolledAt } = event.data;
        db.prepare(
          `INSERT INTO rm_party_channels (party_id, channel_id, kind, masked_address, status, enrolled_at)
           VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING`,
        ).run(partyId, channelId, kind, maskAddress(kind, address), enrolledAt);
        return touch(db, partyId, enrolledAt);
      }
      case 'SecondChannelVerificationFailed': {
        const { channelId, rule, failedAt } = event.data;
        const status = rule === 'code.expired' ? 'expired' : rule === 'attempts.exhausted' ? 'locked' : undefined;
        if (status) {
          db.prepare(`UPDATE rm_party_channels SET status = ? WHERE party_id = ? AND channel_id = ? AND status = 'pending'`).run(status, partyId, channelId);
        }
        return touch(db, partyId, failedAt);
      }
      case 'SecondChannelVerified':
        db.prepare(`UPDATE rm_party_channels SET status = 'verified', verified_at = ? WHERE party_id = ? AND channel_id = ?`).run(
          event.data.verifiedAt,
          partyId,
          event.data.channelId,
        );
        return touch(db, partyId, event.data.verifiedAt);
      case 'SecondChannelRemoved':
        db.prepare('UPDATE rm_party_channels SET removed = 1 WHERE party_id = ? AND channel_id = ?').run(partyId, event.data.channelId);
        return touch(db, partyId, event.data.removedAt);
      case 'PublicKeyRegistered': {
        const { keyId, algorithm, use, fingerprint, registeredAt } = event.data;
        db.prepare(
          `INSERT INTO rm_party_keys (party_id, key_id, algorithm, use, fingerprint, registered_at)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        ).run(partyId, keyId, algorithm, use, fingerprint, registeredAt);
        return touch(db, partyId, registeredAt);
      }
      case 'PublicKeyRevoked':
        db.prepare('UPDATE rm_party_keys SET revoked = 1, revoked_at = ? WHERE party_id = ? AND key_id = ?').run(
          event.data.revokedAt,
          partyId,
          event.data.keyId,
        );
        return touch(db, partyId, event.data.revokedAt);
      case 'OperatorSpecificationRegistered': {
        const { specification, registeredAt } = event.data;
        db.prepare(
          `INSERT INTO rm_party_specifications (party_id, version, registered_at) VALUES (?, ?, ?)
           ON CONFLICT(party_id) DO UPDATE SET version = excluded.version, registered_at = excluded.registered_at`,
        ).run(partyId, specification.version, registeredAt);
        db.prepare('DELETE FROM rm_party_steps WHERE party_id = ?').run(partyId);
        const insert = db.prepare('INSERT INTO rm_party_steps (party_id, step, position, max_duration_seconds, parameters) VALUES (?, ?, ?, ?, ?)');
        specification.steps.forEach((step, position) =>
          insert.run(partyId, step.step, position, step.maxDurationSeconds, JSON.stringify(step.parameters ?? {})),
        );
        return touch(db, partyId, registeredAt);
      }
    }
  },
};

//////// Queries

export function findParty(db: Database.Database, partyId: string): PartyView | undefined {
  const party = db
    .prepare(
      `SELECT party_id AS partyId, kind, operator_role AS operatorRole, display_name AS displayName,
              registered_at AS registeredAt, updated_at AS updatedAt, event_count AS eventCount
       FROM rm_parties WHERE party_id = ?`,
    )
    .get(partyId) as Omit<PartyView, 'attributes' | 'channels' | 'keys' | 'specification'> | undefined;
  if (!party) return undefined;
  const attributes = (
    db.prepare('SELECT name, value, declared_at AS declaredAt FROM rm_party_attributes WHERE party_id = ? ORDER BY name').all(partyId) as {
      name: string;
      value: string | null;
      declaredAt: string;
    }[]
  ).map(({ name, value, declaredAt }) => (value === null ? { name, declaredAt } : { name, value, declaredAt }));
  const channels = (
    db
      .prepare(
        `SELECT channel_id AS channelId, kind, masked_address AS maskedAddress, status, enrolled_at AS enrolledAt, verified_at AS verifiedAt
         FROM rm_party_channels WHERE party_id = ? AND removed = 0 ORDER BY enrolled_at, channel_id`,
      )
      .all(partyId) as (Omit<ChannelView, 'verified' | 'verifiedAt'> & { verifiedAt: string | null })[]
  ).map(({ verifiedAt, ...channel }) => ({ ...channel, verified: channel.status === 'verified', ...(verifiedAt ? { verifiedAt } : {}) }));
  const keys = (
    db
      .prepare(
        `SELECT key_id AS keyId, algorithm, use, fingerprint, revoked, registered_at AS registeredAt, revoked_at AS revokedAt
         FROM rm_party_keys WHERE party_id = ? ORDER BY registered_at, key_id`,
      )
      .all(partyId) as (Omit<KeyView, 'revoked' | 'revokedAt'> & { revoked: number; revokedAt: string | null })[]
  ).map(({ revoked, revokedAt, ...key }) => ({ ...key, revoked: revoked === 1, ...(revokedAt ? { revokedAt } : {}) }));
  const spec = db.prepare('SELECT version, registered_at AS registeredAt FROM rm_party_specifications WHERE party_id = ?').get(partyId) as
    { version: number; registeredAt: string } | undefined;
  const specification = spec
    ? {
        ...spec,
        steps: (
          db
            .prepare('SELECT step, max_duration_seconds AS maxDurationSeconds, parameters FROM rm_party_steps WHERE party_id = ? ORDER BY position')
            .all(partyId) as { step: string; maxDurationSeconds: number; parameters: string }[]
        ).map((row) => ({ ...row, parameters: JSON.parse(row.parameters) as Record<string, StepParameterSpec> })),
      }
    : null;
  return { ...party, attributes, channels, keys, specification };
}

/**
 * Parties by display name (case- and accent-insensitive substring, prefix matches first), kind, operator
 * role, and offered step; paged. Returns the page and the total matching.
 */
export function searchParties(db: Database.Database, search: PartySearch): { items: PartySummary[]; total: number } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const q = search.q ? searchForm(search.q.trim()) : '';
  if (q) {
    where.push('instr(p.search_name, ?) > 0');
    params.push(q);
  }
  if (search.kind) {
    where.push('p.kind = ?');
    params.push(search.kind);
  }
  if (search.operatorRole) {
    where.push('p.operator_role = ?');
    params.push(search.operatorRole);
  }
  if (search.step) {
    where.push('EXISTS (SELECT 1 FROM rm_party_steps s WHERE s.party_id = p.party_id AND s.step = ?)');
    params.push(search.step);
  }
  const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  const { total } = db.prepare(`SELECT count(*) AS total FROM rm_parties p ${clause}`).get(...params) as { total: number };
  const rows = db
    .prepare(
      `SELECT p.party_id AS partyId, p.kind, p.operator_role AS operatorRole, p.display_name AS displayName,
              (SELECT group_concat(step, ',') FROM (SELECT step FROM rm_party_steps s WHERE s.party_id = p.party_id ORDER BY position)) AS steps
       FROM rm_parties p ${clause}
       ORDER BY ${q ? 'instr(p.search_name, ?) = 1 DESC,' : ''} p.search_name, p.registered_at, p.party_id
       LIMIT ? OFFSET ?`,
    )
    .all(...params, ...(q ? [q] : []), search.limit, search.offset) as (Omit<PartySummary, 'steps'> & { steps: string | null })[];
  return { items: rows.map((row) => ({ ...row, steps: row.steps ? row.steps.split(',') : [] })), total };
}
