import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { type DurableTimer, DurableTimers } from './durable-timers';

/** A clock that stands still until the test moves it (the product's clocks are injected the same way). */
class ManualClock {
  constructor(private at: Date) {}
  now(): Date {
    return new Date(this.at);
  }
  advance(ms: number): void {
    this.at = new Date(this.at.getTime() + ms);
  }
}

describe('durable timers (SQLite, driven by the injected clock)', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timers-'));
    file = path.join(dir, 'timers.db');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const open = (clock: ManualClock) => {
    const db = new Database(file);
    return { db, timers: new DurableTimers(db, clock, 60_000) };
  };

  it('never fires before the due time, fires once at or after it', async () => {
    const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
    const { db, timers } = open(clock);
    const fired: DurableTimer[] = [];
    timers.onDue('window', async (timer) => void fired.push(timer));
    await timers.schedule({ timerId: 't1', kind: 'window', dueAt: '2026-01-15T00:00:00Z', payload: { correspondenceId: 'c1' } });

    clock.advance(14 * 24 * 3600 * 1000 - 1);
    expect(await timers.fireDue()).toBe(0);
    clock.advance(1);
    expect(await timers.fireDue()).toBe(1);
    expect(fired).toEqual([{ timerId: 't1', kind: 'window', dueAt: '2026-01-15T00:00:00.000Z', payload: { correspondenceId: 'c1' } }]);
    expect(await timers.fireDue()).toBe(0);
    expect(timers.stateOf('t1')).toBe('fired');
    db.close();
  });

  it('schedules idempotently by id: the first schedule stands', async () => {
    const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
    const { db, timers } = open(clock);
    const fired: string[] = [];
    timers.onDue('k', async (timer) => void fired.push(timer.dueAt));
    await timers.schedule({ timerId: 'same', kind: 'k', dueAt: '2026-01-02T00:00:00Z', payload: {} });
    await timers.schedule({ timerId: 'same', kind: 'k', dueAt: '2026-01-01T00:00:00Z', payload: {} });
    expect(await timers.fireDue()).toBe(0);
    clock.advance(24 * 3600 * 1000);
    expect(await timers.fireDue()).toBe(1);
    expect(fired).toEqual(['2026-01-02T00:00:00.000Z']);
    db.close();
  });

  it('fires nothing once stopped (the app closing), whoever asks; the timer stays due for the next start', async () => {
    const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
    const { db, timers } = open(clock);
    const fired: string[] = [];
    timers.onDue('window', async (timer) => void fired.push(timer.timerId));
    await timers.schedule({ timerId: 't-stop', kind: 'window', dueAt: '2026-01-01T00:00:01Z', payload: {} });
    clock.advance(2_000);
    await timers.stop();
    expect(await timers.fireDue()).toBe(0);
    expect(fired).toEqual([]);
    db.close();
    const next = open(clock);
    next.timers.onDue('window', async (timer) => void fired.push(timer.timerId));
    expect(await next.timers.fireDue()).toBe(1);
    expect(fired).toEqual(['t-stop']);
    next.db.close();
  });

  it('survives a restart: a timer scheduled before is fired by the next process', async () => {
    const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
    const first = open(clock);
    await first.timers.schedule({ timerId: 'persisted', kind: 'deadline', dueAt: '2026-01-01T00:01:00Z', payload: { tokenId: 'tk' } });
    first.db.close();

    const second = open(clock);
    const fired: unknown[] = [];
    second.timers.onDue('deadline', async (timer) => void fired.push(timer.payload));
    clock.advance(60_000);
    expect(await second.timers.fireDue()).toBe(1);
    expect(fired).toEqual([{ tokenId: 'tk' }]);
    second.db.close();
  });

  it('retries a failing handler later, with backoff, and does not lose the timer; a cancelled one never fires', async () => {
    const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
    const { db, timers } = open(clock);
    let calls = 0;
    timers.onDue('flaky', async () => {
      calls += 1;
      if (calls === 1) throw new Error('store unavailable');
    });
    await timers.schedule({ timerId: 'f', kind: 'flaky', dueAt: '2026-01-01T00:00:00Z', payload: {} });
    await timers.schedule({ timerId: 'c', kind: 'flaky', dueAt: '2026-01-01T00:00:00Z', payload: {} });
    await timers.cancel('c');
    expect(await timers.fireDue()).toBe(0);
    expect(timers.stats()).toMatchObject({ pending: 1, failing: 1 });
    expect(await timers.fireDue()).toBe(0); // backoff not over
    clock.advance(60_000);
    expect(await timers.fireDue()).toBe(1);
    expect(calls).toBe(2);
    expect(timers.stateOf('c')).toBe('cancelled');
    db.close();
  });

  describe('group commit: writes of one turn share one transaction, and resolve once it is committed', () => {
    const at = (timerId: string, dueAt = '2026-01-02T00:00:00Z'): DurableTimer => ({ timerId, kind: 'k', dueAt, payload: { timerId } });
    /** Timers as another connection to the file sees them: only what is committed. */
    const committed = (): Record<string, string> => {
      const other = new Database(file, { readonly: true });
      try {
        const rows = other.prepare('SELECT timer_id, state FROM durable_timers ORDER BY timer_id').all() as { timer_id: string; state: string }[];
        return Object.fromEntries(rows.map((row) => [row.timer_id, row.state]));
      } finally {
        other.close();
      }
    };

    it('commits many schedules and cancels asked in one turn in one transaction, seen committed by another connection when they resolve', async () => {
      const { db, timers } = open(new ManualClock(new Date('2026-01-01T00:00:00Z')));
      const before = timers.committedWriteBatches;
      const ids = Array.from({ length: 100 }, (_, i) => `t${String(i).padStart(3, '0')}`);
      await Promise.all([...ids.map((id) => timers.schedule(at(id))), timers.cancel('t000'), timers.cancel('never-scheduled')]);
      expect(timers.committedWriteBatches - before).toBe(1);
      const seen = committed();
      expect(Object.keys(seen)).toEqual(ids);
      expect(seen.t000).toBe('cancelled');
      expect(seen.t099).toBe('pending');
      // The next turn is the next transaction.
      await timers.schedule(at('later'));
      expect(timers.committedWriteBatches - before).toBe(2);
      db.close();
    });

    it('keeps the order asked within a batch: schedule then cancel ends cancelled, cancel then schedule ends pending', async () => {
      const { db, timers } = open(new ManualClock(new Date('2026-01-01T00:00:00Z')));
      const before = timers.committedWriteBatches;
      await Promise.all([
        timers.schedule(at('then-cancelled')),
        timers.cancel('then-cancelled'),
        timers.cancel('then-scheduled'),
        timers.schedule(at('then-scheduled')),
      ]);
      expect(timers.committedWriteBatches - before).toBe(1);
      expect(committed()).toEqual({ 'then-cancelled': 'cancelled', 'then-scheduled': 'pending' });
      db.close();
    });

    it('is idempotent: a second schedule of an id changes nothing, a cancel of a fired or absent timer neither', async () => {
      const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
      const { db, timers } = open(clock);
      timers.onDue('k', async () => undefined);
      await Promise.all([timers.schedule(at('once', '2026-01-01T00:00:00Z')), timers.schedule(at('once', '2026-03-01T00:00:00Z'))]);
      expect(await timers.fireDue()).toBe(1);
      await Promise.all([timers.cancel('once'), timers.cancel('absent'), timers.schedule(at('once', '2026-04-01T00:00:00Z'))]);
      expect(committed()).toEqual({ once: 'fired' });
      const row = db.prepare("SELECT due_at FROM durable_timers WHERE timer_id = 'once'").get() as { due_at: string };
      expect(row.due_at).toBe('2026-01-01T00:00:00.000Z');
      db.close();
    });

    it('rejects a bad dueAt or payload for that caller only; the rest of the turn is committed', async () => {
      const { db, timers } = open(new ManualClock(new Date('2026-01-01T00:00:00Z')));
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const outcomes = await Promise.allSettled([
        timers.schedule(at('good-1')),
        timers.schedule(at('bad-due', 'next tuesday')),
        timers.schedule({ timerId: 'bad-payload', kind: 'k', dueAt: '2026-01-02T00:00:00Z', payload: circular }),
        timers.schedule(at('good-2')),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
      expect(String((outcomes[1] as PromiseRejectedResult).reason)).toContain('dueAt "next tuesday" is not an ISO-8601 time');
      expect(String((outcomes[2] as PromiseRejectedResult).reason)).toContain('Timer bad-payload: its payload cannot be written as JSON');
      expect(committed()).toEqual({ 'good-1': 'pending', 'good-2': 'pending' });
      db.close();
    });

    it('rejects every caller of a batch whose transaction fails midway, and writes nothing of it', async () => {
      const { db, timers } = open(new ManualClock(new Date('2026-01-01T00:00:00Z')));
      await timers.schedule(at('existing'));
      // A real SQLite failure in the middle of the batch: the rows written before it must be rolled back too.
      db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON durable_timers WHEN NEW.timer_id = 'refused'
               BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
      const before = timers.committedWriteBatches;
      const outcomes = await Promise.allSettled([
        timers.schedule(at('first')),
        timers.cancel('existing'),
        timers.schedule(at('refused')),
        timers.schedule(at('last')),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
      for (const outcome of outcomes) expect(String((outcome as PromiseRejectedResult).reason)).toContain('refused by the test');
      expect(timers.committedWriteBatches).toBe(before);
      expect(committed()).toEqual({ existing: 'pending' });
      // Asked again (the bus redelivering the message), the writes go through.
      db.exec('DROP TRIGGER refuse');
      await Promise.all([timers.schedule(at('first')), timers.cancel('existing'), timers.schedule(at('refused')), timers.schedule(at('last'))]);
      expect(committed()).toEqual({ existing: 'cancelled', first: 'pending', last: 'pending', refused: 'pending' });
      db.close();
    });

    it('rejects every caller when another connection holds the write lock, then writes once it is released', async () => {
      const { db, timers } = open(new ManualClock(new Date('2026-01-01T00:00:00Z')));
      db.pragma('busy_timeout = 0');
      const holder = new Database(file);
      holder.exec('BEGIN IMMEDIATE');
      const outcomes = await Promise.allSettled([timers.schedule(at('a')), timers.schedule(at('b'))]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
      expect(String((outcomes[0] as PromiseRejectedResult).reason)).toMatch(/locked|busy/i);
      holder.exec('ROLLBACK');
      holder.close();
      await Promise.all([timers.schedule(at('a')), timers.schedule(at('b'))]);
      expect(committed()).toEqual({ a: 'pending', b: 'pending' });
      db.close();
    });

    it('commits the writes still queued when stopped, and refuses later ones saying what to do', async () => {
      const { db, timers } = open(new ManualClock(new Date('2026-01-01T00:00:00Z')));
      const queued = timers.schedule(at('queued'));
      await timers.stop();
      expect(committed()).toEqual({ queued: 'pending' });
      await expect(queued).resolves.toBeUndefined();
      await expect(timers.schedule(at('too-late'))).rejects.toThrow(/DurableTimers are stopped.*Fail the work that asked for it/);
      await expect(timers.cancel('queued')).rejects.toThrow(/DurableTimers are stopped/);
      expect(committed()).toEqual({ queued: 'pending' });
      db.close();
    });

    it("schedules within the caller's transaction with scheduleWithin (committed or rolled back with it), never schedule", async () => {
      const { db, timers } = open(new ManualClock(new Date('2026-01-01T00:00:00Z')));
      expect(() => timers.scheduleWithin(at('outside'))).toThrow(/none is open; use schedule/);
      db.transaction(() => timers.scheduleWithin(at('kept')))();
      expect(() =>
        db.transaction(() => {
          timers.scheduleWithin(at('rolled-back'));
          throw new Error('the caller fails after scheduling');
        })(),
      ).toThrow('the caller fails after scheduling');
      // A queued write would commit apart from the transaction: refused.
      let inside: Promise<void> | undefined;
      db.transaction(() => {
        inside = timers.schedule(at('queued-inside'));
      })();
      await expect(inside).rejects.toThrow(/inside an open SQLite transaction.*use scheduleWithin/);
      expect(committed()).toEqual({ kept: 'pending' });
      db.close();
    });
  });
});
