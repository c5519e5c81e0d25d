import { Module } from '@nestjs/common';

/** The domicile role: each user's private office: sessions, drafts, validation, sending, inbox. Its streams arrive with the sessions issue. */
@Module({})
export class DomicileModule {}
