import { migrateComponent } from '@sigillum/bus';
import type Database from 'better-sqlite3';

/** What a hosted operator's key is for: `signing` (Ed25519: acknowledgements, reports, seals), `tsa` (RSA: RFC 3161 tokens). */
export const KEY_PURPOSES = ['signing', 'tsa'] as const;
export type KeyPurpose = (typeof KEY_PURPOSES)[number];

export interface HostedKey {
  readonly purpose: KeyPurpose;
  /** Keystore entry of the private key (never leaves the keystore). */
  readonly keyName: string;
  readonly algorithm: 'Ed25519' | 'RSA';
  readonly publicKeyPem: string;
  /** SHA-256 of the SPKI DER, hex. */
  readonly fingerprint: string;
}

export interface HostedOperator {
  readonly operatorId: string;
  readonly hostedAt: string;
  readonly keys: readonly HostedKey[];
}

/** A certificate the certifier CA issued for one of our hosted keys (from CertificateIssued). */
export interface KnownCertificate {
  readonly certificateId: string;
  readonly operatorId: string;
  readonly purpose: KeyPurpose;
  /** The directory key id of the certified public key. */
  readonly keyId: string;
  /** SHA-256 of the certified public key's SPKI DER, hex: which hosted key it certifies. */
  readonly keyFingerprint: string;
  readonly serialNumber: string;
  readonly certificatePem: string;
  /** SHA-256 of the certificate DER, hex. */
  readonly fingerprint: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly issuedAt: string;
}

export interface TrustAnchor {
  readonly caId: string;
  readonly certificatePem: string;
  readonly fingerprint: string;
  readonly establishedAt: string;
}

const MIGRATIONS = [
  `
  CREATE TABLE processor_operators (
    operator_id TEXT PRIMARY KEY,
    hosted_at   TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE processor_operator_keys (
    operator_id    TEXT NOT NULL,
    purpose        TEXT NOT NULL,
    key_name       TEXT NOT NULL,
    algorithm      TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    fingerprint    TEXT NOT NULL UNIQUE,
    PRIMARY KEY (operator_id, purpose)
  ) WITHOUT ROWID;
  CREATE TABLE processor_certificates (
    certificate_id  TEXT PRIMARY KEY,
    operator_id     TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    key_fingerprint TEXT NOT NULL,
    serial_number   TEXT NOT NULL,
    certificate_pem TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    not_before      TEXT NOT NULL,
    not_after       TEXT NOT NULL,
    issued_at       TEXT NOT NULL,
    revoked_at      TEXT
  ) WITHOUT ROWID;
  CREATE INDEX processor_certificates_by_key ON processor_certificates (key_fingerprint, issued_at);
  CREATE TABLE processor_trust_anchors (
    ca_id           TEXT PRIMARY KEY,
    certificate_pem TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    established_at  TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
];

interface KeyRow {
  operator_id: string;
  purpose: KeyPurpose;
  key_name: string;
  algorithm: 'Ed25519' | 'RSA';
  public_key_pem: string;
  fingerprint: string;
}

interface CertificateRow {
  certificate_id: string;
  operator_id: string;
  purpose: KeyPurpose;
  key_id: string;
  key_fingerprint: string;
  serial_number: string;
  certificate_pem: string;
  fingerprint: string;
  not_before: string;
  not_after: string;
  issued_at: string;
  revoked_at: string | null;
}

/**
 * The processor's own durable facts in LOCAL_DB: which operators this process hosts (their keys' public halves;
 * the private keys stay in the keystore), the certificates the CA issued for those keys, and the CA certificates
 * (trust anchors). Persisted so that a restart needs no replay of the certificate topics.
 *
 * `revision` grows on every change of certificates or anchors: caches of parsed certificates compare it.
 */
export class HostedOperatorsStore {
  private readonly statements;
  private readonly hosted = new Set<string>();
  private changes = 0;

  constructor(private readonly db: Database.Database) {
    migrateComponent(db, 'processor', MIGRATIONS);
    this.statements = {
      host: db.prepare('INSERT INTO processor_operators (operator_id, hosted_at) VALUES (?, ?) ON CONFLICT (operator_id) DO NOTHING'),
      operator: db.prepare('SELECT operator_id, hosted_at FROM processor_operators WHERE operator_id = ?'),
      allOperators: db.prepare('SELECT operator_id FROM processor_operators ORDER BY hosted_at, operator_id'),
      addKey: db.prepare(
        `INSERT INTO processor_operator_keys (operator_id, purpose, key_name, algorithm, public_key_pem, fingerprint)
         VALUES (@operator_id, @purpose, @key_name, @algorithm, @public_key_pem, @fingerprint)
         ON CONFLICT (operator_id, purpose) DO UPDATE SET
           key_name = excluded.key_name, algorithm = excluded.algorithm, public_key_pem = excluded.public_key_pem, fingerprint = excluded.fingerprint
         WHERE fingerprint <> excluded.fingerprint`,
      ),
      keysOf: db.prepare('SELECT * FROM processor_operator_keys WHERE operator_id = ? ORDER BY purpose'),
      keyByFingerprint: db.prepare('SELECT * FROM processor_operator_keys WHERE fingerprint = ?'),
      addCertificate: db.prepare(
        `INSERT INTO processor_certificates
           (certificate_id, operator_id, purpose, key_id, key_fingerprint, serial_number, certificate_pem, fingerprint, not_before, not_after, issued_at, revoked_at)
         VALUES (@certificate_id, @operator_id, @purpose, @key_id, @key_fingerprint, @serial_number, @certificate_pem, @fingerprint, @not_before, @not_after, @issued_at, NULL)
         ON CONFLICT (certificate_id) DO NOTHING`,
      ),
      revoke: db.prepare('UPDATE processor_certificates SET revoked_at = ? WHERE certificate_id = ? AND revoked_at IS NULL'),
      // The latest issued certificate of the key hosted now replaces the earlier ones; if it is revoked, the key has none.
      latest: db.prepare(
        `SELECT c.* FROM processor_certificates c
           JOIN processor_operator_keys k ON k.fingerprint = c.key_fingerprint AND k.operator_id = c.operator_id AND k.purpose = c.purpose
         WHERE c.operator_id = ? AND k.purpose = ?
         ORDER BY c.issued_at DESC, c.not_before DESC, c.certificate_id DESC LIMIT 1`,
      ),
      addAnchor: db.prepare(
        `INSERT INTO processor_trust_anchors (ca_id, certificate_pem, fingerprint, established_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (ca_id) DO NOTHING`,
      ),
      anchors: db.prepare('SELECT ca_id, certificate_pem, fingerprint, established_at FROM processor_trust_anchors ORDER BY established_at, ca_id'),
    };
    for (const row of this.statements.allOperators.all() as { operator_id: string }[]) this.hosted.add(row.operator_id);
  }

  /** Grows whenever a key, a certificate or a trust anchor is recorded, replaced or revoked. */
  get revision(): number {
    return this.changes;
  }

  /** Whether this process hosts the operator: an in-memory look-up, for the hot path. */
  isHosted(operatorId: string): boolean {
    return this.hosted.has(operatorId);
  }

  /**
   * Records the hosting and its keys, in one transaction; true when the operator was new. A key that differs from the
   * one recorded for its purpose (the keystore lost the old one and made a new one) replaces it: certificates of the
   * old key no longer count.
   */
  host(operatorId: string, hostedAt: string, keys: readonly HostedKey[]): boolean {
    const created = this.db.transaction(() => {
      const inserted = this.statements.host.run(operatorId, hostedAt).changes === 1;
      for (const key of keys) {
        this.changes += this.statements.addKey.run({
          operator_id: operatorId,
          purpose: key.purpose,
          key_name: key.keyName,
          algorithm: key.algorithm,
          public_key_pem: key.publicKeyPem,
          fingerprint: key.fingerprint,
        }).changes;
      }
      return inserted;
    })();
    this.hosted.add(operatorId);
    return created;
  }

  operator(operatorId: string): HostedOperator | undefined {
    const row = this.statements.operator.get(operatorId) as { operator_id: string; hosted_at: string } | undefined;
    if (!row) return undefined;
    const keys = (this.statements.keysOf.all(operatorId) as KeyRow[]).map(keyOf);
    return { operatorId: row.operator_id, hostedAt: row.hosted_at, keys };
  }

  operatorIds(): string[] {
    return (this.statements.allOperators.all() as { operator_id: string }[]).map((row) => row.operator_id);
  }

  /** The hosted key with this public key fingerprint, and its operator. */
  keyByFingerprint(fingerprint: string): (HostedKey & { readonly operatorId: string }) | undefined {
    const row = this.statements.keyByFingerprint.get(fingerprint) as KeyRow | undefined;
    return row ? { ...keyOf(row), operatorId: row.operator_id } : undefined;
  }

  /**
   * Records a certificate the CA issued (for a hosted key or not yet: `purpose` null, '' in the table); which hosted
   * key it certifies is found by fingerprint when it is looked up. False when it was already recorded.
   */
  recordCertificate(certificate: Omit<KnownCertificate, 'purpose'> & { readonly purpose: KeyPurpose | null }): boolean {
    const inserted =
      this.statements.addCertificate.run({
        certificate_id: certificate.certificateId,
        operator_id: certificate.operatorId,
        purpose: certificate.purpose ?? '',
        key_id: certificate.keyId,
        key_fingerprint: certificate.keyFingerprint,
        serial_number: certificate.serialNumber,
        certificate_pem: certificate.certificatePem,
        fingerprint: certificate.fingerprint,
        not_before: certificate.notBefore,
        not_after: certificate.notAfter,
        issued_at: certificate.issuedAt,
      }).changes === 1;
    if (inserted) this.changes++;
    return inserted;
  }

  /** Marks a certificate revoked; false when it is unknown here (not one of ours) or already revoked. */
  revokeCertificate(certificateId: string, revokedAt: string): boolean {
    const revoked = this.statements.revoke.run(revokedAt, certificateId).changes === 1;
    if (revoked) this.changes++;
    return revoked;
  }

  /** The certificate in force for an operator's key: the latest issued, unless it was revoked. */
  currentCertificate(operatorId: string, purpose: KeyPurpose): KnownCertificate | undefined {
    const row = this.statements.latest.get(operatorId, purpose) as CertificateRow | undefined;
    if (!row || row.revoked_at !== null) return undefined;
    return {
      certificateId: row.certificate_id,
      operatorId: row.operator_id,
      purpose,
      keyId: row.key_id,
      keyFingerprint: row.key_fingerprint,
      serialNumber: row.serial_number,
      certificatePem: row.certificate_pem,
      fingerprint: row.fingerprint,
      notBefore: row.not_before,
      notAfter: row.not_after,
      issuedAt: row.issued_at,
    };
  }

  recordTrustAnchor(anchor: TrustAnchor): boolean {
    const inserted = this.statements.addAnchor.run(anchor.caId, anchor.certificatePem, anchor.fingerprint, anchor.establishedAt).changes === 1;
    if (inserted) this.changes++;
    return inserted;
  }

  trustAnchors(): TrustAnchor[] {
    return (this.statements.anchors.all() as { ca_id: string; certificate_pem: string; fingerprint: string; established_at: string }[]).map((row) => ({
      caId: row.ca_id,
      certificatePem: row.certificate_pem,
      fingerprint: row.fingerprint,
      establishedAt: row.established_at,
    }));
  }
}

function keyOf(row: KeyRow): HostedKey {
  return { purpose: row.purpose, keyName: row.key_name, algorithm: row.algorithm, publicKeyPem: row.public_key_pem, fingerprint: row.fingerprint };
}
