import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type AnyOutOfBandNotice,
  type OutOfBandMessage,
  type OutOfBandReceipt,
  type OutOfBandSender,
  OutOfBandUnavailableError,
  renderAnyNotice,
} from '@sigillum/channels';
import { type DeliveredMessage, eventTopicForStream, messageFromRecordedEvent, type SecondChannelKind } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { DurableTimers } from '@sigillum/runtime';
import { pendingEvent } from '@sigillum/testing/events';
import Database from 'better-sqlite3';
import { ACCOUNT_NOTICE_MAX_AGE_MS, AccountNotices } from './account-notices';

/** Records notices; fails while `failing` is set, like a relay that is down. */
class NoticeRecorder implements OutOfBandSender {
  readonly notices: AnyOutOfBandNotice[] = [];
  failing: Error | null = null;
  constructor(private readonly kinds: readonly SecondChannelKind[] = ['email', 'sms']) {}
  supports(kind: SecondChannelKind): boolean {
    return this.kinds.includes(kind);
  }
  async send(_message: OutOfBandMessage): Promise<OutOfBandReceipt> {
    throw new Error('no code is sent here');
  }
  async notify(notice: AnyOutOfBandNotice): Promise<OutOfBandReceipt> {
    if (this.failing) throw this.failing;
    renderAnyNotice(notice); // what a real transport would do: a notice that does not render would fail there
    this.notices.push(notice);
    return { transport: 'recorder', acceptedAt: new Date().toISOString() };
  }
}

class ManualClock {
  constructor(private at: Date) {}
  now(): Date {
    return new Date(this.at);
  }
  advance(ms: number): void {
    this.at = new Date(this.at.getTime() + ms);
  }
}

const T0 = new Date('2026-06-01T12:00:00.000Z');
const P = '6f1d2c3b-0000-4000-8000-000000000001';
const STREAM = `party-${P}`;
/** The enrolment's verifier: a secret no notice may carry. Long enough that no random id holds it by chance. */
const VERIFIER = 'ab'.repeat(32);

describe('AccountNotices (real SQLite event store and durable timers, restarts)', () => {
  let dir: string;
  let clock: ManualClock;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-account-notices-'));
    clock = new ManualClock(T0);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** One process: its SQLite file (event store, timers, notice records), its sender. */
  function boot(sender: OutOfBandSender) {
    const db = new Database(path.join(dir, 'directory.db'));
    const store = new SqliteEventStore({ db });
    const timers = new DurableTimers(db, clock, 60_000);
    const notices = new AccountNotices(store, sender, timers, clock, db);
    notices.onModuleInit();
    return { db, store, timers, notices, close: () => db.close() };
  }

  const at = (ms = 0) => new Date(clock.now().getTime() + ms).toISOString();
  const enrolled = (channelId: string, kind: SecondChannelKind, address: string) =>
    pendingEvent(
      'SecondChannelEnrolled',
      { partyId: P, channelId, kind, address, verifier: VERIFIER, verifierKeyId: 'k', expiresAt: at(600_000), maxAttempts: 3, enrolledAt: at() },
      { occurredAt: at() },
    );
  const verified = (channelId: string) => pendingEvent('SecondChannelVerified', { partyId: P, channelId, verifiedAt: at() }, { occurredAt: at() });

  /** Bob: registered, e-mail and SMS verified; then `more` appended; returns the bus messages of `more`. */
  async function bobThen(store: SqliteEventStore, more: ReturnType<typeof pendingEvent>[]): Promise<DeliveredMessage[]> {
    await store.append(
      STREAM,
      [
        pendingEvent('PartyRegistered', { partyId: P, kind: 'person', displayName: 'Bob', registeredAt: at() }, { occurredAt: at() }),
        enrolled('bob-mail', 'email', 'bob@example.org'),
        verified('bob-mail'),
        enrolled('bob-sms', 'sms', '+33612345678'),
        verified('bob-sms'),
      ] as never,
      'no-stream',
    );
    await store.append(STREAM, more as never, 'any');
    const recorded = await store.readStream(STREAM);
    return recorded.slice(-more.length).map((r) => ({ ...messageFromRecordedEvent(r, eventTopicForStream), partition: 0, offset: String(r.globalPosition) }));
  }

  it('sends each notice once, retries a failed send from SQLite after a restart, and plans nothing new on a redelivery', async () => {
    const down = new NoticeRecorder();
    down.failing = new Error('SMTP 421 service not available');
    const first = boot(down);
    const [added] = await bobThen(first.store, [enrolled('evil', 'email', 'mallory@evil.example')]);

    expect(await first.notices.plan(added)).toBe(2);
    expect(await first.timers.fireDue()).toBe(0); // both sends failed: still pending
    expect(first.notices.noticesOf(P)).toEqual([
      expect.objectContaining({ channelId: 'bob-mail', what: 'channel-added', status: 'pending', attempts: 1, detail: 'SMTP 421 service not available' }),
      expect.objectContaining({ channelId: 'bob-sms', what: 'channel-added', status: 'pending', attempts: 1 }),
    ]);
    first.close(); // the process stops before any notice went out

    const up = new NoticeRecorder();
    const second = boot(up);
    clock.advance(5_000); // past the first retry's backoff
    expect(await second.timers.fireDue()).toBe(2);
    expect(up.notices.map((n) => [n.channel.channelId, n.purpose, n.reference])).toEqual([
      ['bob-mail', 'account-changed', added.id],
      ['bob-sms', 'account-changed', added.id],
    ]);
    expect(up.notices[0]).toMatchObject({
      change: { what: 'channel-added', channelKind: 'email', maskedAddress: 'm***@evil.example', thisChannel: false },
      changedAt: added.time,
      channel: { address: 'bob@example.org' },
    });
    // No secret and no full address of the new channel anywhere in what was handed to the transport.
    expect(JSON.stringify(up.notices)).not.toContain('mallory@evil.example');
    expect(JSON.stringify(up.notices)).not.toContain(VERIFIER.slice(0, 16));
    expect(JSON.stringify(up.notices)).not.toMatch(/"verifier/);
    expect(second.notices.noticesOf(P).map((r) => [r.channelId, r.status, r.attempts])).toEqual([
      ['bob-mail', 'sent', 2],
      ['bob-sms', 'sent', 2],
    ]);

    // The bus redelivers the event (at least once): nothing is planned or sent again.
    await second.notices.plan(added);
    clock.advance(120_000);
    expect(await second.timers.fireDue()).toBe(0);
    expect(up.notices).toHaveLength(2);
    second.close();
  });

  it('plans from the event even if the process stopped right after recording it (the bus hands it over again)', async () => {
    const recorder = new NoticeRecorder();
    const first = boot(recorder);
    const [removedMail] = await bobThen(first.store, [
      pendingEvent('SecondChannelRemoved', { partyId: P, channelId: 'bob-mail', removedAt: at() }, { occurredAt: at() }),
    ]);
    first.close(); // crashed before the consumer ran

    const second = boot(recorder);
    clock.advance(60_000);
    expect(await second.notices.plan(removedMail)).toBe(2);
    expect(await second.timers.fireDue()).toBe(2);
    expect(recorder.notices.map((n) => [n.channel.channelId, n.purpose === 'account-changed' && n.change])).toEqual([
      ['bob-sms', { what: 'channel-removed', channelKind: 'email', maskedAddress: 'b***@example.org', thisChannel: false }],
      ['bob-mail', { what: 'channel-removed', channelKind: 'email', maskedAddress: 'b***@example.org', thisChannel: true }],
    ]);
    second.close();
  });

  it('gives up, as undeliverable, only a notice no transport can carry', async () => {
    const emailOnly = new NoticeRecorder(['email']);
    const process = boot(emailOnly);
    const [renamed] = await bobThen(process.store, [
      pendingEvent('PartyRenamed', { partyId: P, displayName: 'Robert', renamedAt: at() }, { occurredAt: at() }),
    ]);
    await process.notices.plan(renamed);
    expect(await process.timers.fireDue()).toBe(2);
    expect(process.notices.noticesOf(P).map((r) => [r.channelId, r.status])).toEqual([
      ['bob-mail', 'sent'],
      ['bob-sms', 'undeliverable'],
    ]);
    // A transport that says it cannot carry notices at all: given up too, not retried for ever.
    emailOnly.failing = new OutOfBandUnavailableError('email', 'the SmtpSender transport cannot carry notices');
    await process.store.append(
      STREAM,
      [pendingEvent('PartyRenamed', { partyId: P, displayName: 'Bob', renamedAt: at() }, { occurredAt: at() })] as never,
      'any',
    );
    const last = (await process.store.readStream(STREAM)).at(-1)!;
    await process.notices.plan({ ...messageFromRecordedEvent(last, eventTopicForStream), partition: 0, offset: String(last.globalPosition) });
    expect(await process.timers.fireDue()).toBe(2);
    expect(
      process.notices
        .noticesOf(P)
        .filter((r) => r.eventId === last.metadata.eventId)
        .map((r) => [r.channelId, r.status]),
    ).toEqual([
      ['bob-mail', 'undeliverable'],
      ['bob-sms', 'undeliverable'],
    ]);
    process.close();
  });

  it('does not tell changes older than the notice horizon (a consumer group replaying the log from its start)', async () => {
    const recorder = new NoticeRecorder();
    const process = boot(recorder);
    const [added] = await bobThen(process.store, [enrolled('new', 'email', 'new@example.org')]);
    clock.advance(ACCOUNT_NOTICE_MAX_AGE_MS + 1);
    expect(await process.notices.plan(added)).toBe(0);
    expect(await process.timers.fireDue()).toBe(0);
    expect(recorder.notices).toEqual([]);
    process.close();
  });
});
