import Database from 'better-sqlite3';
import { HOUR_MS, type RateLimit } from './rate-limits';
import { type RateTake, SessionRateStore } from './session-rate.store';

// The store counts in the turn's transaction: what it takes is counted at once (from memory until written).
describe('SessionRateStore (SQLite, counts written with the turn)', () => {
  let db: Database.Database;
  let store: SessionRateStore;
  const user: RateLimit = { rule: 'session.rate-limited.user', limit: 2, windowMs: HOUR_MS };
  const take = (subject: string, now: number, count = true): RateTake[] => [{ limit: user, subject, count }];
  const rows = () => (db.prepare('SELECT COUNT(*) FROM session_rate_events').pluck().get() as number) ?? 0;
  const turnEnds = () => new Promise((resolve) => setImmediate(resolve));
  const t0 = Date.UTC(2026, 11, 3, 12);

  beforeEach(() => {
    db = new Database(':memory:');
    store = new SessionRateStore(db);
  });

  afterEach(async () => {
    await turnEnds();
    db.close();
  });

  it('lets no two takes of one turn have the last slot, then writes what they counted when the turn ends', async () => {
    expect(store.take(take('ada', t0), t0).decision.allowed).toBe(true);
    expect(store.take(take('ada', t0), t0 + 1).decision.allowed).toBe(true);
    expect(rows()).toBe(0); // not written yet, counted all the same:
    expect(store.take(take('ada', t0), t0 + 2).decision).toMatchObject({ allowed: false, refused: [{ rule: user.rule }] });
    expect(store.take(take('bob', t0), t0 + 2).decision.allowed).toBe(true);
    await turnEnds();
    expect(rows()).toBe(3);
    expect(store.take(take('ada', t0), t0 + 3).decision.allowed).toBe(false); // from the rows now
    expect(store.counted(user, 'ada', t0 + 3)).toEqual({ counted: [t0 + 1, t0], older: 0 }); // full: the newest listed
    expect(store.counted(user, 'bob', t0 + 3)).toEqual({ counted: [], older: 1 }); // room left: only how many
  });

  it('gives back a count before and after it is written; twice changes nothing', async () => {
    const first = store.take(take('ada', t0), t0);
    store.release(first.taken); // still queued: never written
    store.release(first.taken);
    await turnEnds();
    expect(rows()).toBe(0);

    const second = store.take(take('ada', t0), t0 + 1);
    store.take(take('ada', t0), t0 + 2);
    await turnEnds();
    expect(rows()).toBe(2);
    expect(store.take(take('ada', t0), t0 + 3).decision.allowed).toBe(false);
    store.release(second.taken); // written: deleted with the next turn
    store.release(second.taken);
    await turnEnds();
    expect(rows()).toBe(1);
    expect(store.take(take('ada', t0), t0 + 4).decision.allowed).toBe(true);
  });

  it('counts only what its window holds, counts nothing for a check-only take, and the sweep drops what the window left', async () => {
    store.take(take('ada', t0), t0);
    store.take(take('ada', t0), t0 + 1);
    await turnEnds();
    const later = t0 + HOUR_MS + 1;
    expect(store.counted(user, 'ada', later)).toEqual({ counted: [], older: 0 });
    expect(store.take(take('ada', later, false), later).taken.rows).toEqual([]);
    await turnEnds();
    expect(rows()).toBe(2); // out of the window: no longer counted, still there
    store.sweep([user], t0 + HOUR_MS);
    expect(rows()).toBe(1); // t0 + 1 is still inside the hour ending at t0 + HOUR_MS
    store.sweep([user], later);
    expect(rows()).toBe(0);
  });

  it('keeps a count it could not write in memory, and writes it with the next turn', async () => {
    db.exec("CREATE TRIGGER refuse BEFORE INSERT ON session_rate_events BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    store.take(take('ada', t0), t0);
    store.take(take('ada', t0), t0 + 1);
    await turnEnds();
    expect(rows()).toBe(0);
    expect(store.take(take('ada', t0), t0 + 2).decision.allowed).toBe(false);
    db.exec('DROP TRIGGER refuse');
    store.take(take('bob', t0), t0 + 3);
    await turnEnds();
    expect(rows()).toBe(3);
  });
});
