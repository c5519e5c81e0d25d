import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CertificationToken, ChainStarted } from '@sigillum/contracts';
import { CertificateAuthority, FileKeyStore, generateKeyPair, type GeneratedKeyPair, type IssuedCertificate } from '@sigillum/crypto';
import type { TsaCredentials } from './operators/operator-credentials';
import { OperatorSigner } from './operators/operator-signer';

/** For the processor's tests: a real CA (libs/crypto) in a temporary keystore, and an operator certified by it. */
export interface TestPki {
  readonly dir: string;
  readonly keystore: FileKeyStore;
  readonly ca: CertificateAuthority;
  readonly signingKey: GeneratedKeyPair;
  readonly signingCertificate: IssuedCertificate;
  readonly signer: OperatorSigner;
  readonly tsaKey: GeneratedKeyPair;
  readonly tsaCertificate: IssuedCertificate;
  readonly tsa: TsaCredentials;
  cleanup(): void;
}

export const TEST_NOW = new Date('2026-11-25T08:00:00.000Z');
export const OPERATOR_ID = '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d';
export const SENDER_ID = 'b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e';
export const RECIPIENT_IDS = ['c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f', 'd1e2f3a4-b5c6-4d7e-8f9a-0b1c2d3e4f5a'] as const;
export const SIGNING_KEY_ID = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';

export function createTestPki(now = TEST_NOW): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-processor-'));
  const keystore = FileKeyStore.open({ directory: path.join(dir, 'keys'), passphrase: 'processor test passphrase' });
  const ca = CertificateAuthority.loadOrCreate(keystore, { commonName: 'Sigillum Test CA', organisation: 'Sigillum', validityDays: 3650, now }).ca;
  const subject = { commonName: 'Hermes Processing', organisationalUnit: OPERATOR_ID };
  const signingKey = generateKeyPair('Ed25519');
  const signingCertificate = ca.issue({ subject, publicKeyPem: signingKey.publicKeyPem, profile: 'signing', validityDays: 365, now });
  const tsaKey = generateKeyPair('RSA');
  const tsaCertificate = ca.issue({ subject, publicKeyPem: tsaKey.publicKeyPem, profile: 'tsa', validityDays: 365, now });
  const notBefore = Date.parse(tsaCertificate.notBefore);
  return {
    dir,
    keystore,
    ca,
    signingKey,
    signingCertificate,
    signer: new OperatorSigner(signingKey.privateKey, signingCertificate.certificatePem, ca.caCertificatePem, SIGNING_KEY_ID),
    tsaKey,
    tsaCertificate,
    tsa: {
      privateKey: tsaKey.privateKey,
      certificatePem: tsaCertificate.certificatePem,
      caCertificatePem: ca.caCertificatePem,
      notBefore,
      notAfter: Date.parse(tsaCertificate.notAfter) + 999,
    },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export function testToken(overrides: Partial<CertificationToken> = {}): CertificationToken {
  return {
    tokenId: '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a',
    correspondenceId: '1a2b3c4d-5e6f-4a1b-9c2d-3e4f5a6b7c8d',
    stepIndex: 0,
    step: 'seal',
    attempt: 1,
    operatorId: OPERATOR_ID,
    specificationVersion: 1,
    inputDigest: 'a3f1c0c8e6b1d4c559d7e2f6f0f4a9b10a3f1c0c8e6b1d4c559d7e2f6f0f4a9b',
    parameters: {},
    issuedAt: TEST_NOW.toISOString(),
    acknowledgeBy: new Date(TEST_NOW.getTime() + 60_000).toISOString(),
    returnBy: new Date(TEST_NOW.getTime() + 300_000).toISOString(),
    ...overrides,
  };
}

/** ChainStarted data of the test token's correspondence. */
export const chainOf = (overrides: Partial<ChainStarted['data']> = {}): ChainStarted['data'] => ({
  correspondenceId: testToken().correspondenceId,
  senderId: SENDER_ID,
  recipientIds: [...RECIPIENT_IDS],
  kind: 'registered',
  requiredLevel: 'substantial',
  consignment: 'basic',
  checkId: 'check-1',
  policyId: 'eidas-default@1',
  steps: [],
  specimenDigest: 'f'.repeat(64),
  submittedAt: TEST_NOW.toISOString(),
  startedAt: TEST_NOW.toISOString(),
  ...overrides,
});
