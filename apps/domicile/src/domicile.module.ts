import { Module } from '@nestjs/common';
import { ContentModule } from './content/content.module';
import { SessionModule } from './session/session.module';

/** The domicile role: each user's private office: sessions, the content store; then drafts, validation, sending, inbox. */
@Module({ imports: [SessionModule, ContentModule] })
export class DomicileModule {}
