import { Module } from '@nestjs/common';
import { RebuildModule } from '../rebuild/rebuild.module';
import { MailboxConsumer } from './mailbox.consumer';
import { MailboxReadModelController } from './mailbox.controller';
import { OpsChainsController } from './ops-chains.controller';

/** The mailbox read model: `GET /mailbox/:partyId/inbox|outbox`, `GET /mailbox/correspondences/:id`; rebuildable. */
@Module({ imports: [RebuildModule], controllers: [MailboxConsumer, MailboxReadModelController, OpsChainsController] })
export class MailboxModule {}
