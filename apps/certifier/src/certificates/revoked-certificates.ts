import { Inject, Injectable } from '@nestjs/common';
import { type DeliveredMessage, eventTypeOf } from '@sigillum/contracts';
import { SqliteProjector } from '@sigillum/eventstore';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { markRevoked, revokedCertificatesProjection, revokedFingerprintOf, revokedFingerprints } from './revoked-certificates.projection';

/**
 * The certificates this CA revoked, by fingerprint: a set in memory (a lookup per signature checked) over the
 * process's local SQLite file (so a restart knows them before the consumer catches up). Fed by the consumer of
 * `sigillum.certificate.events` (any process) and, at once, by the service that records a revocation here.
 */
@Injectable()
export class RevokedCertificates {
  private readonly projector: SqliteProjector;
  private readonly revoked: Set<string>;

  constructor(@Inject(LOCAL_DB) private readonly db: Database.Database) {
    this.projector = new SqliteProjector(db, revokedCertificatesProjection);
    this.revoked = new Set(revokedFingerprints(db));
  }

  /** Whether the certificate with this fingerprint (SHA-256 of its DER, hex) is revoked: asked on every signature checked. */
  isRevoked(certificateFingerprint: string): boolean {
    return this.revoked.has(certificateFingerprint);
  }

  /** Applies a certificate event once (redeliveries change nothing). */
  apply(message: DeliveredMessage): boolean {
    const applied = this.projector.handle(message);
    if (eventTypeOf(message) === 'CertificateRevoked') {
      const fingerprint = revokedFingerprintOf(this.db, (message.data as { certificateId: string }).certificateId);
      if (fingerprint !== null) this.revoked.add(fingerprint);
    }
    return applied;
  }

  /** A revocation this process just recorded in the certificate's stream: known at once, before its event comes back. */
  recordRevoked(certificateId: string, fingerprint: string, revokedAt: string): void {
    markRevoked(this.db, certificateId, fingerprint, revokedAt);
    this.revoked.add(fingerprint);
  }

  get size(): number {
    return this.revoked.size;
  }
}
