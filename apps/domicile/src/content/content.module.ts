import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { LOCAL_DB, SIGILLUM_CONFIG } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { SessionModule } from '../session/session.module';
import { ContentAccessStore } from './content-access.store';
import { CONTENT_CONFIG, type ContentConfig, loadContentConfig } from './content.config';
import { ContentController } from './content.controller';
import { CONTENT_STORE, type ContentStore } from './content-store.port';
import { createContentStore } from './content-store.factory';
import { ContentUploadRawBodyInstaller } from './content-upload-body';

/**
 * The private office's content store: parts of correspondence kept outside the log, addressed by SHA-256
 * (CONTENT_STORE=fs|sqlite, CONTENT_MAX_BYTES, CONTENT_DIR), and the `/contents` routes.
 */
@Module({
  imports: [SessionModule],
  controllers: [ContentController],
  providers: [
    { provide: CONTENT_CONFIG, useFactory: (config: SigillumConfig) => loadContentConfig(config.env, config.dataDir), inject: [SIGILLUM_CONFIG] },
    {
      provide: CONTENT_STORE,
      useFactory: (config: ContentConfig, db: Database.Database) => createContentStore(config, db),
      inject: [CONTENT_CONFIG, LOCAL_DB],
    },
    { provide: ContentAccessStore, useFactory: (db: Database.Database) => new ContentAccessStore(db), inject: [LOCAL_DB] },
    ContentUploadRawBodyInstaller,
  ],
  exports: [CONTENT_STORE, CONTENT_CONFIG, ContentAccessStore],
})
export class ContentModule implements OnApplicationShutdown {
  constructor(@Inject(CONTENT_STORE) private readonly store: ContentStore) {}

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
