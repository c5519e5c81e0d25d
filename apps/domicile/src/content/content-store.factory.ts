import type Database from 'better-sqlite3';
import type { ContentConfig } from './content.config';
import type { ContentStore } from './content-store.port';
import { FsContentStore } from './content-store.fs';
import { SqliteContentStore } from './content-store.sqlite';

/** The adapter CONTENT_STORE names: files under CONTENT_DIR, or chunked rows in the process's SQLite file. */
export async function createContentStore(config: ContentConfig, localDb: Database.Database): Promise<ContentStore> {
  switch (config.store) {
    case 'fs':
      return FsContentStore.open({ directory: config.directory });
    case 'sqlite':
      return new SqliteContentStore({ db: localDb });
    default:
      throw new Error(`Unknown content store ${JSON.stringify(config.store)}; use "fs" or "sqlite".`);
  }
}
