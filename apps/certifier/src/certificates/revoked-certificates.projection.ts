import { parseData, PoisonMessageError } from '@sigillum/bus';
import { type DeliveredMessage, eventTypeOf, readCertificateIssued, readCertificateRevoked } from '@sigillum/contracts';
import type { SqliteProjection } from '@sigillum/eventstore';
import type Database from 'better-sqlite3';

/**
 * The certifier's small read model of `sigillum.certificate.events`: the fingerprint (SHA-256 of the DER) of every
 * certificate its CA issued, and when it was revoked. CertificateRevoked does not carry the fingerprint, so it is
 * taken from the stream's CertificateIssued, which is delivered before it (one stream, in order).
 */
export const revokedCertificatesProjection: SqliteProjection = {
  name: 'certifier-revoked-certificates',
  version: 1,
  tables: ['cert_certificate_revocations'],
  schema: `CREATE TABLE IF NOT EXISTS cert_certificate_revocations (
      certificate_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, revoked_at TEXT);
    CREATE INDEX IF NOT EXISTS cert_certificate_revocations_revoked ON cert_certificate_revocations (revoked_at) WHERE revoked_at IS NOT NULL;`,
  apply(db: Database.Database, message: DeliveredMessage): void {
    const type = eventTypeOf(message);
    if (type !== 'CertificateIssued' && type !== 'CertificateRevoked') return;
    if (type === 'CertificateIssued') {
      const issued = parseData(message, readCertificateIssued);
      db.prepare('INSERT INTO cert_certificate_revocations (certificate_id, fingerprint) VALUES (?, ?) ON CONFLICT(certificate_id) DO NOTHING').run(
        issued.certificateId,
        issued.fingerprint,
      );
      return;
    }
    const data = parseData(message, readCertificateRevoked);
    const known = db.prepare('SELECT 1 FROM cert_certificate_revocations WHERE certificate_id = ?').get(data.certificateId);
    if (!known) throw new PoisonMessageError(`${type}: certificate ${data.certificateId} was never issued (no CertificateIssued before it in its stream)`);
    markRevoked(db, data.certificateId, null, data.revokedAt);
  },
};

/** Records a revocation; the first revocation time stays. `fingerprint` is needed only when the issue was not projected yet. */
export function markRevoked(db: Database.Database, certificateId: string, fingerprint: string | null, revokedAt: string): void {
  if (fingerprint !== null) {
    db.prepare(
      `INSERT INTO cert_certificate_revocations (certificate_id, fingerprint, revoked_at) VALUES (?, ?, ?)
       ON CONFLICT(certificate_id) DO UPDATE SET revoked_at = COALESCE(revoked_at, excluded.revoked_at)`,
    ).run(certificateId, fingerprint, revokedAt);
    return;
  }
  db.prepare('UPDATE cert_certificate_revocations SET revoked_at = COALESCE(revoked_at, ?) WHERE certificate_id = ?').run(revokedAt, certificateId);
}

/** The fingerprint of a certificate, if projected and revoked. */
export function revokedFingerprintOf(db: Database.Database, certificateId: string): string | null {
  const row = db.prepare('SELECT fingerprint FROM cert_certificate_revocations WHERE certificate_id = ? AND revoked_at IS NOT NULL').get(certificateId) as
    { fingerprint: string } | undefined;
  return row?.fingerprint ?? null;
}

/** Every revoked fingerprint (loaded once at start-up into memory). */
export function revokedFingerprints(db: Database.Database): string[] {
  return (db.prepare('SELECT fingerprint FROM cert_certificate_revocations WHERE revoked_at IS NOT NULL').all() as { fingerprint: string }[]).map(
    (row) => row.fingerprint,
  );
}
