import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type AnyOutOfBandNotice,
  isPermanentRefusal,
  OutOfBandDeliveryError,
  type OutOfBandMessage,
  type OutOfBandReceipt,
  type OutOfBandSender,
  OutOfBandUnavailableError,
  renderAnyNotice,
} from '@sigillum/channels';
import type { SecondChannelKind } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { DurableTimers, uuidGenerator } from '@sigillum/runtime';
import { eventually } from '@sigillum/testing/eventually';
import { pendingEvent } from '@sigillum/testing/events';
import Database from 'better-sqlite3';
import { CorrespondenceService, correspondenceStreamId } from './correspondence.service';
import { type DeliveryToNotify, recipientNoticeMessageId, recipientNoticeTimerId, RecipientNotices } from './recipient-notices';

/**
 * A transport stub. `hang` makes the next sends never answer (the process dies while the relay talks), after
 * handing the notice over when `hang === 'after-accept'`; `failures` queues errors thrown by the next sends.
 * `handedOver` is every notice the "relay" took; `inbox` is what the recipient sees: one message per Message-ID,
 * as a mail client shows a re-sent message with the same Message-ID once.
 */
class StubTransport implements OutOfBandSender {
  readonly handedOver: AnyOutOfBandNotice[] = [];
  readonly inbox = new Map<string, AnyOutOfBandNotice>();
  calls = 0;
  hang: 'before-accept' | 'after-accept' | null = null;
  failures: Error[] = [];
  supports(kind: SecondChannelKind): boolean {
    return kind === 'email';
  }
  async send(_message: OutOfBandMessage): Promise<OutOfBandReceipt> {
    throw new Error('no code is sent here');
  }
  async notify(notice: AnyOutOfBandNotice): Promise<OutOfBandReceipt> {
    this.calls++;
    renderAnyNotice(notice); // what a real transport does: a notice that does not render would fail there
    if (this.hang === 'before-accept') return new Promise<never>(() => undefined);
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.handedOver.push(notice);
    this.inbox.set(notice.messageId, notice);
    if (this.hang === 'after-accept') return new Promise<never>(() => undefined);
    return { transport: 'stub', acceptedAt: new Date().toISOString(), transportReference: `<${notice.messageId}@example.net>` };
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
const ALICE = '0a11ce00-0000-4000-8000-000000000001';
const BOB = '0b0b0000-0000-4000-8000-000000000002';

describe('RecipientNotices: a durable outbox on the real SQLite LOCAL_DB (crashes, restarts, retries)', () => {
  let dir: string;
  let file: string;
  let clock: ManualClock;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-recipient-notices-'));
    file = path.join(dir, 'sigillum.db');
    clock = new ManualClock(T0);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** One domicile process on the data dir: its LOCAL_DB (event store, timers, notices) and its transport. */
  function boot(transport: OutOfBandSender) {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    const store = new SqliteEventStore({ db });
    const timers = new DurableTimers(db, clock, 60_000);
    const correspondences = new CorrespondenceService(store, clock, uuidGenerator);
    const notices = new RecipientNotices(store, transport, db, timers, correspondences, { channelCoolingHours: 24 });
    notices.onModuleInit();
    return { db, store, timers, notices, crash: () => db.close() };
  }

  const at = (ms = 0) => new Date(clock.now().getTime() + ms).toISOString();

  /** Alice and Bob in the directory (verified e-mail), and a correspondence from Alice delivered to Bob. */
  async function deliveredLetter(store: SqliteEventStore): Promise<DeliveryToNotify> {
    for (const [partyId, name, email] of [
      [ALICE, 'Alice Sender', 'alice@example.org'],
      [BOB, 'Bob', 'bob@example.org'],
    ] as const) {
      const existing = await store.readStream(`party-${partyId}`);
      if (existing.length > 0) continue;
      await store.append(
        `party-${partyId}`,
        [
          pendingEvent('PartyRegistered', { partyId, kind: 'person', displayName: name, registeredAt: at() }),
          pendingEvent('SecondChannelEnrolled', {
            partyId,
            channelId: `${name}-mail`,
            kind: 'email',
            address: email,
            verifier: 'ab'.repeat(32),
            verifierKeyId: 'k',
            expiresAt: at(600_000),
            maxAttempts: 3,
            enrolledAt: at(),
          }),
          pendingEvent('SecondChannelVerified', { partyId, channelId: `${name}-mail`, verifiedAt: at() }),
        ] as never,
        'no-stream',
      );
    }
    const correspondenceId = randomUUID();
    const acceptBy = at(15 * 24 * 3600_000);
    const delivered = pendingEvent('DeliveredToRecipient', { correspondenceId, recipientId: BOB, tokenId: 't', acceptBy, deliveredAt: at() });
    await store.append(
      correspondenceStreamId(correspondenceId),
      [
        pendingEvent('SubmissionRequested', {
          correspondenceId,
          draftId: 'draft-1',
          submissionKey: 'key-00000001',
          senderId: ALICE,
          sessionId: 's-a',
          recipientIds: [BOB],
          subject: 'Notice',
          kind: 'registered',
          requiredLevel: 'substantial',
          consignment: 'basic',
          parts: [{ digest: 'a'.repeat(64), size: 3, contentType: 'text/plain', name: 'n.txt' }],
          specimenDigest: 'b'.repeat(64),
          validationProof: 'proof',
          requestedAt: at(),
        }),
        pendingEvent('SubmissionAccepted', { correspondenceId, checkId: 'check-1', acceptedAt: at() }),
        delivered,
      ] as never,
      'no-stream',
    );
    return { correspondenceId, recipientId: BOB, acceptBy, correlationId: delivered.metadata.correlationId, causationId: delivered.metadata.eventId };
  }

  it('crash after the claim, while the relay has not taken the notice: the next process on the same data dir sends it, once', async () => {
    const hanging = new StubTransport();
    hanging.hang = 'before-accept';
    const first = boot(hanging);
    const delivery = await deliveredLetter(first.store);
    await first.notices.notify(delivery); // what the consumer of DeliveredToRecipient does
    expect(first.notices.noticeOf(delivery.correspondenceId, BOB)).toMatchObject({ status: 'pending', attempts: 0 });
    void first.timers.fireDue().catch(() => undefined); // the attempt is committed, the send starts and never answers...
    await eventually(() => expect(hanging.calls).toBe(1));
    first.crash(); // ...and the process dies (kill -9): nothing in memory survives

    const transport = new StubTransport();
    const second = boot(transport);
    expect(second.notices.noticeOf(delivery.correspondenceId, BOB)).toMatchObject({ status: 'pending', attempts: 1 });
    expect(await second.timers.fireDue()).toBe(1);
    expect(transport.handedOver).toHaveLength(1);
    expect(transport.handedOver[0]).toMatchObject({
      messageId: recipientNoticeMessageId(delivery.correspondenceId, BOB),
      purpose: 'correspondence-delivered',
      reference: delivery.correspondenceId,
      senderName: 'Alice Sender',
      acceptBy: delivery.acceptBy,
      causationId: delivery.causationId,
      channel: { address: 'bob@example.org' },
    });
    expect(second.notices.noticeOf(delivery.correspondenceId, BOB)).toMatchObject({ status: 'sent', attempts: 2, transport: 'stub' });

    // The bus hands DeliveredToRecipient over again (at least once), and a later process starts: nothing more is sent.
    await second.notices.notify(delivery);
    clock.advance(120_000);
    expect(await second.timers.fireDue()).toBe(0);
    second.crash();
    const third = boot(transport);
    await third.notices.notify(delivery);
    expect(await third.timers.fireDue()).toBe(0);
    expect(transport.handedOver).toHaveLength(1);
    expect(transport.inbox.size).toBe(1);
    third.crash();
  });

  it('crash after the relay took the notice, before it was recorded: the re-send carries the same Message-ID, so the recipient sees it once', async () => {
    const transport = new StubTransport();
    transport.hang = 'after-accept';
    const first = boot(transport);
    const delivery = await deliveredLetter(first.store);
    await first.notices.notify(delivery);
    void first.timers.fireDue().catch(() => undefined);
    await eventually(() => expect(transport.handedOver).toHaveLength(1));
    first.crash();

    transport.hang = null;
    const second = boot(transport);
    expect(await second.timers.fireDue()).toBe(1);
    // The window that remains: the relay was handed the notice twice (at least once) ...
    expect(transport.handedOver.map((n) => n.messageId)).toEqual([
      recipientNoticeMessageId(delivery.correspondenceId, BOB),
      recipientNoticeMessageId(delivery.correspondenceId, BOB),
    ]);
    // ... both with the same id, so a client that keys on Message-ID shows one.
    expect(transport.inbox.size).toBe(1);
    expect(second.notices.noticeOf(delivery.correspondenceId, BOB)).toMatchObject({ status: 'sent', attempts: 2 });
    second.crash();
  });

  it('sends a row an older build left `pending` (claimed, queued in memory, lost in a crash) when the new one starts', async () => {
    const old = new Database(file);
    const store = new SqliteEventStore({ db: old });
    const delivery = await deliveredLetter(store);
    // The table and the claim exactly as the build before the outbox wrote them.
    old.exec(`CREATE TABLE domicile_notices (correspondence_id TEXT NOT NULL, recipient_id TEXT NOT NULL, status TEXT NOT NULL, transport TEXT, detail TEXT,
      updated_at TEXT NOT NULL, PRIMARY KEY (correspondence_id, recipient_id)) WITHOUT ROWID;`);
    old
      .prepare(`INSERT INTO domicile_notices (correspondence_id, recipient_id, status, updated_at) VALUES (?, ?, 'pending', ?)`)
      .run(delivery.correspondenceId, BOB, at());
    old
      .prepare(`INSERT INTO domicile_notices (correspondence_id, recipient_id, status, detail, updated_at) VALUES (?, ?, 'sent', NULL, ?)`)
      .run('other', BOB, at());
    old.close();

    const transport = new StubTransport();
    const next = boot(transport);
    expect(next.timers.stateOf(recipientNoticeTimerId(delivery.correspondenceId, BOB))).toBe('pending');
    expect(next.timers.stateOf(recipientNoticeTimerId('other', BOB))).toBeUndefined(); // settled rows are left alone
    expect(await next.timers.fireDue()).toBe(1);
    expect(transport.handedOver).toEqual([
      expect.objectContaining({ reference: delivery.correspondenceId, acceptBy: delivery.acceptBy, senderName: 'Alice Sender' }),
    ]);
    expect(next.notices.noticeOf(delivery.correspondenceId, BOB)).toMatchObject({ status: 'sent', attempts: 1 });
    next.crash();
  });

  it('a transport failing twice then succeeding: retried with backoff, across a restart, and exactly one notice delivered', async () => {
    const transport = new StubTransport();
    transport.failures = [
      new OutOfBandDeliveryError('smtp', 'relay.example:587: ECONNECTION connect ECONNREFUSED'),
      new OutOfBandDeliveryError('smtp', 'relay.example:587: 421 4.3.2 service not available'),
    ];
    const first = boot(transport);
    const delivery = await deliveredLetter(first.store);
    await first.notices.notify(delivery);
    expect(await first.timers.fireDue()).toBe(0);
    expect(first.notices.noticeOf(delivery.correspondenceId, BOB)).toMatchObject({
      status: 'pending',
      attempts: 1,
      detail: expect.stringContaining('ECONNREFUSED'),
    });
    expect(await first.timers.fireDue()).toBe(0); // not before its backoff
    expect(transport.calls).toBe(1);
    clock.advance(1_000);
    expect(await first.timers.fireDue()).toBe(0);
    expect(first.notices.noticeOf(delivery.correspondenceId, BOB)).toMatchObject({ status: 'pending', attempts: 2, detail: expect.stringContaining('421') });
    first.crash(); // a restart while the retry waits

    const second = boot(transport);
    clock.advance(2_000);
    expect(await second.timers.fireDue()).toBe(1);
    expect(transport.calls).toBe(3);
    expect(transport.handedOver).toHaveLength(1);
    expect(transport.inbox.size).toBe(1);
    expect(second.notices.noticeOf(delivery.correspondenceId, BOB)).toMatchObject({
      status: 'sent',
      attempts: 3,
      detail: '<' + recipientNoticeMessageId(delivery.correspondenceId, BOB) + '@example.net>',
    });
    clock.advance(3_600_000);
    expect(await second.timers.fireDue()).toBe(0);
    expect(transport.calls).toBe(3);
    second.crash();
  });

  it('records a permanent refusal with its reason and does not retry it', async () => {
    const transport = new StubTransport();
    transport.failures = [new OutOfBandDeliveryError('smtp', 'the relay refused the recipient b***@example.org: 550 5.1.1 no such user')];
    const process = boot(transport);
    const delivery = await deliveredLetter(process.store);
    await process.notices.notify(delivery);
    expect(await process.timers.fireDue()).toBe(1);
    expect(process.notices.noticeOf(delivery.correspondenceId, BOB)).toMatchObject({
      status: 'undeliverable',
      attempts: 1,
      detail: expect.stringContaining('550 5.1.1 no such user'),
    });
    clock.advance(3_600_000);
    expect(await process.timers.fireDue()).toBe(0);
    expect(transport.calls).toBe(1);
    expect(transport.handedOver).toEqual([]);
    process.crash();
  });

  it('follows the channel rule: not to a freshly added address while an older one exists; waits for it when it is all that is left', async () => {
    const transport = new StubTransport();
    const first = boot(transport);
    await deliveredLetter(first.store); // Bob enrolled with bob@example.org, now
    clock.advance(100 * 3600_000);
    const BOB_STREAM = `party-${BOB}`;
    await first.store.append(
      BOB_STREAM,
      [
        pendingEvent('SecondChannelEnrolled', {
          partyId: BOB,
          channelId: 'bob-new',
          kind: 'email',
          address: 'bob.new@example.net',
          verifier: 'ab'.repeat(32),
          verifierKeyId: 'k',
          expiresAt: at(600_000),
          maxAttempts: 3,
          enrolledAt: at(),
        }),
        pendingEvent('SecondChannelVerified', { partyId: BOB, channelId: 'bob-new', verifiedAt: at() }),
      ] as never,
      'any',
    );
    const second = await deliveredLetter(first.store);
    await first.notices.notify(second);
    expect(await first.timers.fireDue()).toBe(1);
    expect(transport.handedOver.map((n) => n.channel.address)).toEqual(['bob@example.org']);

    // The old address removed: the new one is all there is, and it is still cooling. The notice waits, durably.
    await first.store.append(BOB_STREAM, [pendingEvent('SecondChannelRemoved', { partyId: BOB, channelId: 'Bob-mail', removedAt: at() })] as never, 'any');
    const third = await deliveredLetter(first.store);
    await first.notices.notify(third);
    await first.timers.fireDue();
    const usableFrom = new Date(clock.now().getTime() + 24 * 3600_000).toISOString();
    expect(first.notices.noticeOf(third.correspondenceId, BOB)).toMatchObject({
      status: 'pending',
      attempts: 0,
      detail: expect.stringContaining(`channel.cooling`),
    });
    expect(transport.handedOver).toHaveLength(1);
    first.crash();

    const next = boot(transport);
    clock.advance(24 * 3600_000 - 1_000);
    expect(await next.timers.fireDue()).toBe(0); // never early
    clock.advance(1_000);
    expect(await next.timers.fireDue()).toBe(1);
    expect(clock.now().toISOString()).toBe(usableFrom);
    expect(transport.handedOver.map((n) => [n.reference, n.channel.address])).toEqual([
      [second.correspondenceId, 'bob@example.org'],
      [third.correspondenceId, 'bob.new@example.net'],
    ]);
    expect(next.notices.noticeOf(third.correspondenceId, BOB)).toMatchObject({ status: 'sent', attempts: 1 });
    next.crash();
  });

  it('tells permanent refusals from transient failures', () => {
    expect(isPermanentRefusal(new OutOfBandUnavailableError('sms', 'no gateway'))).toBe(true);
    expect(isPermanentRefusal(new OutOfBandDeliveryError('smtp', 'relay:587: EENVELOPE 550 mailbox unavailable'))).toBe(true);
    expect(isPermanentRefusal(new OutOfBandDeliveryError('smtp', 'the relay refused the recipient b***@x.org: 554 5.7.1 rejected'))).toBe(true);
    expect(isPermanentRefusal(new OutOfBandDeliveryError('smtp', 'relay:587: 421 4.7.0 try again later'))).toBe(false);
    expect(isPermanentRefusal(new OutOfBandDeliveryError('smtp', 'relay.example:587: ETIMEDOUT'))).toBe(false);
    expect(isPermanentRefusal(new OutOfBandDeliveryError('kafka', 'publishing failed: 500 brokers'))).toBe(false);
    expect(isPermanentRefusal(new Error('the transport did not answer within 60000 ms'))).toBe(false);
  });
});
