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
    timers.schedule({ timerId: 't1', kind: 'window', dueAt: '2026-01-15T00:00:00Z', payload: { correspondenceId: 'c1' } });

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
    timers.schedule({ timerId: 'same', kind: 'k', dueAt: '2026-01-02T00:00:00Z', payload: {} });
    timers.schedule({ timerId: 'same', kind: 'k', dueAt: '2026-01-01T00:00:00Z', payload: {} });
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
    timers.schedule({ timerId: 't-stop', kind: 'window', dueAt: '2026-01-01T00:00:01Z', payload: {} });
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
    first.timers.schedule({ timerId: 'persisted', kind: 'deadline', dueAt: '2026-01-01T00:01:00Z', payload: { tokenId: 'tk' } });
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
    timers.schedule({ timerId: 'f', kind: 'flaky', dueAt: '2026-01-01T00:00:00Z', payload: {} });
    timers.schedule({ timerId: 'c', kind: 'flaky', dueAt: '2026-01-01T00:00:00Z', payload: {} });
    timers.cancel('c');
    expect(await timers.fireDue()).toBe(0);
    expect(timers.stats()).toMatchObject({ pending: 1, failing: 1 });
    expect(await timers.fireDue()).toBe(0); // backoff not over
    clock.advance(60_000);
    expect(await timers.fireDue()).toBe(1);
    expect(calls).toBe(2);
    expect(timers.stateOf('c')).toBe('cancelled');
    db.close();
  });
});
