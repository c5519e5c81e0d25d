import { PoisonMessageError, resetUnknownEventTypeCounts, unknownEventTypeCounts } from '@sigillum/bus';
import type { DeliveredMessage, PartyEvent } from '@sigillum/contracts';
import Database from 'better-sqlite3';
import { SqliteProjector } from '../sqlite-projector';
import { findParty, partyDirectoryProjection, searchParties } from './party-directory.projection';

const at = '2026-11-25T08:00:00.000Z';
let offset = 0;
const message = (event: PartyEvent, id = `e${++offset}`): DeliveredMessage => ({
  topic: 'sigillum.party.events',
  key: `party-${(event.data as { partyId: string }).partyId}`,
  id,
  type: `sigillum.party.${event.type}`,
  source: '/tests',
  time: at,
  correlationId: id,
  causationId: id,
  dataVersion: event.version,
  data: event.data,
  partition: 0,
  offset: String(offset),
});

const P = '11111111-1111-4111-8111-111111111111';
const O = '22222222-2222-4222-8222-222222222222';
const G = '33333333-3333-4333-8333-333333333333';

const history: PartyEvent[] = [
  { type: 'PartyRegistered', version: 1, data: { partyId: P, kind: 'person', displayName: 'Élodie Dupré', registeredAt: at } },
  { type: 'IdentityAttributeDeclared', version: 1, data: { partyId: P, name: 'dateOfBirth', value: '1990-02-28', declaredAt: at } },
  { type: 'IdentityAttributeDeclared', version: 1, data: { partyId: P, name: 'legalName', value: 'Élodie Marie Dupré', declaredAt: at } },
  {
    type: 'SecondChannelEnrolled',
    version: 1,
    data: {
      partyId: P,
      channelId: 'c1',
      kind: 'email',
      address: 'elodie@example.org',
      verifier: 'ab'.repeat(32),
      verifierKeyId: 'k',
      expiresAt: at,
      maxAttempts: 3,
      enrolledAt: at,
    },
  },
  { type: 'SecondChannelVerified', version: 1, data: { partyId: P, channelId: 'c1', verifiedAt: at } },
  {
    type: 'SecondChannelEnrolled',
    version: 1,
    data: {
      partyId: P,
      channelId: 'c2',
      kind: 'sms',
      address: '+33612345678',
      verifier: 'cd'.repeat(32),
      verifierKeyId: 'k',
      expiresAt: at,
      maxAttempts: 3,
      enrolledAt: at,
    },
  },
  { type: 'SecondChannelVerificationFailed', version: 1, data: { partyId: P, channelId: 'c2', attempt: 1, rule: 'code.expired', failedAt: at } },
  {
    type: 'SecondChannelEnrolled',
    version: 1,
    data: {
      partyId: P,
      channelId: 'c3',
      kind: 'sms',
      address: '+33700000000',
      verifier: 'ef'.repeat(32),
      verifierKeyId: 'k',
      expiresAt: at,
      maxAttempts: 3,
      enrolledAt: at,
    },
  },
  { type: 'SecondChannelRemoved', version: 1, data: { partyId: P, channelId: 'c3', removedAt: at } },
  {
    type: 'PublicKeyRegistered',
    version: 1,
    data: {
      partyId: P,
      keyId: 'k1',
      algorithm: 'Ed25519',
      use: 'signature',
      publicKeyPem: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n',
      fingerprint: 'f'.repeat(64),
      registeredAt: at,
    },
  },
  { type: 'PublicKeyRevoked', version: 1, data: { partyId: P, keyId: 'k1', reason: 'lost', revokedAt: at } },
  { type: 'PartyRegistered', version: 1, data: { partyId: O, kind: 'operator', operatorRole: 'processing', displayName: 'Sceau Rapide', registeredAt: at } },
  { type: 'IdentityAttributeDeclared', version: 1, data: { partyId: O, name: 'registrationNumber', value: 'RCS 123', declaredAt: at } },
  { type: 'IdentityAttributeDeclared', version: 1, data: { partyId: O, name: 'phone', value: '+33111111111', declaredAt: at } },
  {
    type: 'OperatorSpecificationRegistered',
    version: 1,
    data: {
      partyId: O,
      specification: { version: 1, steps: [{ step: 'seal', parameters: {}, maxDurationSeconds: 60 }] },
      registeredAt: at,
    },
  },
  {
    type: 'OperatorSpecificationRegistered',
    version: 1,
    data: {
      partyId: O,
      specification: {
        version: 2,
        steps: [
          { step: 'timestamp', parameters: {}, maxDurationSeconds: 30 },
          { step: 'deliver', parameters: { mode: { type: 'string', allowed: ['fast'] } }, maxDurationSeconds: 600 },
        ],
      },
      registeredAt: at,
    },
  },
  { type: 'PartyRegistered', version: 1, data: { partyId: G, kind: 'operator', operatorRole: 'gateway', displayName: 'SMS Relay Dupont', registeredAt: at } },
];

function project(events: readonly PartyEvent[]): Database.Database {
  const db = new Database(':memory:');
  const projector = new SqliteProjector(db, partyDirectoryProjection);
  for (const event of events) projector.handle(message(event));
  return db;
}

describe('party-directory projection', () => {
  const db = project(history);

  it('projects a person: attribute names without private values, channels masked, removed ones hidden, keys with revocation', () => {
    const person = findParty(db, P);
    expect(person).toMatchObject({ partyId: P, kind: 'person', operatorRole: null, displayName: 'Élodie Dupré', eventCount: 11 });
    expect(person?.attributes).toEqual([
      { name: 'dateOfBirth', declaredAt: at },
      { name: 'legalName', declaredAt: at },
    ]);
    expect(person?.channels).toEqual([
      { channelId: 'c1', kind: 'email', maskedAddress: 'e***@example.org', status: 'verified', verified: true, enrolledAt: at, verifiedAt: at },
      { channelId: 'c2', kind: 'sms', maskedAddress: '+33*******78', status: 'expired', verified: false, enrolledAt: at },
    ]);
    expect(person?.keys).toEqual([
      { keyId: 'k1', algorithm: 'Ed25519', use: 'signature', fingerprint: 'f'.repeat(64), revoked: true, registeredAt: at, revokedAt: at },
    ]);
    expect(person?.specification).toBeNull();
    const everything =
      JSON.stringify(db.prepare('SELECT * FROM rm_party_attributes').all()) + JSON.stringify(db.prepare('SELECT * FROM rm_party_channels').all());
    for (const secret of ['1990-02-28', 'Élodie Marie Dupré', 'elodie@example.org', '+33612345678', 'abab']) expect(everything).not.toContain(secret);
  });

  it('projects an operator: public registry facts with values, contact details without, the latest specification', () => {
    const operator = findParty(db, O);
    expect(operator?.attributes).toEqual([
      { name: 'phone', declaredAt: at },
      { name: 'registrationNumber', value: 'RCS 123', declaredAt: at },
    ]);
    expect(operator?.specification).toEqual({
      version: 2,
      registeredAt: at,
      steps: [
        { step: 'timestamp', parameters: {}, maxDurationSeconds: 30 },
        { step: 'deliver', parameters: { mode: { type: 'string', allowed: ['fast'] } }, maxDurationSeconds: 600 },
      ],
    });
  });

  it('searches by display name, case- and accent-insensitive, prefix first; by kind, role and offered step; paged', () => {
    const page = { limit: 20, offset: 0 };
    expect(searchParties(db, { ...page, q: 'DUP' }).items.map((p) => p.partyId)).toEqual([P, G]);
    expect(searchParties(db, { ...page, q: 'elodie' }).items.map((p) => p.displayName)).toEqual(['Élodie Dupré']);
    expect(searchParties(db, { ...page, q: 'relay d' }).items.map((p) => p.partyId)).toEqual([G]);
    expect(searchParties(db, { ...page, kind: 'operator' }).total).toBe(2);
    expect(searchParties(db, { ...page, operatorRole: 'gateway' }).items.map((p) => p.partyId)).toEqual([G]);
    expect(searchParties(db, { ...page, step: 'deliver' }).items).toEqual([
      { partyId: O, kind: 'operator', operatorRole: 'processing', displayName: 'Sceau Rapide', steps: ['timestamp', 'deliver'] },
    ]);
    expect(searchParties(db, { ...page, step: 'seal' }).items).toEqual([]);
    expect(searchParties(db, { ...page, q: '%' }).items).toEqual([]);
    const first = searchParties(db, { limit: 1, offset: 0 });
    const second = searchParties(db, { limit: 1, offset: 1 });
    expect(first.total).toBe(3);
    expect(first.items[0].partyId).not.toBe(second.items[0].partyId);
  });

  it('rebuilds the same read model from the same log, and ignores redelivered events', () => {
    const again = project(history);
    for (const id of [P, O, G]) expect(findParty(again, id)).toEqual(findParty(db, id));
    const projector = new SqliteProjector(again, partyDirectoryProjection);
    expect(projector.handle(message(history[1], 'e2'))).toBe(true);
    const twice = new SqliteProjector(db, partyDirectoryProjection);
    expect(twice.handle(message(history[0], 'e1'))).toBe(false);
  });

  it('drops the tables of an older version and rebuilds', () => {
    const old = new Database(':memory:');
    old.exec(`CREATE TABLE projection_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL);
      INSERT INTO projection_versions VALUES ('party-directory', 1);
      CREATE TABLE rm_parties (party_id TEXT PRIMARY KEY, kind TEXT NOT NULL, display_name TEXT NOT NULL,
        registered_at TEXT NOT NULL, updated_at TEXT NOT NULL, event_count INTEGER NOT NULL);`);
    const projector = new SqliteProjector(old, partyDirectoryProjection);
    projector.handle(message(history[0]));
    expect(findParty(old, P)?.displayName).toBe('Élodie Dupré');
  });

  it('skips a type it does not know (a newer producer), counted, not poison; its known types stay checked', () => {
    resetUnknownEventTypeCounts();
    const db = new Database(':memory:');
    const fresh = new SqliteProjector(db, partyDirectoryProjection);
    const unknown = { ...message(history[0]), type: 'sigillum.party.PartyExploded', data: { anything: true } } as DeliveredMessage;
    expect(fresh.handle(unknown)).toBe(true);
    expect(fresh.handle(unknown)).toBe(false); // redelivered: applied once, counted once
    expect(findParty(db, P)).toBeUndefined();
    expect(unknownEventTypeCounts()).toEqual([{ consumer: 'party-directory', topic: 'sigillum.party.events', type: 'sigillum.party.PartyExploded', count: 1 }]);
    expect(() => fresh.handle({ ...message(history[0]), data: { partyId: 'x' } })).toThrow(PoisonMessageError);
  });

  it.each([
    ['a registration without display name', { ...message(history[0]), data: { ...history[0].data, displayName: undefined } }, /displayName/],
    ['a registration with an unknown kind', { ...message(history[0]), data: { ...history[0].data, kind: 'robot' } }, /kind/],
    ['an enrolment without channel id', { ...message(history[3]), data: { ...history[3].data, channelId: '' } }, /channelId/],
    ['a key of unknown algorithm', { ...message(history[9]), data: { ...history[9].data, algorithm: 'DSA' } }, /algorithm/],
    [
      'a specification with an unknown step',
      { ...message(history[14]), data: { partyId: O, registeredAt: at, specification: { version: 1, steps: [{ step: 'x', maxDurationSeconds: 1 }] } } },
      /step/,
    ],
    ['a body that is not an object', { ...message(history[0]), data: 'hello' }, /object/],
  ])('refuses %s as poison', (_name, poison, reason) => {
    const fresh = new SqliteProjector(new Database(':memory:'), partyDirectoryProjection);
    expect(() => fresh.handle(poison as DeliveredMessage)).toThrow(PoisonMessageError);
    expect(() => fresh.handle(poison as DeliveredMessage)).toThrow(reason);
  });
});
