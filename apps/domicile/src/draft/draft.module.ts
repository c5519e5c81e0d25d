import { Module } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { SIGILLUM_CONFIG } from '@sigillum/runtime';
import { ContentModule } from '../content/content.module';
import { SessionModule } from '../session/session.module';
import { SigningModule } from '../signing/signing.module';
import { DRAFT_CONFIG, loadDraftConfig } from './draft.config';
import { DraftController } from './draft.controller';
import { DraftService } from './draft.service';

/** Drafts in the private office (DRAFT_MAX_RECIPIENTS, DRAFT_MAX_PARTS, SEND_AWAIT_MS, CORRESPONDENCE_KINDS_FILE). */
@Module({
  imports: [SessionModule, ContentModule, SigningModule],
  controllers: [DraftController],
  providers: [{ provide: DRAFT_CONFIG, useFactory: (config: SigillumConfig) => loadDraftConfig(config.env), inject: [SIGILLUM_CONFIG] }, DraftService],
  exports: [DraftService, DRAFT_CONFIG],
})
export class DraftModule {}
