import { Logger } from '@nestjs/common';
import { PARTY_CATEGORY, streamIdOf } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { pendingEvent } from '@sigillum/testing';
import Database from 'better-sqlite3';
import { temporarySigner } from '../../../certifier/src/evidence/testing-fixtures';
import { MAILBOX_CATEGORIES, mailboxProjection } from '../mailbox/mailbox.projection';
import { ProjectionRunner, type RebuildProgress } from './projection-runner';
import { messagesOf, realisticStories, writeRealisticLog } from './testing-fixtures';

/**
 * The progress record of a rebuild on real SQLite, over a log of 1,200 events the mailbox does not read, then eight
 * times four realistic correspondences (two pages of the mailbox's events: the rebuild reads only its categories, the
 * store skipping the 1,200): from 0 to the head the log had at the start, its pace by the runner's own clock (moved
 * one second per page read here), a time left never negative; the last report kept, a failure reported without
 * losing it.
 */
describe('ProjectionRunner: the progress of a rebuild, and its last report', () => {
  const { signer, cleanup } = temporarySigner();
  let db: Database.Database;
  let store: SqliteEventStore;
  let head: bigint;
  let ms = 0;
  const now = () => new Date();
  const captured: { at: string; progress: RebuildProgress | null }[] = [];
  let runner: ProjectionRunner;
  /** Fails the rebuild's page reads when set (after the first page). */
  let failPages = false;

  beforeAll(async () => {
    db = new Database(':memory:');
    store = new SqliteEventStore({ db });
    for (let batch = 0; batch < 12; batch++) {
      await store.append(
        streamIdOf(PARTY_CATEGORY, `filler-${batch}`),
        Array.from({ length: 100 }, (_, i) =>
          pendingEvent('PartyRegistered', { partyId: `filler-${batch}-${i}`, kind: 'person', displayName: 'X', registeredAt: new Date().toISOString() }),
        ),
        'any',
      );
    }
    for (let copy = 0; copy < 8; copy++) await writeRealisticLog(store, realisticStories(), signer);
    head = (await store.readAll()).at(-1)!.globalPosition;
    runner = new ProjectionRunner(db, store, mailboxProjection, now, () => ms);
    for (const message of await messagesOf(store, MAILBOX_CATEGORIES)) await runner.handle(message);

    // Each page the rebuild reads (500 events) takes a second of the runner's clock; the status is read before it.
    const readAll = store.readAll.bind(store);
    jest.spyOn(store, 'readAll').mockImplementation(async (options) => {
      if (options?.maxCount === 500) {
        captured.push({ at: 'before page', progress: runner.status().progress });
        if (failPages && options.after !== undefined) throw new Error('disk on fire');
        ms += 1_000;
      }
      return readAll(options);
    });
    // ... and after each page that held events of the mailbox (the runner logs its progress then).
    jest.spyOn(Logger.prototype, 'log').mockImplementation((message: unknown) => {
      if (typeof message === 'string' && message.startsWith('Rebuild progress')) captured.push({ at: 'after page', progress: runner.status().progress });
    });
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await store.close();
    db.close();
    cleanup();
  });

  it('goes from 0 to the head of the log, with a pace and a time left never negative; idle after, with its report', async () => {
    expect(runner.status()).toEqual({ projection: 'mailbox', state: 'idle', progress: null, last: null, lastFailure: null });
    const before = runner.digest();
    const report = await runner.rebuild();
    const seen = captured.map((c) => c.progress).filter((p): p is RebuildProgress => p !== null && p.headPosition !== null);
    expect(seen.length).toBeGreaterThanOrEqual(3); // two pages of the mailbox's categories
    expect(seen.every((p) => p.headPosition === head.toString())).toBe(true);
    expect(seen[0]).toMatchObject({ percent: 0, position: null, eventsScanned: 0, applied: 0, etaSeconds: null });
    const positions = seen.map((p) => (p.position === null ? 0n : BigInt(p.position)));
    expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const percents = seen.map((p) => p.percent ?? -1);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(seen.every((p) => p.etaSeconds === null || p.etaSeconds >= 0)).toBe(true);
    // The filler was never read: the first page holds 500 of the mailbox's events, all after it.
    const middle = seen.find((p) => p.eventsScanned === 500);
    expect(middle).toMatchObject({ eventsRead: 500 });
    expect(BigInt(middle!.position!)).toBeGreaterThan(1_200n);
    expect(middle?.percent).toBeGreaterThan(0);
    expect(middle?.percent).toBeLessThan(100);
    expect(middle?.eventsPerSecond).toBeGreaterThan(0);
    expect(middle?.etaSeconds).toBeGreaterThan(0);
    const final = seen.at(-1);
    expect(final).toMatchObject({ percent: 100, position: head.toString(), etaSeconds: 0, applied: report.applied, eventsRead: report.eventsRead });
    expect(final?.eventsScanned).toBe(report.eventsRead);
    expect(report.eventsRead).toBe((await messagesOf(store, MAILBOX_CATEGORIES)).length);

    expect(report).toMatchObject({ lastPosition: head.toString(), digest: before.digest, poison: 0 });
    expect(runner.status()).toEqual({ projection: 'mailbox', state: 'idle', progress: null, last: report, lastFailure: null });
  });

  it('a failed rebuild is reported as the last failure; the last completed report is kept until one completes again', async () => {
    const kept = runner.status().last;
    expect(kept).not.toBeNull();
    failPages = true;
    await expect(runner.rebuild()).rejects.toThrow('disk on fire');
    failPages = false;
    expect(runner.status()).toMatchObject({ state: 'idle', progress: null, last: kept, lastFailure: { error: 'disk on fire' } });

    const started = await runner.startRebuild(); // answered once it is under way, as `?wait=false`
    expect(started).toMatchObject({ state: 'rebuilding', progress: { headPosition: head.toString() }, last: kept });
    await expect(runner.startRebuild()).rejects.toThrow(/being rebuilt already/);
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => runner.isRebuilding || (clearInterval(poll), resolve()), 5);
    });
    const after = runner.status();
    expect(after).toMatchObject({ state: 'idle', progress: null, lastFailure: null, last: { lastPosition: head.toString(), digest: kept?.digest } });
    expect(after.last?.startedAt).toBe(started.progress?.startedAt);
  });
});
