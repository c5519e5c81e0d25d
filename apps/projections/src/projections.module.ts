import { Module } from '@nestjs/common';
import { PartyDirectoryModule } from './party-directory/party-directory.module';

/** Read models rebuilt from the log: the party directory now; mailbox and audit next. */
@Module({ imports: [PartyDirectoryModule] })
export class ProjectionsModule {}
