import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { migrateComponent } from '@sigillum/bus';
import { isPermanentRefusal, OUT_OF_BAND_SENDER, type OutOfBandSender } from '@sigillum/channels';
import { PARTY_CATEGORY, type PartyEvent, streamIdOf } from '@sigillum/contracts';
import { type ChannelHistory, evolveChannelHistory } from '@sigillum/contracts/directory/channel-choice';
import { EVENT_STORE, type EventStore, TurnCommit } from '@sigillum/eventstore';
import { DURABLE_TIMERS, type DurableTimer, type DurableTimers, LOCAL_DB, nameBasedId } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { DOMICILE_CONFIG, type DomicileConfig } from '../domicile.config';
import { CorrespondenceService } from './correspondence.service';
import { chooseNoticeChannel } from './recipient-notice-channel';

/** Kind of the durable timer that sends (and, until it is sent, re-sends) the notice of one delivery. */
export const RECIPIENT_NOTICE_TIMER_KIND = 'domicile.recipient-notice';

/** One timer per (correspondence, recipient): claiming the notice again (a redelivered event, a restart) changes nothing. */
export const recipientNoticeTimerId = (correspondenceId: string, recipientId: string) => `recipient-notice:${correspondenceId}:${recipientId}`;

/**
 * The notice's message id, the same on every attempt: the SMTP Message-ID (`<id@from-domain>`, and the header
 * X-Sigillum-Message-Id), the Kafka gateway message id. A re-send after a crash between the hand-over and its record
 * carries the same id, so the recipient's mail client (or the gateway) recognises the duplicate.
 */
export const recipientNoticeMessageId = (correspondenceId: string, recipientId: string) => nameBasedId(`notice:${correspondenceId}:${recipientId}`);

/** A send that has not answered after this long counts as failed (and is retried): a hung relay must not hold the timers. */
export const RECIPIENT_NOTICE_SEND_TIMEOUT_MS = 60_000;

/** What became of the notice of one delivery, kept in LOCAL_DB (operations data, not evidence). */
export interface NoticeRecord {
  readonly correspondenceId: string;
  readonly recipientId: string;
  /**
   * `pending` (claimed, not sent yet: its durable timer sends it, and retries it with backoff after a failure, whose
   * reason is in `detail`), `sent`, `no-channel` (no verified channel a transport serves), `undeliverable` (refused
   * for good: no transport can carry it, or the relay answered with a permanent SMTP 5xx; the reason in `detail`).
   * Rows written before the outbox may also say `failed`.
   */
  readonly status: string;
  /** Sends tried so far (handed to the transport, whatever came of it). */
  readonly attempts: number;
  readonly transport: string | null;
  readonly detail: string | null;
  readonly updatedAt: string;
}

export interface DeliveryToNotify {
  readonly correspondenceId: string;
  readonly recipientId: string;
  readonly acceptBy: string;
  readonly correlationId: string;
  readonly causationId: string;
}

interface Contact {
  readonly displayName: string | null;
  /** Every channel the party enrolled, removed ones included (the channel rule needs them), with its address. */
  readonly channels: readonly (ChannelHistory & { readonly address: string })[];
}

const MIGRATIONS = [
  // The table as it was before the outbox (kept by CREATE TABLE IF NOT EXISTS on data written by older builds).
  `CREATE TABLE IF NOT EXISTS domicile_notices (
     correspondence_id TEXT NOT NULL,
     recipient_id TEXT NOT NULL,
     status TEXT NOT NULL,
     transport TEXT,
     detail TEXT,
     updated_at TEXT NOT NULL,
     PRIMARY KEY (correspondence_id, recipient_id)
   ) WITHOUT ROWID;`,
  `ALTER TABLE domicile_notices ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE domicile_notices ADD COLUMN accept_by TEXT;
   ALTER TABLE domicile_notices ADD COLUMN correlation_id TEXT;
   ALTER TABLE domicile_notices ADD COLUMN causation_id TEXT;
   CREATE INDEX domicile_notices_status ON domicile_notices (status);`,
];

/** The statuses after which nothing more is tried. */
const FINAL = new Set(['sent', 'no-channel', 'undeliverable', 'failed']);

/**
 * Tells a recipient that a correspondence reached its inbox, over its verified second channel (e-mail first, as
 * the legal notice; SMS otherwise) through the OUT_OF_BAND_SENDER's `notify`. The notice carries no content and no
 * link — the recipient opens its own session (claim 1) to read, accept or refuse. The channel is chosen by the
 * session-code rule (`chooseNoticeChannel`: a channel verified within CHANNEL_COOLING_HOURS gets nothing while an
 * older one exists); when the recipient's usable channels are all still cooling, the notice waits until one settles.
 *
 * A durable outbox (issue #9): `notify` — called by the consumer of our own DeliveredToRecipient — claims the row
 * (correspondence, recipient) and schedules its durable timer in one SQLite transaction, and returns; the timer
 * sends. A send that fails is recorded and thrown, so the timer retries it with backoff, across restarts, until it
 * is sent; only a permanent refusal is given up (`undeliverable`, with its reason). A crash anywhere leaves either
 * nothing (the bus redelivers the event: the claim is made then) or a pending timer (fired by the next process).
 * At start, rows left `pending` by a build before the outbox (claimed, queued in memory, lost) get their timer too.
 *
 * At least once, recognisably: every attempt carries the same message id (recipientNoticeMessageId). The one
 * window left is a crash after the transport accepted the notice and before `sent` is recorded: the next process
 * sends it again, with the same Message-ID — a duplicate the recipient's mail client may collapse, but that an SMTP
 * relay delivers all the same.
 */
@Injectable()
export class RecipientNotices implements OnModuleInit {
  private readonly log = new Logger('RecipientNotices');
  private readonly statements;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(OUT_OF_BAND_SENDER) private readonly sender: OutOfBandSender,
    @Inject(LOCAL_DB) private readonly db: Database.Database,
    @Inject(DURABLE_TIMERS) private readonly timers: DurableTimers,
    private readonly correspondences: CorrespondenceService,
    @Inject(DOMICILE_CONFIG) private readonly config: Pick<DomicileConfig, 'channelCoolingHours'>,
  ) {
    // Versioned (component `domicile_notices`): rows written by older builds are kept, and given a timer at start.
    migrateComponent(db, 'domicile_notices', MIGRATIONS);
    this.statements = {
      claim: db.prepare(
        `INSERT INTO domicile_notices (correspondence_id, recipient_id, status, accept_by, correlation_id, causation_id, updated_at)
         VALUES (?, ?, 'pending', ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      attempt: db.prepare(`UPDATE domicile_notices SET attempts = attempts + 1, updated_at = ? WHERE correspondence_id = ? AND recipient_id = ?`),
      settle: db.prepare(`UPDATE domicile_notices SET status = ?, transport = ?, detail = ?, updated_at = ? WHERE correspondence_id = ? AND recipient_id = ?`),
      get: db.prepare(
        `SELECT correspondence_id AS correspondenceId, recipient_id AS recipientId, status, attempts, transport, detail, updated_at AS updatedAt
         FROM domicile_notices WHERE correspondence_id = ? AND recipient_id = ?`,
      ),
      row: db.prepare(
        `SELECT status, accept_by AS acceptBy, correlation_id AS correlationId, causation_id AS causationId FROM domicile_notices WHERE correspondence_id = ? AND recipient_id = ?`,
      ),
      pending: db.prepare(`SELECT correspondence_id AS correspondenceId, recipient_id AS recipientId FROM domicile_notices WHERE status = 'pending'`),
    };
  }

  /** Registers the timer handler, and gives a timer to every pending row that has none (rows of older builds). */
  onModuleInit(): void {
    this.timers.onDue(RECIPIENT_NOTICE_TIMER_KIND, (timer) => this.fire(timer));
    const rows = this.statements.pending.all() as { correspondenceId: string; recipientId: string }[];
    const now = this.correspondences.now().toISOString();
    let armed = 0;
    this.db.transaction(() => {
      for (const { correspondenceId, recipientId } of rows) {
        if (this.timers.stateOf(recipientNoticeTimerId(correspondenceId, recipientId)) !== undefined) continue;
        this.schedule(correspondenceId, recipientId, now);
        armed++;
      }
    })();
    if (armed > 0) this.log.log(`${armed} notice(s) left pending by an earlier process will be sent`);
  }

  /**
   * Claims the notice of a delivery and schedules its sending (durable; resolves once committed, with the other writes
   * of the turn on this file: TurnCommit); nothing when it was already claimed.
   */
  notify(delivery: DeliveryToNotify): Promise<void> {
    const now = this.correspondences.now().toISOString();
    return TurnCommit.of(this.db).write(() => {
      const claimed =
        this.statements.claim.run(delivery.correspondenceId, delivery.recipientId, delivery.acceptBy, delivery.correlationId, delivery.causationId, now)
          .changes > 0;
      if (claimed) this.schedule(delivery.correspondenceId, delivery.recipientId, now);
    });
  }

  noticeOf(correspondenceId: string, recipientId: string): NoticeRecord | undefined {
    return this.statements.get.get(correspondenceId, recipientId) as NoticeRecord | undefined;
  }

  /** Inside the caller's transaction: the notice's row and its timer commit together. */
  private schedule(correspondenceId: string, recipientId: string, dueAt: string): void {
    this.timers.scheduleWithin({
      timerId: recipientNoticeTimerId(correspondenceId, recipientId),
      kind: RECIPIENT_NOTICE_TIMER_KIND,
      dueAt,
      payload: { correspondenceId, recipientId },
    });
  }

  private settle(correspondenceId: string, recipientId: string, status: string, transport: string | null, detail: string | null): void {
    this.statements.settle.run(status, transport, detail, this.correspondences.now().toISOString(), correspondenceId, recipientId);
  }

  /** Sends one claimed notice; returns once it is settled for good, throws (the timer retries) otherwise. */
  private async fire(timer: DurableTimer): Promise<void> {
    const { correspondenceId, recipientId } = timer.payload as { correspondenceId?: unknown; recipientId?: unknown };
    if (typeof correspondenceId !== 'string' || typeof recipientId !== 'string') {
      this.log.error(`Timer ${timer.timerId} has no correspondence or recipient in its payload; dropped`);
      return;
    }
    const row = this.statements.row.get(correspondenceId, recipientId) as
      { status: string; acceptBy: string | null; correlationId: string | null; causationId: string | null } | undefined;
    if (!row || FINAL.has(row.status)) return; // settled before a crash kept the timer from being marked fired
    // Written with the other writes of the turn on this file (TurnCommit): no commit of their own; resolved once committed.
    const settle = (status: string, transport: string | null, detail: string | null) =>
      TurnCommit.of(this.db).write(() => this.settle(correspondenceId, recipientId, status, transport, detail));

    const { state, history } = await this.correspondences.load(correspondenceId);
    if (state.status === 'none') throw new Error(`correspondence ${correspondenceId} is not in the store (yet)`);
    // The delivery as recorded (rows of older builds kept neither acceptBy nor the event's ids).
    const delivered = history.find((r) => r.event.type === 'DeliveredToRecipient' && r.event.data.recipientId === recipientId);
    const acceptBy = row.acceptBy ?? (delivered?.event.type === 'DeliveredToRecipient' ? delivered.event.data.acceptBy : null);
    if (!acceptBy) throw new Error(`correspondence ${correspondenceId} records no delivery to ${recipientId} (yet)`);

    const recipient = await this.contactOf(recipientId);
    // E-mail first (the notice of record), and never to a channel still cooling while an older one exists (issue #8).
    const choice = chooseNoticeChannel(recipient.channels, this.correspondences.now(), this.config.channelCoolingHours * 3600_000, (kind) =>
      this.sender.supports(kind),
    );
    if (choice.outcome === 'none') {
      this.log.warn(`No notice for ${recipientId} of correspondence ${correspondenceId}: no verified second channel a transport serves`);
      return settle('no-channel', null, 'the recipient has no verified channel that a configured transport serves');
    }
    if (choice.outcome === 'cooling') {
      // Its channels were all verified within CHANNEL_COOLING_HOURS while it has or had an older one: wait for them.
      this.log.warn(`Notice to ${recipientId} of correspondence ${correspondenceId} waits until ${choice.usableFrom}: its usable channels are still cooling`);
      this.db.transaction(() => {
        this.settle(
          correspondenceId,
          recipientId,
          'pending',
          null,
          `channel.cooling: the recipient's usable channels were all verified recently; the notice goes at ${choice.usableFrom}`,
        );
        this.timers.scheduleWithin({
          timerId: `${recipientNoticeTimerId(correspondenceId, recipientId)}:after:${choice.usableFrom}`,
          kind: RECIPIENT_NOTICE_TIMER_KIND,
          dueAt: choice.usableFrom,
          payload: { correspondenceId, recipientId },
        });
      })();
      return;
    }
    const { channel } = choice;
    if (!this.sender.notify) {
      this.log.warn(`No notice for ${recipientId}: the out-of-band sender cannot carry notices`);
      return settle('undeliverable', null, 'the out-of-band sender cannot carry notices');
    }
    const sender = await this.contactOf(state.senderId);
    const attemptAt = this.correspondences.now().toISOString();
    await TurnCommit.of(this.db).write(() => this.statements.attempt.run(attemptAt, correspondenceId, recipientId));
    try {
      const receipt = await withTimeout(
        this.sender.notify({
          messageId: recipientNoticeMessageId(correspondenceId, recipientId),
          partyId: recipientId,
          channel: { channelId: channel.channelId, kind: channel.kind, address: channel.address },
          purpose: 'correspondence-delivered',
          reference: correspondenceId,
          senderName: sender.displayName ?? state.senderId,
          correspondenceKind: state.kind,
          consignment: state.consignment,
          acceptBy,
          correlationId: row.correlationId ?? delivered?.metadata.correlationId ?? correspondenceId,
          causationId: row.causationId ?? delivered?.metadata.eventId ?? correspondenceId,
        }),
        RECIPIENT_NOTICE_SEND_TIMEOUT_MS,
      );
      await settle('sent', receipt.transport, receipt.transportReference ?? null);
    } catch (error) {
      // Transport errors never carry a code (there is none) and mask addresses: safe to keep and log.
      const detail = (error instanceof Error ? error.message : String(error)).slice(0, 500);
      if (isPermanentRefusal(error)) {
        this.log.warn(`Notice to ${recipientId} of correspondence ${correspondenceId} refused for good: ${detail}`);
        return settle('undeliverable', null, detail);
      }
      await settle('pending', null, detail);
      throw new Error(`notice to ${recipientId} of correspondence ${correspondenceId} not sent: ${detail}`);
    }
  }

  /** The party's display name and channel history (with addresses), read from its directory stream `party-<id>`. */
  private async contactOf(partyId: string): Promise<Contact> {
    let displayName: string | null = null;
    let history: ChannelHistory[] = [];
    const addresses = new Map<string, string>();
    for (const { event } of (await this.store.readStream(streamIdOf(PARTY_CATEGORY, partyId))) as { event: PartyEvent }[]) {
      if (event.type === 'PartyRegistered' || event.type === 'PartyRenamed') displayName = event.data.displayName;
      if (event.type === 'SecondChannelEnrolled') addresses.set(event.data.channelId, event.data.address);
      history = evolveChannelHistory(history, event);
    }
    return { displayName, channels: history.map((channel) => ({ ...channel, address: addresses.get(channel.channelId) ?? '' })) };
  }
}

/** The promise's outcome, or a (transient) failure after `ms`; the timer does not keep the process alive. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the transport did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
