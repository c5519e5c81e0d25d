import { Inject, Injectable } from '@nestjs/common';
import { parseData } from '@sigillum/bus';
import { CERTIFICATE_CATEGORY, type DeliveredMessage, eventTypeOf, readCertificateIssued } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore, SqliteProjector, type SqliteProjection } from '@sigillum/eventstore';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';

/**
 * The certifier's read model of the certificates its CA issued, by fingerprint (SHA-256 of the DER, hex): what a JWS
 * naming its signer certificate by `x5t#S256` (RFC 7515 §4.1.8) is resolved against, instead of carrying `x5c`.
 */
export const knownCertificatesProjection: SqliteProjection = {
  name: 'certifier-known-certificates',
  version: 1,
  tables: ['cert_known_certificates'],
  schema: 'CREATE TABLE IF NOT EXISTS cert_known_certificates (fingerprint TEXT PRIMARY KEY, certificate_pem TEXT NOT NULL) WITHOUT ROWID;',
  apply(db: Database.Database, message: DeliveredMessage): void {
    if (eventTypeOf(message) !== 'CertificateIssued') return;
    const issued = parseData(message, readCertificateIssued);
    db.prepare('INSERT INTO cert_known_certificates (fingerprint, certificate_pem) VALUES (?, ?) ON CONFLICT(fingerprint) DO NOTHING').run(
      issued.fingerprint,
      issued.certificatePem,
    );
  },
};

const MEMORY_ENTRIES = 4_096;
const SCAN_PAGE = 2_000;

/**
 * The certificates the CA issued, by fingerprint: in memory (bounded) over the process's local SQLite file, fed by the
 * consumer of `sigillum.certificate.events` (any process) and, at once, by the service that issues a certificate here.
 * A thumbprint it does not know yet (its consumer behind the processor's, or a file that predates this read model) is
 * looked for in the event store's own log (`ensureKnown`, from where the last look stopped) before a signature naming
 * it is judged: an unknown thumbprint is then one the CA never issued.
 */
@Injectable()
export class KnownCertificates {
  private readonly projector: SqliteProjector;
  private readonly memory = new Map<string, string>();
  private readonly select: Database.Statement<[string]>;
  private readonly insert: Database.Statement<[string, string]>;
  /** How far the log was looked through for CertificateIssued (undefined: not yet). */
  private scannedUpTo: bigint | undefined;
  private scanning: Promise<void> | undefined;

  constructor(
    @Inject(LOCAL_DB) db: Database.Database,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {
    this.projector = new SqliteProjector(db, knownCertificatesProjection);
    this.select = db.prepare('SELECT certificate_pem FROM cert_known_certificates WHERE fingerprint = ?');
    this.insert = db.prepare('INSERT INTO cert_known_certificates (fingerprint, certificate_pem) VALUES (?, ?) ON CONFLICT(fingerprint) DO NOTHING');
  }

  /** The certificate (PEM) whose DER has this SHA-256 (hex), if the CA issued it and this process learnt it. */
  certificatePemOf(fingerprint: string): string | undefined {
    const remembered = this.memory.get(fingerprint);
    if (remembered !== undefined) return remembered;
    const row = this.select.get(fingerprint) as { certificate_pem: string } | undefined;
    if (row) this.remember(fingerprint, row.certificate_pem);
    return row?.certificate_pem;
  }

  /** Applies a certificate event once (redeliveries change nothing). */
  apply(message: DeliveredMessage): boolean {
    return this.projector.handle(message);
  }

  /** A certificate this process just issued: known at once, before its event comes back. */
  recordIssued(fingerprint: string, certificatePem: string): void {
    this.insert.run(fingerprint, certificatePem);
    this.remember(fingerprint, certificatePem);
  }

  /** Makes sure each of these fingerprints is known if the log holds its CertificateIssued (reads the log only for a miss). */
  async ensureKnown(fingerprints: Iterable<string>): Promise<void> {
    for (const fingerprint of fingerprints) {
      if (this.certificatePemOf(fingerprint) !== undefined) continue;
      await this.scan();
    }
  }

  private scan(): Promise<void> {
    // One look at a time; a look started after a miss covers it (it reads up to the log's end).
    this.scanning ??= this.scanLog().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async scanLog(): Promise<void> {
    const prefix = `${CERTIFICATE_CATEGORY}-`;
    for (;;) {
      const page = await this.store.readAll({ ...(this.scannedUpTo !== undefined ? { after: this.scannedUpTo } : {}), maxCount: SCAN_PAGE });
      for (const recorded of page) {
        if (recorded.event.type === 'CertificateIssued' && recorded.streamId.startsWith(prefix)) {
          const { fingerprint, certificatePem } = recorded.event.data as { fingerprint: string; certificatePem: string };
          if (typeof fingerprint === 'string' && typeof certificatePem === 'string') this.recordIssued(fingerprint, certificatePem);
        }
        this.scannedUpTo = recorded.globalPosition;
      }
      if (page.length < SCAN_PAGE) return;
    }
  }

  private remember(fingerprint: string, certificatePem: string): void {
    this.memory.set(fingerprint, certificatePem);
    if (this.memory.size > MEMORY_ENTRIES) this.memory.delete(this.memory.keys().next().value as string);
  }
}
