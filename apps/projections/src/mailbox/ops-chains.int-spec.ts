import Database from 'better-sqlite3';
import { mailboxProjection } from './mailbox.projection';
import { chainListPlan, chainsSummary, listChains, opsTimeline } from './ops-chains.queries';

const ID = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const PARTY = (n: number) => `10000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const OPERATOR = '20000000-0000-4000-8000-000000000001';
const T0 = Date.parse('2026-11-01T00:00:00.000Z');
const at = (n: number) => new Date(T0 + n * 1_000).toISOString();
const COUNT = 100_000;

/**
 * The console's queries over a mailbox read model of 100,000 correspondences (real SQLite, the projection's schema):
 * the answers, keyset paging without overlap, and plans that use the indexes (no page sorts or scans the whole table).
 */
describe('ops chain queries over 100,000 correspondences', () => {
  const db = new Database(':memory:');

  beforeAll(() => {
    db.exec(mailboxProjection.schema);
    const correspondence = db.prepare(
      `INSERT INTO rm_mailbox_correspondences (correspondence_id, sender_id, subject, kind, submitted_at, chain_started_at, chain_completed_at, chain_failed_at)
       VALUES (?, ?, 'secret subject', 'registered', ?, ?, ?, ?)`,
    );
    const recipient = db.prepare('INSERT INTO rm_mailbox_recipients (correspondence_id, recipient_id) VALUES (?, ?)');
    const history = db.prepare('INSERT INTO rm_mailbox_history (correspondence_id, event_id, at, category, type, details) VALUES (?, ?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (let n = 0; n < COUNT; n += 1) {
        // every 10th failed, every 10th (+1) still in flight, the rest completed; every 1000th in flight missed a deadline
        const failed = n % 10 === 0;
        const inFlight = n % 10 === 1;
        correspondence.run(ID(n), PARTY(n % 500), at(n), at(n), !failed && !inFlight ? at(n + 1) : null, failed ? at(n + 2) : null);
        recipient.run(ID(n), PARTY((n + 1) % 500));
        history.run(
          ID(n),
          `e${n}-1`,
          at(n),
          'chain',
          'ChainStarted',
          JSON.stringify({ steps: [{ operatorId: n % 1000 === 1 ? OPERATOR : PARTY(999), step: 'seal' }] }),
        );
        if (inFlight && n % 1000 === 1) history.run(ID(n), `e${n}-2`, at(n + 1), 'chain', 'StepDeadlineMissed', '{}');
        if (failed)
          history.run(
            ID(n),
            `e${n}-3`,
            at(n + 2),
            'chain',
            'ChainFailed',
            JSON.stringify({ step: 'seal', reasons: [{ rule: 'deadline.exceeded', message: 'no answer' }] }),
          );
        if (!failed && !inFlight && n >= COUNT - 120) history.run(ID(n), `e${n}-4`, at(n + 1), 'correspondence', 'DeliveredToRecipient', '{}');
      }
    })();
  }, 120_000);
  afterAll(() => db.close());

  it('counts chains by state from partial indexes, and the deliveries of the last minutes', () => {
    const summary = chainsSummary(db, new Date(T0 + COUNT * 1_000));
    expect(summary).toMatchObject({ inFlight: 10_000, stuck: 100, failed: 10_000, completed: 80_000 });
    expect(summary.recentFailures).toHaveLength(10);
    expect(summary.recentFailures[0]).toMatchObject({
      correspondenceId: ID(99_990),
      step: 'seal',
      reasons: [{ rule: 'deadline.exceeded', message: 'no answer' }],
    });
    expect(summary.deliveriesPerMinute.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(96);
  });

  it('pages newest first with a keyset cursor: no overlap, no gap', () => {
    const seen: string[] = [];
    let after: { time: string; correspondenceId: string } | undefined;
    for (let page = 0; page < 5; page += 1) {
      const { items, next } = listChains(db, { state: 'stuck', limit: 30, after });
      seen.push(...items.map((item) => item.correspondenceId));
      if (!next) break;
      after = next;
    }
    expect(seen).toHaveLength(100);
    expect(new Set(seen).size).toBe(100);
    expect(seen[0]).toBe(ID(99_001));
    const first = listChains(db, { state: 'all', limit: 3 });
    expect(first.items.map((item) => item.correspondenceId)).toEqual([ID(99_999), ID(99_998), ID(99_997)]);
    expect(first.items[0]).toMatchObject({ state: 'completed', stuck: false });
  });

  it('filters by party (sender or recipient), operator and time range', () => {
    const party = listChains(db, { state: 'all', party: PARTY(7), limit: 100 });
    expect(party.items.length).toBe(100);
    expect(party.items.every((item) => item.senderId === PARTY(7) || Number(item.correspondenceId.slice(-12)) % 500 === 6)).toBe(true);
    const operator = listChains(db, { state: 'all', operator: OPERATOR, limit: 100 });
    expect(operator.items).toHaveLength(100);
    const range = listChains(db, { state: 'failed', since: at(50_000), until: at(50_100), limit: 100 });
    expect(range.items.map((item) => item.correspondenceId)).toEqual(Array.from({ length: 10 }, (_, i) => ID(50_090 - i * 10)));
  });

  it('walks an index for every state; no page scans or sorts the whole table', () => {
    for (const state of ['all', 'in-flight', 'failed', 'completed'] as const) {
      const plan = chainListPlan(db, { state, limit: 20 }).join('\n');
      expect(plan).toMatch(/(SCAN|SEARCH) c USING (COVERING )?INDEX rm_ops_/); // in index order: stops after the page
      expect(plan).not.toMatch(/USE TEMP B-TREE FOR ORDER BY/);
      expect(plan).not.toMatch(/SEARCH h USING (COVERING )?INDEX rm_ops_history_type/); // each row's history by its key
    }
    // stuck: driven by the missed deadlines (few), and only those are sorted
    const stuck = chainListPlan(db, { state: 'stuck', limit: 20 }).join('\n');
    expect(stuck).toMatch(/rm_ops_history_type \(type=\?\)/);
    expect(stuck).not.toMatch(/SCAN c(?! USING)/);
  });

  it('gives the timeline without the subject nor a refusal reason', () => {
    db.prepare(`UPDATE rm_mailbox_recipients SET refused_at = ?, refusal_reason = 'my private reason' WHERE correspondence_id = ?`).run(at(43), ID(42));
    db.prepare('INSERT INTO rm_mailbox_history (correspondence_id, event_id, at, category, type, details) VALUES (?, ?, ?, ?, ?, ?)').run(
      ID(42),
      'e42-9',
      at(43),
      'correspondence',
      'RefusedByRecipient',
      JSON.stringify({ recipientId: PARTY(43), reason: 'my private reason' }),
    );
    const timeline = opsTimeline(db, ID(42));
    expect(JSON.stringify(timeline)).not.toContain('my private reason');
    expect(timeline?.history.map((entry) => entry.type)).toContain('RefusedByRecipient');
    expect(timeline?.recipients[0]).toMatchObject({ status: 'refused', refusalReason: null });
    expect(timeline).toMatchObject({ correspondenceId: ID(42) });
    expect(JSON.stringify(timeline)).not.toContain('secret subject');
    expect(opsTimeline(db, ID(COUNT + 1))).toBeNull();
  });
});
