import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CertificateAuthority, FileKeyStore } from '@sigillum/crypto';
import Database from 'better-sqlite3';
import { StepFailure } from '../steps/step-failure';
import { HostedOperatorsStore, type KnownCertificate } from './hosted-operators.store';
import { OperatorCredentials, operatorKeyName } from './operator-credentials';

const now = new Date('2026-11-25T08:00:00.000Z');

function rulesOf(action: () => unknown): string[] {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(StepFailure);
    return (error as StepFailure).reasons.map((reason) => reason.rule);
  }
  throw new Error('expected a StepFailure');
}

describe('hosted operators: certificates in SQLite and the credentials built from them', () => {
  let dir: string;
  let db: Database.Database;
  let keystore: FileKeyStore;
  let ca: CertificateAuthority;
  let store: HostedOperatorsStore;
  let credentials: OperatorCredentials;
  const operatorId = randomUUID();

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-credentials-'));
    db = new Database(path.join(dir, 'processor.db'));
    keystore = FileKeyStore.open({ directory: path.join(dir, 'keys'), passphrase: 'credentials test passphrase' });
    ca = CertificateAuthority.loadOrCreate(keystore, { commonName: 'Sigillum Test CA', organisation: 'Sigillum', validityDays: 3650, now }).ca;
    store = new HostedOperatorsStore(db);
    credentials = new OperatorCredentials(store, keystore);
    const pair = keystore.getOrCreateKeyPair(operatorKeyName(operatorId, 'signing'), 'Ed25519');
    store.host(operatorId, now.toISOString(), [
      {
        purpose: 'signing',
        keyName: operatorKeyName(operatorId, 'signing'),
        algorithm: 'Ed25519',
        publicKeyPem: pair.publicKeyPem,
        fingerprint: pair.fingerprint,
      },
    ]);
  });
  afterAll(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function certificate(issuedAt: Date, validityDays = 365): KnownCertificate {
    const pair = keystore.getOrCreateKeyPair(operatorKeyName(operatorId, 'signing'), 'Ed25519');
    const issued = ca.issue({
      subject: { commonName: 'Op', organisationalUnit: operatorId },
      publicKeyPem: pair.publicKeyPem,
      profile: 'signing',
      validityDays,
      now: issuedAt,
    });
    return {
      certificateId: randomUUID(),
      operatorId,
      purpose: 'signing',
      keyId: randomUUID(),
      keyFingerprint: pair.fingerprint,
      ...issued,
      issuedAt: issuedAt.toISOString(),
    };
  }

  it('says why it cannot sign: no certificate, an unknown CA, a TSA key it does not host', () => {
    expect(rulesOf(() => credentials.signer(operatorId, now))).toEqual(['certificate.missing']);
    expect(rulesOf(() => credentials.tsa(operatorId, now))).toEqual(['certificate.missing']);
    const first = certificate(now);
    expect(store.recordCertificate(first)).toBe(true);
    expect(store.recordCertificate(first)).toBe(false); // redelivered
    expect(rulesOf(() => credentials.signer(operatorId, now))).toEqual(['certificate.untrusted']);
    expect(credentials.trustedCaPems()).toEqual([]);
  });

  it('signs once the CA is known; a later certificate replaces an earlier one; a revoked latest leaves none', () => {
    expect(store.recordTrustAnchor({ caId: ca.caId, certificatePem: ca.caCertificatePem, fingerprint: ca.fingerprint, establishedAt: now.toISOString() })).toBe(
      true,
    );
    expect(credentials.trustedCaPems()).toEqual([ca.caCertificatePem]);
    const current = store.currentCertificate(operatorId, 'signing')!;
    expect(credentials.signer(operatorId, now)).toMatchObject({ keyId: current.keyId, certificateFingerprint: current.fingerprint });
    expect(credentials.signer(operatorId, now)).toBe(credentials.signer(operatorId, now)); // built once

    const later = certificate(new Date(now.getTime() + 60_000));
    const earlier = certificate(new Date(now.getTime() - 60_000)); // arrives last, issued first: does not replace
    store.recordCertificate(later);
    store.recordCertificate(earlier);
    expect(store.currentCertificate(operatorId, 'signing')?.certificateId).toBe(later.certificateId);
    expect(credentials.signer(operatorId, new Date(now.getTime() + 120_000)).keyId).toBe(later.keyId);

    expect(store.revokeCertificate(earlier.certificateId, now.toISOString())).toBe(true);
    expect(store.currentCertificate(operatorId, 'signing')?.certificateId).toBe(later.certificateId);
    expect(store.revokeCertificate(later.certificateId, now.toISOString())).toBe(true);
    expect(store.revokeCertificate(later.certificateId, now.toISOString())).toBe(false);
    expect(store.revokeCertificate(randomUUID(), now.toISOString())).toBe(false); // someone else's
    expect(store.currentCertificate(operatorId, 'signing')).toBeUndefined();
    expect(rulesOf(() => credentials.signer(operatorId, now))).toEqual(['certificate.missing']);
  });

  it('refuses a certificate outside its validity', () => {
    store.recordCertificate(certificate(new Date(now.getTime() + 3_600_000), 1));
    expect(rulesOf(() => credentials.signer(operatorId, now))).toEqual(['certificate.expired']); // not yet valid
    expect(rulesOf(() => credentials.signer(operatorId, new Date(now.getTime() + 3 * 86_400_000)))).toEqual(['certificate.expired']);
    expect(() => credentials.signer(operatorId, new Date(now.getTime() + 7_200_000))).not.toThrow();
  });

  it('keeps everything in SQLite: a new store on the same file knows the operator, its certificate and the CA', () => {
    const reopened = new HostedOperatorsStore(db);
    expect(reopened.isHosted(operatorId)).toBe(true);
    expect(reopened.isHosted(randomUUID())).toBe(false);
    expect(reopened.operator(operatorId)?.keys.map((key) => key.purpose)).toEqual(['signing']);
    expect(reopened.currentCertificate(operatorId, 'signing')).toEqual(store.currentCertificate(operatorId, 'signing'));
    expect(reopened.trustAnchors().map((anchor) => anchor.caId)).toEqual([ca.caId]);
  });

  it('a key the keystore lost and made anew replaces the hosted one: certificates of the old key no longer count', () => {
    expect(store.currentCertificate(operatorId, 'signing')).toBeDefined();
    fs.renameSync(keystore.keyFile(operatorKeyName(operatorId, 'signing')), path.join(dir, 'lost.key.pem'));
    const fresh = FileKeyStore.open({ directory: path.join(dir, 'keys'), passphrase: 'credentials test passphrase' });
    const pair = fresh.getOrCreateKeyPair(operatorKeyName(operatorId, 'signing'), 'Ed25519');
    const revision = store.revision;
    expect(
      store.host(operatorId, now.toISOString(), [
        {
          purpose: 'signing',
          keyName: operatorKeyName(operatorId, 'signing'),
          algorithm: 'Ed25519',
          publicKeyPem: pair.publicKeyPem,
          fingerprint: pair.fingerprint,
        },
      ]),
    ).toBe(false);
    expect(store.revision).toBeGreaterThan(revision);
    expect(store.operator(operatorId)?.keys[0].fingerprint).toBe(pair.fingerprint);
    expect(store.currentCertificate(operatorId, 'signing')).toBeUndefined();
    expect(store.keyByFingerprint(pair.fingerprint)).toMatchObject({ operatorId, purpose: 'signing' });
  });
});
