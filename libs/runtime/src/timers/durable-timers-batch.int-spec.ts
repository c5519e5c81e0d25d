import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { type DurableTimer, DurableTimers } from './durable-timers';
import { killedAtFirstOutput } from '@sigillum/testing';

/** A clock that stands still (the product's clocks are injected the same way). */
const clock = { now: () => new Date('2026-01-01T00:00:00Z') };
const timer = (timerId: string, dueAt: string): DurableTimer => ({ timerId, kind: 'k', dueAt, payload: { timerId } });

type Op = 'schedule-march' | 'schedule-april' | 'cancel';
const OPS: readonly Op[] = ['schedule-march', 'schedule-april', 'cancel'];
const dueOf = (op: Op) => (op === 'schedule-march' ? '2026-03-01T00:00:00Z' : '2026-04-01T00:00:00Z');

/** Every sequence of 1 to `maxLength` writes. */
function sequences(maxLength: number): Op[][] {
  const all: Op[][] = [];
  let level: Op[][] = [[]];
  for (let length = 1; length <= maxLength; length++) {
    level = level.flatMap((sequence) => OPS.map((op) => [...sequence, op]));
    all.push(...level);
  }
  return all;
}

/** Timers before the writes: absent, pending, cancelled or fired. */
const INITIAL = ['absent', 'pending', 'cancelled', 'fired'] as const;

describe('durable timers: the writes of one turn in phases (the cancels in multi-row statements), with the effect of the writes in order', () => {
  const write = (timers: DurableTimers, timerId: string, op: Op) => (op === 'cancel' ? timers.cancel(timerId) : timers.schedule(timer(timerId, dueOf(op))));

  /** The timers of every (initial state, sequence of writes) pair, set to their initial state. */
  async function prepared(): Promise<{ db: Database.Database; timers: DurableTimers; cases: { timerId: string; ops: Op[] }[] }> {
    const db = new Database(':memory:');
    const timers = new DurableTimers(db, clock, 60_000);
    timers.onDue('k', async () => undefined);
    const cases = INITIAL.flatMap((initial) => sequences(3).map((ops) => ({ timerId: `${initial}:${ops.join(',')}`, initial, ops })));
    await Promise.all(
      cases
        .filter((c) => c.initial !== 'absent')
        .map((c) => timers.schedule(timer(c.timerId, c.initial === 'fired' ? '2026-01-01T00:00:00Z' : '2026-02-01T00:00:00Z'))),
    );
    await Promise.all(cases.filter((c) => c.initial === 'cancelled').map((c) => timers.cancel(c.timerId)));
    await timers.fireDue(100_000);
    return { db, timers, cases };
  }
  const rows = (db: Database.Database) => db.prepare('SELECT timer_id, due_at, state FROM durable_timers ORDER BY timer_id').all();

  it('ends every timer as the writes one at a time would, whatever the initial state and the order of schedules and cancels', async () => {
    // The reference: each write awaited alone (its own transaction, one row at a time).
    const alone = await prepared();
    for (const { timerId, ops } of alone.cases) for (const op of ops) await write(alone.timers, timerId, op);
    // The same writes, all asked in one turn: one batch, written in phases (cancels, schedules, cancels).
    const together = await prepared();
    const before = together.timers.committedWriteBatches;
    await Promise.all(together.cases.flatMap(({ timerId, ops }) => ops.map((op) => write(together.timers, timerId, op))));
    expect(together.timers.committedWriteBatches - before).toBe(1);
    expect(together.cases.length).toBe(4 * 39); // 408 writes: one batch (at most 512)
    expect(rows(together.db)).toEqual(rows(alone.db));
    // A few spelled out: scheduled then cancelled in the turn ends cancelled; cancelled then scheduled ends pending.
    expect(together.timers.stateOf('absent:schedule-march,cancel')).toBe('cancelled');
    expect(together.timers.stateOf('absent:cancel,schedule-march')).toBe('pending');
    expect(together.timers.stateOf('pending:cancel,schedule-march')).toBe('cancelled');
    expect(together.timers.stateOf('fired:schedule-april,cancel')).toBe('fired');
  });

  it('writes many timers in one turn (more than one statement holds) and the first schedule of each stands', async () => {
    const db = new Database(':memory:');
    const timers = new DurableTimers(db, clock, 60_000);
    const ids = Array.from({ length: 300 }, (_, i) => `t${String(i).padStart(3, '0')}`);
    await Promise.all([
      ...ids.map((id) => timers.schedule(timer(id, '2026-03-01T00:00:00Z'))),
      ...ids.map((id) => timers.schedule(timer(id, '2026-04-01T00:00:00Z'))),
      ...ids.filter((_, i) => i % 3 === 0).map((id) => timers.cancel(id)),
    ]);
    const states = db.prepare('SELECT state, due_at, count(*) AS n FROM durable_timers GROUP BY state, due_at ORDER BY state').all();
    expect(states).toEqual([
      { state: 'cancelled', due_at: '2026-03-01T00:00:00.000Z', n: 100 },
      { state: 'pending', due_at: '2026-03-01T00:00:00.000Z', n: 200 },
    ]);
  });

  it('a timer scheduled and cancelled in one turn never fires, even when its schedule is asked again later (a redelivered message)', async () => {
    const db = new Database(':memory:');
    const timers = new DurableTimers(db, clock, 60_000);
    const fired: string[] = [];
    timers.onDue('k', async (due) => void fired.push(due.timerId));
    await Promise.all([
      timers.schedule(timer('settled', '2026-01-01T00:00:00Z')),
      timers.cancel('settled'),
      timers.schedule(timer('due', '2026-01-01T00:00:00Z')),
    ]);
    await timers.schedule(timer('settled', '2026-01-01T00:00:00Z'));
    expect(await timers.fireDue()).toBe(1);
    expect(fired).toEqual(['due']);
    expect(timers.stateOf('settled')).toBe('cancelled');
  });

  it('keeps every timer whose schedule resolved when the process is killed (SIGKILL) right after, and none of a turn it cancelled', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timers-kill-'));
    const file = path.join(dir, 'timers.db');
    try {
      // The child writes one turn (20 schedules, one of them cancelled in the same turn), says so once it resolved,
      // and keeps running until it is killed: nothing closes the file.
      const script = `
        const Database = require('better-sqlite3');
        const { DurableTimers } = require(${JSON.stringify(path.join(__dirname, 'durable-timers.ts'))});
        const timers = new DurableTimers(new Database(${JSON.stringify(file)}), { now: () => new Date('2026-01-01T00:00:00Z') }, 60000);
        const writes = [];
        for (let i = 0; i < 20; i++) writes.push(timers.schedule({ timerId: 'kept-' + i, kind: 'k', dueAt: '2026-01-01T00:00:00Z', payload: { i } }));
        writes.push(timers.cancel('kept-7'));
        Promise.all(writes).then(() => process.stdout.write('committed\\n'));
        setInterval(() => undefined, 1000);`;
      const signal = await killedAtFirstOutput(script);
      expect(signal).toBe('SIGKILL');

      const db = new Database(file);
      const timers = new DurableTimers(db, clock, 60_000);
      const fired: string[] = [];
      timers.onDue('k', async (due) => void fired.push(due.timerId));
      expect(await timers.fireDue()).toBe(19);
      expect(fired.sort()).toEqual(
        Array.from({ length: 20 }, (_, i) => `kept-${i}`)
          .filter((id) => id !== 'kept-7')
          .sort(),
      );
      expect(timers.stateOf('kept-7')).toBe('cancelled');
      db.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
