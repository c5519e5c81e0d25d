import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { isPermanentRefusal, OUT_OF_BAND_SENDER, type OutOfBandSender } from '@sigillum/channels';
import {
  CLOCK,
  type Clock,
  type DeliveredMessage,
  eventTypeOf,
  foldEvents,
  PARTY_CATEGORY,
  type PartyEvent,
  type RecordedEvent,
  streamIdOf,
} from '@sigillum/contracts';
import { maskAddress } from '@sigillum/crypto';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { DURABLE_TIMERS, type DurableTimer, type DurableTimers, LOCAL_DB, nameBasedId } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { NOTICED_EVENT_TYPES, planAccountNotices, type PlannedNotice } from './account-change';
import { partyDecider } from './party.decider';

/** Kind of the durable timer that sends one account-change notice. */
export const ACCOUNT_NOTICE_TIMER_KIND = 'directory.account-notice';

/**
 * Changes older than this (by event time, against the clock) are not told when first seen: a consumer group that
 * starts from the beginning of the log (a first deployment, a reset) must not send years of stale notices.
 */
export const ACCOUNT_NOTICE_MAX_AGE_MS = 7 * 24 * 3600_000;

/** What became of one notice (operations data in LOCAL_DB, not evidence). */
export interface AccountNoticeRecord {
  readonly eventId: string;
  readonly channelId: string;
  readonly partyId: string;
  /** `channel-added`, `channel-verified`, `channel-removed`, `key-registered`, `key-revoked` or `renamed`. */
  readonly what: string;
  /** `pending` (planned, or failed and waiting for its retry), `sent`, or `undeliverable` (no transport can carry it). */
  readonly status: string;
  readonly attempts: number;
  readonly transport: string | null;
  readonly detail: string | null;
  readonly updatedAt: string;
}

const timerIdOf = (eventId: string, channelId: string) => `account-notice:${eventId}:${channelId}`;

/**
 * Tells every verified channel of a party when its account changes (issue #8), so that a channel added with a
 * stolen or abused session does not go unnoticed: `planAccountNotices` says who is told what. The directory's
 * consumer of its own `sigillum.party.events` calls `plan`, which schedules one durable timer per notice
 * (keyed by event and channel, so a redelivered event plans nothing new) and returns; the timer sends the notice
 * through the OUT_OF_BAND_SENDER's `notify`. A failed send throws, so the timer retries it with backoff, across
 * restarts, until it is sent: a crash after the event and before the send still sends it later (the bus redelivers
 * the event, or the timer is already in SQLite). Only a notice no configured transport can carry (a kind without
 * transport, or one that cannot notify) is given up, as `undeliverable`. The timer's payload names the event and
 * the channel; what the notice says and where it goes are read back from the party's stream when it fires.
 */
@Injectable()
export class AccountNotices implements OnModuleInit {
  private readonly log = new Logger('AccountNotices');
  private readonly statements;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(OUT_OF_BAND_SENDER) private readonly sender: OutOfBandSender,
    @Inject(DURABLE_TIMERS) private readonly timers: DurableTimers,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOCAL_DB) db: Database.Database,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS directory_account_notices (
      event_id TEXT NOT NULL,
      channel_id TEXT NOT NULL,
      party_id TEXT NOT NULL,
      what TEXT NOT NULL,
      status TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      transport TEXT,
      detail TEXT,
      updated_at TEXT NOT NULL,
      PRIMARY KEY (event_id, channel_id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS directory_account_notices_party ON directory_account_notices (party_id, updated_at);`);
    this.statements = {
      planned: db.prepare(
        `INSERT INTO directory_account_notices (event_id, channel_id, party_id, what, status, updated_at) VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING`,
      ),
      settle: db.prepare(
        `UPDATE directory_account_notices SET status = ?, attempts = attempts + 1, transport = ?, detail = ?, updated_at = ? WHERE event_id = ? AND channel_id = ?`,
      ),
      ofParty: db.prepare(
        `SELECT event_id AS eventId, channel_id AS channelId, party_id AS partyId, what, status, attempts, transport, detail, updated_at AS updatedAt
         FROM directory_account_notices WHERE party_id = ? ORDER BY updated_at, event_id, channel_id`,
      ),
    };
  }

  onModuleInit(): void {
    this.timers.onDue(ACCOUNT_NOTICE_TIMER_KIND, (timer) => this.fire(timer));
  }

  /** The notices of a party's account changes and what became of them (ops, tests). */
  noticesOf(partyId: string): AccountNoticeRecord[] {
    return this.statements.ofParty.all(partyId) as AccountNoticeRecord[];
  }

  /**
   * One event of the party topic: plans its notices (durable timers due now) and returns how many. Idempotent.
   * Throws when the event is not (yet) in the party's stream, so that the bus retries it.
   */
  async plan(message: DeliveredMessage): Promise<number> {
    const type = eventTypeOf(message) as PartyEvent['type'];
    if (!NOTICED_EVENT_TYPES.has(type)) return 0;
    const now = this.clock.now();
    if (now.getTime() - Date.parse(message.time) > ACCOUNT_NOTICE_MAX_AGE_MS) {
      this.log.debug(`${type} ${message.id} of ${message.time} is older than the notice horizon; not told`);
      return 0;
    }
    const found = await this.changeAt(message.key, message.id);
    const planned = found.notices;
    for (const { channel, change } of planned) {
      this.statements.planned.run(message.id, channel.channelId, found.partyId, change.what, now.toISOString());
    }
    // Returns (and the message is acknowledged) only once every timer is committed (asked together: one transaction).
    await Promise.all(
      planned.map(({ channel }) =>
        this.timers.schedule({
          timerId: timerIdOf(message.id, channel.channelId),
          kind: ACCOUNT_NOTICE_TIMER_KIND,
          dueAt: now.toISOString(),
          payload: { streamId: message.key, eventId: message.id, channelId: channel.channelId },
        }),
      ),
    );
    return planned.length;
  }

  /** Sends one planned notice; throws (the timer retries) unless it was sent or can never be. */
  private async fire(timer: DurableTimer): Promise<void> {
    const { streamId, eventId, channelId } = timer.payload as { streamId?: unknown; eventId?: unknown; channelId?: unknown };
    if (typeof streamId !== 'string' || typeof eventId !== 'string' || typeof channelId !== 'string') {
      this.log.error(`Timer ${timer.timerId} does not name a stream, an event and a channel; dropped`);
      return;
    }
    const { partyId, notices, recorded } = await this.changeAt(streamId, eventId);
    const notice = notices.find((n: PlannedNotice) => n.channel.channelId === channelId);
    if (!notice) {
      this.log.warn(`Timer ${timer.timerId}: the change no longer names channel ${channelId}; nothing to send`);
      return;
    }
    const { channel, change } = notice;
    const masked = maskAddress(channel.kind, channel.address);
    const settle = (status: string, transport: string | null, detail: string | null) =>
      this.statements.settle.run(status, transport, detail, this.clock.now().toISOString(), eventId, channelId);
    if (!this.sender.notify || !this.sender.supports(channel.kind)) {
      this.log.warn(`Account notice ${change.what} of party ${partyId} to ${masked}: no transport can carry ${channel.kind} notices; given up`);
      settle('undeliverable', null, `no transport carries ${channel.kind} notices`);
      return;
    }
    try {
      const receipt = await this.sender.notify({
        messageId: nameBasedId(timerIdOf(eventId, channelId)),
        partyId,
        channel: { channelId: channel.channelId, kind: channel.kind, address: channel.address },
        purpose: 'account-changed',
        reference: eventId,
        change,
        changedAt: recorded.metadata.occurredAt,
        correlationId: recorded.metadata.correlationId,
        causationId: eventId,
      });
      settle('sent', receipt.transport, receipt.transportReference ?? null);
    } catch (error) {
      // Adapters mask addresses and a notice has no code: the message is safe to keep and log.
      const detail = (error instanceof Error ? error.message : String(error)).split(channel.address).join(masked).slice(0, 500);
      if (isPermanentRefusal(error)) {
        this.log.warn(`Account notice ${change.what} of party ${partyId} to ${masked} cannot be carried: ${detail}; given up`);
        settle('undeliverable', null, detail);
        return;
      }
      settle('pending', null, detail);
      throw new Error(`account notice ${change.what} of party ${partyId} to ${masked} not sent: ${detail}`);
    }
  }

  /** The party as it stood just before the event, the event, and the notices it calls for (read from the stream). */
  private async changeAt(streamId: string, eventId: string): Promise<{ partyId: string; recorded: RecordedEvent; notices: PlannedNotice[] }> {
    if (!streamId.startsWith(`${PARTY_CATEGORY}-`)) throw new Error(`${streamId} is not a party stream`);
    const partyId = streamId.slice(PARTY_CATEGORY.length + 1);
    const stream = await this.store.readStream(streamIdOf(PARTY_CATEGORY, partyId));
    const index = stream.findIndex((recorded) => recorded.metadata.eventId === eventId);
    if (index < 0) throw new Error(`Event ${eventId} is not in stream ${streamId}`);
    const before = foldEvents(
      partyDecider,
      stream.slice(0, index).map((recorded) => recorded.event as PartyEvent),
    );
    const recorded = stream[index];
    return { partyId, recorded, notices: planAccountNotices(before, recorded.event as PartyEvent) };
  }
}
