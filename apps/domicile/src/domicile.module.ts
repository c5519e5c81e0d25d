import { Module } from '@nestjs/common';
import { SessionModule } from './session/session.module';

/** The domicile role: each user's private office: sessions (this module), then drafts, validation, sending, inbox. */
@Module({ imports: [SessionModule] })
export class DomicileModule {}
