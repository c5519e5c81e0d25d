import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { OUT_OF_BAND_SENDER, type OutOfBandSender } from '@sigillum/channels';
import { PARTY_CATEGORY, type PartyEvent, type SecondChannelKind, streamIdOf } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { LOCAL_DB, nameBasedId } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { CorrespondenceService } from './correspondence.service';

/** What became of the notice of one delivery, kept in LOCAL_DB (operations data, not evidence). */
export interface NoticeRecord {
  readonly correspondenceId: string;
  readonly recipientId: string;
  /** `pending`, `sent`, `failed` (the transport refused), `no-channel` (no verified channel a transport serves). */
  readonly status: string;
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
  readonly channels: readonly { readonly channelId: string; readonly kind: SecondChannelKind; readonly address: string; readonly verifiedAt: string }[];
}

/** Notices sent at once; the rest wait their turn (the consumer never waits for a transport). */
const CONCURRENCY = 8;

/**
 * Tells a recipient that a correspondence reached its inbox, over its verified second channel (e-mail first, as
 * the legal notice; SMS otherwise) through the OUT_OF_BAND_SENDER's `notify`. At most one notice per delivery:
 * the row (correspondence, recipient) is claimed before sending, so a redelivered DeliveredToRecipient sends
 * nothing. Sending runs off the consumer, bounded; shutdown waits for what is in flight. The notice carries no
 * content and no link — the recipient opens its own session (claim 1) to read, accept or refuse.
 */
@Injectable()
export class RecipientNotices implements OnApplicationShutdown {
  private readonly log = new Logger('RecipientNotices');
  private readonly waiting: (() => Promise<void>)[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly statements;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(OUT_OF_BAND_SENDER) private readonly sender: OutOfBandSender,
    @Inject(LOCAL_DB) db: Database.Database,
    private readonly correspondences: CorrespondenceService,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS domicile_notices (
      correspondence_id TEXT NOT NULL,
      recipient_id TEXT NOT NULL,
      status TEXT NOT NULL,
      transport TEXT,
      detail TEXT,
      updated_at TEXT NOT NULL,
      PRIMARY KEY (correspondence_id, recipient_id)
    ) WITHOUT ROWID;`);
    this.statements = {
      claim: db.prepare(`INSERT INTO domicile_notices (correspondence_id, recipient_id, status, updated_at) VALUES (?, ?, 'pending', ?) ON CONFLICT DO NOTHING`),
      settle: db.prepare(`UPDATE domicile_notices SET status = ?, transport = ?, detail = ?, updated_at = ? WHERE correspondence_id = ? AND recipient_id = ?`),
      get: db.prepare(
        `SELECT correspondence_id AS correspondenceId, recipient_id AS recipientId, status, transport, detail, updated_at AS updatedAt
         FROM domicile_notices WHERE correspondence_id = ? AND recipient_id = ?`,
      ),
    };
  }

  /** Queues the notice of a delivery, unless one was already claimed for it. */
  notify(delivery: DeliveryToNotify): void {
    const claimed = this.statements.claim.run(delivery.correspondenceId, delivery.recipientId, this.correspondences.now().toISOString()).changes > 0;
    if (!claimed) return;
    this.waiting.push(() => this.send(delivery));
    this.pump();
  }

  noticeOf(correspondenceId: string, recipientId: string): NoticeRecord | undefined {
    return this.statements.get.get(correspondenceId, recipientId) as NoticeRecord | undefined;
  }

  /** Resolves once every queued notice has been tried (or after `ms`); true when none is left. */
  async settled(ms = 30_000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.running.size > 0 || this.waiting.length > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.running]), new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
    return true;
  }

  async onApplicationShutdown(): Promise<void> {
    if (!(await this.settled(10_000))) this.log.warn(`${this.waiting.length + this.running.size} notice(s) still unsent at shutdown; recipients find the correspondence in their inbox`);
  }

  private pump(): void {
    while (this.running.size < CONCURRENCY && this.waiting.length > 0) {
      const task = this.waiting.shift()!;
      const run: Promise<void> = task()
        .catch((error) => this.log.error(`Notice task failed: ${(error as Error).message}`))
        .finally(() => {
          this.running.delete(run);
          this.pump();
        });
      this.running.add(run);
    }
  }

  private settle(delivery: DeliveryToNotify, status: string, transport: string | null, detail: string | null): void {
    this.statements.settle.run(status, transport, detail, this.correspondences.now().toISOString(), delivery.correspondenceId, delivery.recipientId);
  }

  private async send(delivery: DeliveryToNotify): Promise<void> {
    const { state } = await this.correspondences.load(delivery.correspondenceId);
    if (state.status === 'none') return this.settle(delivery, 'failed', null, 'correspondence unknown');
    const recipient = await this.contactOf(delivery.recipientId);
    const sender = await this.contactOf(state.senderId);
    const usable = recipient.channels.filter((channel) => this.sender.supports(channel.kind));
    // E-mail first: it is the notice of record; SMS only for a recipient without a verified e-mail.
    const channel =
      usable.filter((c) => c.kind === 'email').sort((a, b) => b.verifiedAt.localeCompare(a.verifiedAt))[0] ??
      usable.sort((a, b) => b.verifiedAt.localeCompare(a.verifiedAt))[0];
    if (!channel) {
      this.log.warn(`No notice for ${delivery.recipientId} of correspondence ${delivery.correspondenceId}: no verified second channel a transport serves`);
      return this.settle(delivery, 'no-channel', null, 'the recipient has no verified channel that a configured transport serves');
    }
    if (!this.sender.notify) {
      this.log.warn(`No notice for ${delivery.recipientId}: the out-of-band sender cannot carry notices`);
      return this.settle(delivery, 'failed', null, 'the out-of-band sender cannot carry notices');
    }
    try {
      const receipt = await this.sender.notify({
        messageId: nameBasedId(`notice:${delivery.correspondenceId}:${delivery.recipientId}`),
        partyId: delivery.recipientId,
        channel: { channelId: channel.channelId, kind: channel.kind, address: channel.address },
        purpose: 'correspondence-delivered',
        reference: delivery.correspondenceId,
        senderName: sender.displayName ?? state.senderId,
        correspondenceKind: state.kind,
        consignment: state.consignment,
        acceptBy: delivery.acceptBy,
        correlationId: delivery.correlationId,
        causationId: delivery.causationId,
      });
      this.settle(delivery, 'sent', receipt.transport, receipt.transportReference ?? null);
    } catch (error) {
      // Transport errors never carry a code (there is none) and mask addresses: safe to keep and log.
      const detail = (error as Error).message.slice(0, 500);
      this.log.warn(`Notice to ${delivery.recipientId} of correspondence ${delivery.correspondenceId} failed: ${detail}`);
      this.settle(delivery, 'failed', null, detail);
    }
  }

  /** The party's display name and verified channels, read from its directory stream `party-<id>`. */
  private async contactOf(partyId: string): Promise<Contact> {
    let displayName: string | null = null;
    const channels = new Map<string, { channelId: string; kind: SecondChannelKind; address: string; verifiedAt: string | null }>();
    for (const { event } of (await this.store.readStream(streamIdOf(PARTY_CATEGORY, partyId))) as { event: PartyEvent }[]) {
      switch (event.type) {
        case 'PartyRegistered':
        case 'PartyRenamed':
          displayName = event.data.displayName;
          break;
        case 'SecondChannelEnrolled':
          channels.set(event.data.channelId, { channelId: event.data.channelId, kind: event.data.kind, address: event.data.address, verifiedAt: null });
          break;
        case 'SecondChannelVerified': {
          const channel = channels.get(event.data.channelId);
          if (channel) channels.set(channel.channelId, { ...channel, verifiedAt: event.data.verifiedAt });
          break;
        }
        case 'SecondChannelRemoved':
          channels.delete(event.data.channelId);
          break;
        default:
          break;
      }
    }
    const verified = [...channels.values()].filter((c): c is Contact['channels'][number] => c.verifiedAt !== null);
    return { displayName, channels: verified };
  }
}
