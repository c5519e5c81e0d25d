import { Logger } from '@nestjs/common';
import { CA_CATEGORY, type DeliveredMessage, EVIDENCE_CATEGORY, PARTY_CATEGORY, streamIdOf } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { pendingEvent } from '@sigillum/testing';
import Database from 'better-sqlite3';
import { temporarySigner } from '../../../certifier/src/evidence/testing-fixtures';
import { findCorrespondence, inbox, MAILBOX_CATEGORIES, mailboxProjection, outbox } from '../mailbox/mailbox.projection';
import { AUDIT_CATEGORIES, auditCorrespondence, auditParty, auditProjection } from '../audit/audit.projection';
import { ProjectionRunner } from './projection-runner';
import { messagesOf, type RealisticLog, realisticStories, writeRealisticLog } from './testing-fixtures';

/**
 * The mailbox and audit read models on real SQLite: fed live in an order unlike the log's (topics apart, newest
 * first, with redeliveries), then rebuilt from position 0 of the log: the digests must match.
 */
describe('mailbox and audit projections: live feeding, then rebuild from position 0 gives identical read models', () => {
  const { signer, cleanup } = temporarySigner();
  let db: Database.Database;
  let store: SqliteEventStore;
  let log: RealisticLog;
  const now = () => new Date();
  const quiet = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);

  beforeAll(async () => {
    db = new Database(':memory:');
    store = new SqliteEventStore({ db });
    log = realisticStories();
    await writeRealisticLog(store, log, signer);
    // Some noise the projections must not read.
    await store.append(
      streamIdOf(PARTY_CATEGORY, 'p1'),
      [pendingEvent('PartyRegistered', { partyId: 'p1', kind: 'person', displayName: 'X', registeredAt: new Date().toISOString() })],
      'any',
    );
  });
  afterAll(async () => {
    await store.close();
    db.close();
    cleanup();
    quiet.mockRestore();
  });

  /** Live order: each topic apart, correspondence facts newest first, evidence last, some messages twice. */
  async function feedLive(runner: ProjectionRunner, categories: readonly string[]): Promise<void> {
    const messages = await messagesOf(store, categories);
    const byTopic = new Map<string, DeliveredMessage[]>();
    for (const message of messages) byTopic.set(message.topic, [...(byTopic.get(message.topic) ?? []), message]);
    const topics = [...byTopic.keys()].sort().reverse();
    for (const topic of topics) {
      const list = byTopic.get(topic) as DeliveredMessage[];
      for (const message of topic.includes('correspondence') ? [...list].reverse() : list) await runner.handle(message);
    }
    for (const message of messages.filter((_, i) => i % 5 === 0)) expect(await runner.handle(message)).toBe(false); // redelivered
  }

  it('mailbox: inbox, outbox, statuses, history and evidence; the same digest after a rebuild from position 0', async () => {
    const runner = new ProjectionRunner(db, store, mailboxProjection, now);
    await feedLive(runner, MAILBOX_CATEGORIES);
    const live = runner.digest();

    const { delivered, refusedAndExpired, gateRefused, chainFailed } = log;
    const [refuser, silent] = refusedAndExpired.recipientIds;
    expect(outbox(db, delivered.senderId, 20, 0)).toMatchObject({
      total: 1,
      items: [{ correspondenceId: delivered.correspondenceId, status: 'closed', subject: 'Mise en demeure' }],
    });
    expect(inbox(db, delivered.recipientIds[0], 20, 0).items).toEqual([
      expect.objectContaining({ correspondenceId: delivered.correspondenceId, myStatus: 'handed-over', senderId: delivered.senderId }),
    ]);
    expect(inbox(db, refuser, 20, 0).items[0]).toMatchObject({ myStatus: 'refused', consignment: 'consent' });
    expect(inbox(db, silent, 20, 0).items[0]).toMatchObject({ myStatus: 'expired', status: 'closed' });
    expect(inbox(db, gateRefused.recipientIds[0], 20, 0)).toMatchObject({ total: 0, items: [] }); // never reached the recipient
    expect(outbox(db, gateRefused.senderId, 20, 0).items[0]).toMatchObject({ status: 'rejected', lastEvidence: 'SubmissionRejection' });
    expect(outbox(db, chainFailed.senderId, 20, 0).items[0]).toMatchObject({ status: 'failed', lastEvidence: 'ContentConsignmentFailure' });

    const view = findCorrespondence(db, refusedAndExpired.correspondenceId);
    expect(view?.recipients).toHaveLength(2);
    expect(view?.recipients).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ recipientId: refuser, status: 'refused', refusalReason: 'Wrong addressee' }),
        expect.objectContaining({ recipientId: silent, status: 'expired' }),
      ]),
    );
    // Full history, in the facts' own time order (facts of the same millisecond in a fixed, event-id order).
    expect(view?.history.map((h) => h.eventId).sort()).toEqual(refusedAndExpired.sources.map((s) => s.eventId).sort());
    const times = view?.history.map((h) => h.at) ?? [];
    expect(times).toEqual([...times].sort());
    const distinctTimes = view?.history.filter((h, i, all) => all.filter((other) => other.at === h.at).length === 1).map((h) => h.eventId) ?? [];
    expect(distinctTimes).toEqual(refusedAndExpired.sources.map((s) => s.eventId).filter((id) => distinctTimes.includes(id)));
    expect(view?.evidence.map((e) => e.chainIndex)).toEqual(view?.evidence.map((_, i) => i));
    expect(view?.evidence.map((e) => e.eventName).slice(-2)).toEqual(['ConsignmentRejection', 'AcceptanceRejectionExpiry']);
    expect(findCorrespondence(db, '00000000-0000-4000-8000-000000000000')).toBeUndefined();

    const report = await runner.rebuild();
    expect(report).toMatchObject({ projection: 'mailbox', digest: live.digest, rows: live.rows, poison: 0 });
    expect(report.applied).toBe(report.eventsRead);
    expect(runner.digest()).toEqual(live);
    expect(findCorrespondence(db, refusedAndExpired.correspondenceId)).toEqual(view);
  });

  it('audit: every chain verified against the recorded CA, every party finds the evidence naming it; the same digest after a rebuild', async () => {
    const runner = new ProjectionRunner(db, store, auditProjection, now);
    await feedLive(runner, AUDIT_CATEGORIES);
    const live = runner.digest();

    for (const story of log.all) {
      const view = auditCorrespondence(db, story.correspondenceId);
      expect(view).toMatchObject({ status: 'verified', problems: [] });
      expect(view?.records.every((record) => record.valid)).toBe(true);
    }
    const operator = log.delivered.operatorOf(1);
    const { items, total } = auditParty(db, log.delivered.recipientIds[0], 100, 0);
    expect(items.map((item) => item.eventName)).toEqual(
      expect.arrayContaining(['ContentConsignment', 'ConsignmentAcceptance', 'ContentHandover', 'SubmissionAcceptance']),
    );
    expect(items.every((item) => item.correspondenceId === log.delivered.correspondenceId)).toBe(true);
    expect(total).toBe(items.length);
    expect(auditParty(db, log.delivered.recipientIds[0], 2, 1).items).toEqual(items.slice(1, 3));
    expect(auditParty(db, operator, 100, 0).items.some((item) => item.roles.includes('operator'))).toBe(true);

    const report = await runner.rebuild();
    expect(report).toMatchObject({ projection: 'audit', digest: live.digest, rows: live.rows });
    expect(runner.digest()).toEqual(live);
  });

  it('audit: a record changed in the read model is reported invalid, with the rule', () => {
    const target = log.delivered.correspondenceId;
    const row = db.prepare('SELECT record FROM rm_audit_evidence WHERE correspondence_id = ? AND chain_index = 2').get(target) as { record: string };
    const original = row.record;
    db.prepare('UPDATE rm_audit_evidence SET record = ? WHERE correspondence_id = ? AND chain_index = 2').run(
      original.replace('"EventTime":"', '"EventTime":"1'),
      target,
    );
    const view = auditCorrespondence(db, target);
    expect(view?.status).toBe('invalid');
    // Records carry no JWS of their own by default (the evidence log proves them): the digest and the next link show the change.
    expect(view?.problems.map((p) => `${p.chainIndex}:${p.rule}`)).toEqual(expect.arrayContaining(['2:digest.mismatch', '3:chain.link']));
    db.prepare('UPDATE rm_audit_evidence SET record = ? WHERE correspondence_id = ? AND chain_index = 2').run(original, target);
    expect(auditCorrespondence(db, target)?.status).toBe('verified');
  });

  it('live messages that arrive during a rebuild wait for it, then change nothing already replayed', async () => {
    const runner = new ProjectionRunner(db, store, mailboxProjection, now);
    const before = runner.digest();
    const messages = await messagesOf(store, MAILBOX_CATEGORIES);
    const rebuilding = runner.rebuild();
    expect(() => runner.rebuild()).toThrow(/being rebuilt already/);
    const live = Promise.all(messages.slice(0, 10).map((message) => runner.handle(message)));
    const [report, applied] = await Promise.all([rebuilding, live]);
    expect(applied.every((wasNew) => wasNew === false)).toBe(true);
    expect(report.digest).toBe(before.digest);
  });

  it('rebuilds a projection whose version changed; refuses to empty one when this process cannot read its log', async () => {
    const other = new Database(':memory:');
    const otherStore = new SqliteEventStore({ db: other });
    try {
      const first = new ProjectionRunner(other, otherStore, auditProjection, now);
      expect(first.versionChanged).toBe(false);
      for (const message of await messagesOf(store, [EVIDENCE_CATEGORY, CA_CATEGORY])) await first.handle(message);
      // Applied from a bus, but this process's own store is empty: a rebuild here would wipe the read model.
      await expect(first.rebuild()).rejects.toThrow(/holds none of the events of projection audit/);
      expect(first.digest().rows.rm_audit_evidence).toBeGreaterThan(0);
      const next = new ProjectionRunner(other, otherStore, { ...auditProjection, version: auditProjection.version + 1 }, now);
      expect(next.versionChanged).toBe(true);
    } finally {
      await otherStore.close();
      other.close();
    }
  });
});
