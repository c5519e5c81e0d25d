import type Database from 'better-sqlite3';
import type { ContentDigest } from './content-store.port';

export interface ContentGrant {
  readonly digest: ContentDigest;
  readonly userId: string;
  readonly mediaType: string;
  readonly size: number;
  readonly firstUploadedAt: string;
  readonly lastUploadedAt: string;
}

/**
 * Who may read a content back, kept in LOCAL_DB (not evidence): for now, each user who uploaded it, with the media
 * type they declared (the bytes are stored once; the type belongs to the upload). Parties of a correspondence that
 * references the digest will be granted here too once drafts exist.
 */
export class ContentAccessStore {
  private readonly statements;

  constructor(db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS domicile_content_uploads (
        digest             TEXT    NOT NULL,
        user_id            TEXT    NOT NULL,
        media_type         TEXT    NOT NULL,
        size               INTEGER NOT NULL,
        first_uploaded_at  TEXT    NOT NULL,
        last_uploaded_at   TEXT    NOT NULL,
        PRIMARY KEY (digest, user_id)
      ) WITHOUT ROWID;
    `);
    this.statements = {
      record: db.prepare(
        `INSERT INTO domicile_content_uploads (digest, user_id, media_type, size, first_uploaded_at, last_uploaded_at)
         VALUES (@digest, @userId, @mediaType, @size, @at, @at)
         ON CONFLICT (digest, user_id) DO UPDATE SET media_type = excluded.media_type, last_uploaded_at = excluded.last_uploaded_at`,
      ),
      grant: db.prepare(
        `SELECT digest, user_id AS userId, media_type AS mediaType, size,
                first_uploaded_at AS firstUploadedAt, last_uploaded_at AS lastUploadedAt
         FROM domicile_content_uploads WHERE digest = ? AND user_id = ?`,
      ),
    };
  }

  /** Grants `userId` the content it uploaded; a second upload of the same bytes updates the declared media type. */
  recordUpload(upload: { digest: ContentDigest; userId: string; mediaType: string; size: number; at: Date }): void {
    this.statements.record.run({ ...upload, at: upload.at.toISOString() });
  }

  grantOf(digest: ContentDigest, userId: string): ContentGrant | undefined {
    const row = this.statements.grant.get(digest, userId) as ContentGrant | undefined;
    return row ? { ...row, size: Number(row.size) } : undefined;
  }
}
