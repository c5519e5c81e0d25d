import { X509Certificate } from 'node:crypto';
import { migrateComponent } from '@sigillum/bus';
import { CA_CATEGORY, readCertifierSigningCertificateIssued, streamIdOf } from '@sigillum/contracts';
import type { EventStore } from '@sigillum/eventstore';
import type Database from 'better-sqlite3';

const MIGRATIONS = [
  `
  CREATE TABLE processor_certifier_certificates (
    x5t             TEXT PRIMARY KEY,
    ca_id           TEXT NOT NULL,
    certificate_pem TEXT NOT NULL,
    recorded_at     TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
];

/** A certifier signing certificate as the processor learnt it (CertifierSigningCertificateIssued). */
export interface CertifierCertificate {
  readonly caId: string;
  readonly certificatePem: string;
  readonly recordedAt: string;
}

/** `x5t#S256` of a certificate whose SHA-256 (hex) is `fingerprint`: the same digest, base64url. */
export const x5tOfFingerprint = (fingerprint: string): string => Buffer.from(fingerprint, 'hex').toString('base64url');

/**
 * The certifier's signing certificates, by `x5t#S256`: what a token naming its certificate by thumbprint is verified
 * with. A local view in LOCAL_DB (and memory) fed by CertifierSigningCertificateIssued on `sigillum.ca.events`
 * (CertificatesConsumer); the processor reads no certifier stream per token.
 *
 * A thumbprint not learnt yet — the token's topic ran ahead of the CA topic (separate topics are not ordered), or a
 * LOCAL_DB older than this view — is looked for once in the CA streams the processor knows (`ca-<caId>` of each
 * trust anchor: a few events) before the token is judged. The certifier records its certificate on that stream
 * before it signs anything under it, so a thumbprint still unknown after that look is one the certifier never
 * recorded: the token is refused (`jws.x5t.unknown`), not retried. A look is not repeated more than once a second
 * for the same thumbprint (a forged thumbprint cannot make every token read the store).
 */
export class CertifierCertificates {
  private readonly memory = new Map<string, CertifierCertificate>();
  private readonly statements;
  private readonly lastLook = new Map<string, number>();

  constructor(
    db: Database.Database,
    private readonly store: Pick<EventStore, 'readStream'>,
    private readonly caIds: () => readonly string[],
  ) {
    migrateComponent(db, 'processor-certifier-certificates', MIGRATIONS);
    this.statements = {
      insert: db.prepare(
        'INSERT INTO processor_certifier_certificates (x5t, ca_id, certificate_pem, recorded_at) VALUES (?, ?, ?, ?) ON CONFLICT (x5t) DO NOTHING',
      ),
      all: db.prepare('SELECT x5t, ca_id, certificate_pem, recorded_at FROM processor_certifier_certificates'),
    };
    for (const row of this.statements.all.all() as { x5t: string; ca_id: string; certificate_pem: string; recorded_at: string }[]) {
      this.memory.set(row.x5t, { caId: row.ca_id, certificatePem: row.certificate_pem, recordedAt: row.recorded_at });
    }
  }

  /** The certificate (PEM) this thumbprint names, if learnt. */
  certificatePemOf(x5t: string): string | undefined {
    return this.memory.get(x5t)?.certificatePem;
  }

  /**
   * Records a certifier signing certificate (idempotent); true when new. `fingerprint` must be the SHA-256 of the
   * certificate's DER (the caller checked the event's shape; this checks the digest it is indexed by).
   */
  record(caId: string, certificatePem: string, fingerprint: string, recordedAt: string): boolean {
    const certificate = new X509Certificate(certificatePem);
    if (certificate.fingerprint256.replace(/:/g, '').toLowerCase() !== fingerprint) {
      throw new Error('fingerprint is not the SHA-256 of the certificate');
    }
    const x5t = x5tOfFingerprint(fingerprint);
    if (this.memory.has(x5t)) return false;
    this.statements.insert.run(x5t, caId, certificatePem, recordedAt);
    this.memory.set(x5t, { caId, certificatePem, recordedAt });
    return true;
  }

  /** Makes sure `x5t` is known if a known CA's stream records it (reads the store only for a miss). */
  async ensureKnown(x5t: string, now = Date.now()): Promise<void> {
    if (this.memory.has(x5t)) return;
    const last = this.lastLook.get(x5t);
    if (last !== undefined && now - last < 1_000) return;
    if (this.lastLook.size >= 1_024) this.lastLook.clear();
    this.lastLook.set(x5t, now);
    for (const caId of this.caIds()) {
      for (const { event } of await this.store.readStream(streamIdOf(CA_CATEGORY, caId))) {
        if (event.type !== 'CertifierSigningCertificateIssued') continue;
        let data;
        try {
          data = readCertifierSigningCertificateIssued(event.data);
          this.record(data.caId, data.certificatePem, data.fingerprint, data.recordedAt);
        } catch {
          continue; // a malformed event is the consumer's to dead-letter; it names no certificate here
        }
      }
    }
  }
}
