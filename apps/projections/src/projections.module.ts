import { Module } from '@nestjs/common';
import { AuditModule } from './audit/audit.module';
import { MailboxModule } from './mailbox/mailbox.module';
import { PartyDirectoryModule } from './party-directory/party-directory.module';

/** Read models rebuilt from the log: the party directory, mailboxes and the audit view (`POST /projections/:name/rebuild`). */
@Module({ imports: [PartyDirectoryModule, MailboxModule, AuditModule] })
export class ProjectionsModule {}
