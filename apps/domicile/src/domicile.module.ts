import { Module } from '@nestjs/common';
import { ContentModule } from './content/content.module';
import { CorrespondenceModule } from './correspondence/correspondence.module';
import { DraftModule } from './draft/draft.module';
import { SessionModule } from './session/session.module';
import { SigningModule } from './signing/signing.module';

/** The domicile role: each user's private office: sessions, the content store; then drafts, validation, sending, inbox. */
@Module({ imports: [SessionModule, ContentModule, SigningModule, DraftModule, CorrespondenceModule] })
export class DomicileModule {}
