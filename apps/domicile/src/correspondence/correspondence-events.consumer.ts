import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { parseData, RoleEventPattern } from '@sigillum/bus';
import {
  CORRESPONDENCE_CATEGORY,
  type DeliveredMessage,
  eventTypeOf,
  readAcceptedByRecipient,
  readDeliveredToRecipient,
  readRefusedByRecipient,
  Topics,
} from '@sigillum/contracts';
import { BatchedProjector, SqliteProjector } from '@sigillum/eventstore';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { AcceptanceWindows } from './acceptance-window';
import { mailboxProjection } from './mailbox.projection';
import { RecipientNotices } from './recipient-notices';

/**
 * The private office consuming its own `sigillum.correspondence.events` (at least once, in order per correspondence):
 * keeps the inbox/outbox read model, schedules each recipient's acceptance-window timer when the correspondence
 * is delivered (and cancels it once answered), and notifies the recipient. Everything here is idempotent: the
 * projector applies an event once, timers are keyed by (correspondence, recipient), a notice is claimed once.
 */
@Controller()
export class CorrespondenceEventsConsumer {
  /** The inbox/outbox read model: the messages of a tick in one transaction, acknowledged once it is committed. */
  private readonly projector: BatchedProjector;

  constructor(
    @Inject(LOCAL_DB) db: Database.Database,
    private readonly windows: AcceptanceWindows,
    private readonly notices: RecipientNotices,
  ) {
    this.projector = new BatchedProjector(db, new SqliteProjector(db, mailboxProjection));
  }

  @RoleEventPattern('domicile', Topics.eventsOf(CORRESPONDENCE_CATEGORY))
  async onCorrespondenceEvent(@Payload() message: DeliveredMessage): Promise<void> {
    const type = eventTypeOf(message);
    switch (type) {
      case 'DeliveredToRecipient': {
        const { correspondenceId, recipientId, acceptBy } = parseData(message, readDeliveredToRecipient);
        // Awaited: the message is acknowledged only once the window's timer is committed.
        await this.windows.schedule(correspondenceId, recipientId, acceptBy);
        await this.notices.notify({ correspondenceId, recipientId, acceptBy, correlationId: message.correlationId, causationId: message.id });
        break;
      }
      case 'AcceptedByRecipient':
      case 'RefusedByRecipient': {
        const answered = parseData(message, (d) => (type === 'AcceptedByRecipient' ? readAcceptedByRecipient(d) : readRefusedByRecipient(d)));
        await this.windows.cancel(answered.correspondenceId, answered.recipientId);
        break;
      }
      default:
        break;
    }
    await this.projector.handle(message);
  }
}
