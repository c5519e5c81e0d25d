import { Module } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { SIGILLUM_CONFIG } from '@sigillum/runtime';
import { ContentModule } from '../content/content.module';
import { DomicileConfigModule } from '../domicile.config';
import { DraftModule } from '../draft/draft.module';
import { SessionModule } from '../session/session.module';
import { AcceptanceWindows } from './acceptance-window';
import { ChainConsumer } from './chain.consumer';
import { CORRESPONDENCE_CONFIG, loadCorrespondenceConfig } from './correspondence.config';
import { CorrespondenceController } from './correspondence.controller';
import { CorrespondenceEventsConsumer } from './correspondence-events.consumer';
import { CorrespondenceService } from './correspondence.service';
import { MailboxController } from './mailbox.controller';
import { RecipientNotices } from './recipient-notices';
import { SendingController } from './sending.controller';
import { SendingService } from './sending.service';

/**
 * Correspondence in the private office: idempotent sending of validated drafts, the chain's answers recorded per
 * recipient, acceptance windows on durable timers, notices to recipients, answers, content hand-over, inbox/outbox
 * (ACCEPTANCE_WINDOW_DAYS or ACCEPTANCE_WINDOW_SECONDS).
 */
@Module({
  imports: [DomicileConfigModule, SessionModule, ContentModule, DraftModule],
  controllers: [SendingController, CorrespondenceController, MailboxController, ChainConsumer, CorrespondenceEventsConsumer],
  providers: [
    { provide: CORRESPONDENCE_CONFIG, useFactory: (config: SigillumConfig) => loadCorrespondenceConfig(config.env), inject: [SIGILLUM_CONFIG] },
    CorrespondenceService,
    SendingService,
    AcceptanceWindows,
    RecipientNotices,
  ],
  exports: [CorrespondenceService, RecipientNotices, CORRESPONDENCE_CONFIG],
})
export class CorrespondenceModule {}
