import { PoisonMessageError, resetUnknownEventTypeCounts, unknownEventTypeCounts } from '@sigillum/bus';
import type { DeliveredMessage } from '@sigillum/contracts';
import Database from 'better-sqlite3';
import { auditProjection } from './audit/audit.projection';
import { mailboxProjection } from './mailbox/mailbox.projection';
import { partyDirectoryProjection } from './party-directory/party-directory.projection';
import { type SqliteProjection, SqliteProjector } from './sqlite-projector';

let n = 0;
function record(topic: string, key: string, type: string, data: unknown): DeliveredMessage {
  n += 1;
  return {
    topic,
    key,
    id: `e${n}`,
    type,
    source: '/tests',
    time: '2026-01-01T00:00:00.000Z',
    correlationId: `c${n}`,
    causationId: `c${n}`,
    dataVersion: 1,
    data,
    partition: 0,
    offset: String(n),
  };
}

const C = '44444444-4444-4444-8444-444444444444';

/**
 * docs/asyncapi.yaml: "ignore ce_type values you do not know". Each projection reading a known topic skips a type it
 * does not know (counted, not dead-lettered), and still refuses as poison a record of a type it knows whose body
 * is malformed, or a record keyed to a stream it does not read.
 */
describe.each<[string, SqliteProjection, string, string, string]>([
  ['party-directory', partyDirectoryProjection, 'sigillum.party.events', `party-${C}`, 'sigillum.party.PartyRegistered'],
  ['audit', auditProjection, 'sigillum.evidence.events', `evidence-${C}`, 'sigillum.evidence.EvidenceRecorded'],
  ['mailbox', mailboxProjection, 'sigillum.correspondence.events', `correspondence-${C}`, 'sigillum.correspondence.SubmissionRequested'],
])('%s projection', (consumer, projection, topic, key, knownType) => {
  let projector: SqliteProjector;

  beforeEach(() => {
    resetUnknownEventTypeCounts();
    projector = new SqliteProjector(new Database(':memory:'), projection);
  });

  it('skips an unknown ce_type on its topic, counted, not poison', () => {
    expect(projector.handle(record(topic, key, 'sigillum.future.SomethingNew', { whatever: [1, 2, 3] }))).toBe(true);
    expect(projector.handle(record(topic, key, 'NotEvenDotted', null))).toBe(true);
    expect(unknownEventTypeCounts()).toEqual([
      { consumer, topic, type: 'sigillum.future.SomethingNew', count: 1 },
      { consumer, topic, type: 'NotEvenDotted', count: 1 },
    ]);
  });

  it('still dead-letters a malformed record of a type it knows, with its reason', () => {
    expect(() => projector.handle(record(topic, key, knownType, 'not an object'))).toThrow(PoisonMessageError);
    expect(() => projector.handle(record(topic, key, knownType, { nothing: 'expected' }))).toThrow(PoisonMessageError);
    expect(unknownEventTypeCounts()).toEqual([]);
  });
});

it('a record keyed to a stream the projection does not read stays poison', () => {
  const projector = new SqliteProjector(new Database(':memory:'), mailboxProjection);
  expect(() => projector.handle(record('sigillum.correspondence.events', 'party-x', 'sigillum.party.Future', {}))).toThrow(
    /is not a correspondence, chain or evidence stream/,
  );
});
