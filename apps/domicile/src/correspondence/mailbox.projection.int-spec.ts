import { randomUUID } from 'node:crypto';
import type { CorrespondenceEvent, DeliveredMessage } from '@sigillum/contracts';
import { SqliteProjector } from '@sigillum/eventstore';
import Database from 'better-sqlite3';
import { mailboxProjection, MailboxQueries } from './mailbox.projection';

const correspondenceId = randomUUID();
const at = (minute: number) => new Date(Date.UTC(2025, 0, 1, 9, minute)).toISOString();

const events: CorrespondenceEvent[] = [
  {
    type: 'SubmissionRequested',
    version: 1,
    data: {
      correspondenceId,
      draftId: 'draft-1',
      submissionKey: 'key-00000001',
      senderId: 'alice',
      sessionId: 's-a',
      recipientIds: ['bob', 'carol'],
      subject: 'Notice',
      kind: 'registered-ack',
      requiredLevel: 'high',
      consignment: 'consent',
      parts: [{ digest: 'a'.repeat(64), size: 3, contentType: 'text/plain', name: 'n.txt' }],
      specimenDigest: 'b'.repeat(64),
      validationProof: 'proof',
      requestedAt: at(0),
    },
  },
  { type: 'SubmissionAccepted', version: 1, data: { correspondenceId, checkId: 'check-1', acceptedAt: at(1) } },
  { type: 'DeliveredToRecipient', version: 1, data: { correspondenceId, recipientId: 'bob', tokenId: 't', acceptBy: at(100), deliveredAt: at(2) } },
  { type: 'DeliveredToRecipient', version: 1, data: { correspondenceId, recipientId: 'carol', tokenId: 't', acceptBy: at(100), deliveredAt: at(2) } },
  { type: 'AcceptedByRecipient', version: 1, data: { correspondenceId, recipientId: 'bob', sessionId: 's-b', acceptedAt: at(3) } },
  { type: 'ContentHandedOver', version: 1, data: { correspondenceId, recipientId: 'bob', sessionId: 's-b', handedOverAt: at(4) } },
  { type: 'AcceptanceWindowExpired', version: 1, data: { correspondenceId, recipientId: 'carol', acceptBy: at(100), expiredAt: at(100) } },
  {
    type: 'ArchivedInSafes',
    version: 1,
    data: { correspondenceId, tokenId: 't2', safes: [{ ownerId: 'alice', retainUntil: at(1000) }], packageDigest: 'c'.repeat(64), archivedAt: at(5) },
  },
];

const messages: DeliveredMessage[] = events.map((event, offset) => ({
  topic: 'sigillum.correspondence.events',
  key: `correspondence-${correspondenceId}`,
  id: randomUUID(),
  type: `sigillum.correspondence.${event.type}`,
  source: '/sigillum/domicile',
  time: at(offset),
  correlationId: 'c',
  causationId: 'c',
  dataVersion: 1,
  data: event.data,
  partition: 0,
  offset: String(offset),
}));

function project(db: Database.Database, delivered: readonly DeliveredMessage[]) {
  const projector = new SqliteProjector(db, mailboxProjection);
  for (const message of delivered) projector.handle(message);
  const queries = new MailboxQueries(db);
  return { outbox: queries.outboxOf('alice', 50), bob: queries.inboxOf('bob', 50), carol: queries.inboxOf('carol', 50) };
}

describe('mailbox read model (real SQLite)', () => {
  it("keeps the sender's outbox with each recipient's state and each recipient's inbox", () => {
    const db = new Database(':memory:');
    const { outbox, bob, carol } = project(db, messages);
    expect(outbox).toEqual([
      expect.objectContaining({
        correspondenceId,
        status: 'accepted',
        archivedAt: at(5),
        recipients: {
          bob: { status: 'accepted', deliveredAt: at(2), acceptBy: at(100), answeredAt: at(3), handedOverAt: at(4) },
          carol: { status: 'expired', deliveredAt: at(2), acceptBy: at(100), answeredAt: at(100) },
        },
      }),
    ]);
    expect(bob).toEqual([expect.objectContaining({ correspondenceId, senderId: 'alice', status: 'accepted', consignment: 'consent', handedOverAt: at(4) })]);
    expect(carol).toEqual([expect.objectContaining({ status: 'expired', answeredAt: at(100), handedOverAt: null })]);
    db.close();
  });

  it('ignores redeliveries and rebuilds identically from the log', () => {
    const first = new Database(':memory:');
    const once = project(first, messages);
    const twice = project(first, [...messages, ...messages.slice(2)]);
    expect(twice).toEqual(once);
    const rebuilt = new Database(':memory:');
    expect(project(rebuilt, messages)).toEqual(once);
    first.close();
    rebuilt.close();
  });

  it('refuses a malformed event as poison, applying nothing of it', () => {
    const db = new Database(':memory:');
    project(db, messages.slice(0, 1));
    const projector = new SqliteProjector(db, mailboxProjection);
    expect(() => projector.handle({ ...messages[2], id: randomUUID(), data: { correspondenceId } })).toThrow(/unexpected shape/);
    expect(new MailboxQueries(db).inboxOf('bob', 50)).toEqual([]);
    db.close();
  });
});
