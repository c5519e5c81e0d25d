import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CA_CATEGORY, type Clock, readCertifierSigningCertificateIssued, streamIdOf } from '@sigillum/contracts';
import { FileKeyStore, verifyJwsDetached } from '@sigillum/crypto';
import { SqliteEventStore } from '@sigillum/eventstore';
import { uuidGenerator } from '@sigillum/runtime/ids';
import { establishCertificationAuthority } from '../certificates/certification-authority.provider';
import { DEFAULT_CERTIFICATES_OPTIONS } from '../certificates/certificates.options';
import { loadCertifierSigner } from './certifier-signer';
import { recordSigningCertificate } from './signing-certificate-record';

const DAY_MS = 86_400_000;

describe("the certifier's signing certificate on the CA's stream (real SQLite store, real keystore, openssl)", () => {
  let dir: string;
  let store: SqliteEventStore;
  let keystore: FileKeyStore;
  let now = new Date('2026-11-25T08:00:00.000Z');
  const clock: Clock = { now: () => now };

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-signing-certificate-'));
    store = new SqliteEventStore({ filename: path.join(dir, 'events.db') });
    keystore = FileKeyStore.open({ directory: path.join(dir, 'keys'), passphrase: 'integration passphrase' });
  });
  afterAll(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A start of the certifier: the CA established (or found), then the signer loaded and its certificate recorded. */
  async function start() {
    const deps = { keystore, store, clock, ids: uuidGenerator, options: DEFAULT_CERTIFICATES_OPTIONS };
    const ca = await establishCertificationAuthority(deps);
    const signer = loadCertifierSigner(keystore, ca, clock);
    const recorded = await recordSigningCertificate({ store, clock, ids: uuidGenerator }, ca, signer);
    const events = (await store.readStream(streamIdOf(CA_CATEGORY, ca.caId))).map(({ event }) => event);
    return { ca, signer, recorded, events };
  }

  it('records it at first start, once (a DATA_DIR whose CA predates the event gets it at its next start), and a rotated one beside it', async () => {
    // An older DATA_DIR: the CA and the signer exist, the CA's stream holds only CertificationAuthorityEstablished.
    const deps = { keystore, store, clock, ids: uuidGenerator, options: DEFAULT_CERTIFICATES_OPTIONS };
    const ca = await establishCertificationAuthority(deps);
    loadCertifierSigner(keystore, ca, clock);
    expect((await store.readStream(streamIdOf(CA_CATEGORY, ca.caId))).map(({ event }) => event.type)).toEqual(['CertificationAuthorityEstablished']);

    const first = await start();
    expect(first.recorded).toBe(true);
    expect(first.events.map((event) => event.type)).toEqual(['CertificationAuthorityEstablished', 'CertifierSigningCertificateIssued']);
    const data = readCertifierSigningCertificateIssued(first.events[1].data);
    expect(data).toMatchObject({
      caId: ca.caId,
      keyId: first.signer.keyId,
      certificatePem: first.signer.certificatePem,
      fingerprint: first.signer.certificateFingerprint,
    });
    expect(first.events[1].version).toBe(1);

    // Every later start: nothing new.
    const again = await start();
    expect(again.recorded).toBe(false);
    expect(again.events).toHaveLength(2);

    // The certificate expires: the next start issues another and records it beside the first (older tokens keep theirs).
    now = new Date(now.getTime() + 900 * DAY_MS);
    const rotated = await start();
    expect(rotated.recorded).toBe(true);
    expect(rotated.signer.certificateFingerprint).not.toBe(first.signer.certificateFingerprint);
    expect(rotated.events.map((event) => event.type)).toEqual([
      'CertificationAuthorityEstablished',
      'CertifierSigningCertificateIssued',
      'CertifierSigningCertificateIssued',
    ]);
  });

  it('is what a token naming x5t#S256 is verified with: openssl chains it to the CA, an independent check of the thumbprint agrees', async () => {
    const { ca, signer, events } = await start();
    const recorded = readCertifierSigningCertificateIssued(events[events.length - 1].data);
    const token = { tokenId: 't-1', step: 'seal' };
    const signature = signer.signDetachedByReference(token);
    const header = JSON.parse(Buffer.from(signature.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(header).toEqual({ alg: 'EdDSA', kid: signer.keyId, 'x5t#S256': Buffer.from(recorded.fingerprint, 'hex').toString('base64url'), typ: 'JOSE' });
    expect(signature.length).toBeLessThan(400);
    verifyJwsDetached(signature, token, { trustedCaPem: ca.caCertificatePem, certificates: recorded.certificatePem, expectedAlg: 'EdDSA', at: now });

    fs.writeFileSync(path.join(dir, 'ca.pem'), ca.caCertificatePem);
    fs.writeFileSync(path.join(dir, 'signer.pem'), recorded.certificatePem);
    const verify = spawnSync(
      '/usr/bin/openssl',
      ['verify', '-attime', String(Math.floor(now.getTime() / 1000)), '-CAfile', path.join(dir, 'ca.pem'), path.join(dir, 'signer.pem')],
      {
        encoding: 'utf8',
      },
    );
    expect(`${verify.stdout}${verify.stderr}`).toMatch(/signer\.pem: OK/);
    const der = spawnSync('/usr/bin/openssl', ['x509', '-in', path.join(dir, 'signer.pem'), '-outform', 'DER']).stdout;
    const digest = spawnSync('/usr/bin/openssl', ['dgst', '-sha256', '-hex'], { input: der, encoding: 'utf8' }).stdout;
    expect(digest).toContain(recorded.fingerprint);
  });
});
