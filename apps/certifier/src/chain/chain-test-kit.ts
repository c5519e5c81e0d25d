import { createHash, type KeyObject } from 'node:crypto';
import type { CertificationToken, StepOutput, StepParameters, StepReport, TokenAcknowledged, TokenReturned } from '@sigillum/contracts';
import { createTimeStampToken, sha256Imprint, signJws, signJwsDetached } from '@sigillum/crypto';
import { acknowledgementPayload, digestOf } from './compliance';

/**
 * Test-only: what an honest processing operator does with a certification token, built independently of the
 * certifier's checks (keys, certificates and signatures as a processor would make them). Tests forge bad returns
 * by changing one thing in what these return.
 */

const base64DerOf = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

export interface OperatorCredentials {
  readonly operatorId: string;
  /** The directory's id of the operator's Ed25519 signature key. */
  readonly keyId: string;
  readonly privateKey: KeyObject;
  /** The key's certificate from the certifier CA, PEM. */
  readonly certificatePem: string;
  readonly caCertificatePem: string;
  /** A TSA certificate from the certifier CA and its key, for the timestamp step. */
  readonly tsa?: { readonly certificatePem: string; readonly privateKey: KeyObject };
  /** How the operator's JWS name its certificate: carried (`x5c`, a partner's way; the default) or by `x5t#S256` (Sigillum's processor). */
  readonly namesCertificateBy?: 'x5c' | 'x5t#S256';
}

export const x5cOf = (credentials: Pick<OperatorCredentials, 'certificatePem' | 'caCertificatePem'>): string[] => [
  base64DerOf(credentials.certificatePem),
  base64DerOf(credentials.caCertificatePem),
];

/** The signing options naming the operator's certificate as `credentials` say. */
const certificateOptions = (credentials: OperatorCredentials) =>
  credentials.namesCertificateBy === 'x5t#S256' ? { x5tCertificatePem: credentials.certificatePem } : { x5c: x5cOf(credentials) };

export function acknowledge(token: CertificationToken, credentials: OperatorCredentials, acknowledgedAt: string): TokenAcknowledged['data'] {
  const payload = acknowledgementPayload(token, acknowledgedAt);
  return {
    tokenId: token.tokenId,
    correspondenceId: token.correspondenceId,
    stepIndex: token.stepIndex,
    operatorId: token.operatorId,
    tokenDigest: payload.tokenDigest,
    acknowledgedAt,
    keyId: credentials.keyId,
    signature: signJwsDetached(payload, {
      privateKey: credentials.privateKey,
      alg: 'EdDSA',
      ...(credentials.namesCertificateBy === 'x5t#S256' ? certificateOptions(credentials) : {}),
      kid: credentials.keyId,
    }),
  };
}

/** The step's real output: a seal JWS, an RFC 3161 token over the input digest's bytes, a delivery, an archive, a print job. */
export function outputFor(token: CertificationToken, credentials: OperatorCredentials, recipientIds: readonly string[], at: Date): StepOutput {
  switch (token.step) {
    case 'seal':
      return {
        step: 'seal',
        sealJws: signJws(
          { correspondenceId: token.correspondenceId, inputDigest: token.inputDigest, sealedAt: at.toISOString() },
          { privateKey: credentials.privateKey, alg: 'EdDSA', ...certificateOptions(credentials), kid: credentials.keyId },
        ),
        certificateFingerprint: createHash('sha256')
          .update(Buffer.from(base64DerOf(credentials.certificatePem), 'base64'))
          .digest('hex'),
      };
    case 'timestamp': {
      if (!credentials.tsa) throw new Error('The timestamp step needs TSA credentials');
      const serialNumber = BigInt(`0x${token.tokenId.replace(/-/g, '').slice(0, 16)}`);
      const timeStampToken = createTimeStampToken({
        messageImprint: sha256Imprint(Buffer.from(token.inputDigest, 'hex')),
        policyOid: '1.3.6.1.4.1.57264.1.1',
        serialNumber,
        genTime: at,
        tsa: { ...credentials.tsa, chainPems: [credentials.caCertificatePem] },
      });
      return { step: 'timestamp', timeStampToken: timeStampToken.toString('base64'), genTime: at.toISOString(), serialNumber: serialNumber.toString() };
    }
    case 'deliver':
      return { step: 'deliver', recipientIds: [...recipientIds], deliveredAt: at.toISOString() };
    case 'archive':
      return {
        step: 'archive',
        packageDigest: digestOf({ archived: token.inputDigest }),
        safes: [{ ownerId: token.operatorId, retainUntil: new Date(at.getTime() + 10 * 365 * 86_400_000).toISOString() }],
        location: `archive://${token.correspondenceId}`,
      };
    case 'print-and-post':
      return {
        step: 'print-and-post',
        printJobId: token.tokenId,
        addressBlock: ['Recipient', '1 Main Street'],
        contentDigest: token.inputDigest,
        location: `print://${token.tokenId}`,
      };
  }
}

export function reportOf(
  token: CertificationToken,
  output: StepOutput,
  times: { startedAt: string; finishedAt: string },
  parameters: StepParameters = token.parameters,
): StepReport {
  return { tokenId: token.tokenId, step: token.step, inputDigest: token.inputDigest, outputDigest: digestOf(output), parameters, ...times, output };
}

export function returnWith(token: CertificationToken, report: StepReport, credentials: OperatorCredentials, returnedAt: string): TokenReturned['data'] {
  return {
    tokenId: token.tokenId,
    correspondenceId: token.correspondenceId,
    stepIndex: token.stepIndex,
    operatorId: token.operatorId,
    report,
    returnedAt,
    keyId: credentials.keyId,
    signature: signJwsDetached(report, { privateKey: credentials.privateKey, alg: 'EdDSA', ...certificateOptions(credentials), kid: credentials.keyId }),
  };
}

/** An acknowledgement and a return that comply, made `afterMs` after the token was issued. */
export function compliantReturn(
  token: CertificationToken,
  credentials: OperatorCredentials,
  recipientIds: readonly string[],
  afterMs = 1_000,
): { acknowledgement: TokenAcknowledged['data']; returned: TokenReturned['data'] } {
  const issuedAt = Date.parse(token.issuedAt);
  const at = (ms: number) => new Date(issuedAt + ms);
  const acknowledgement = acknowledge(token, credentials, at(afterMs / 4).toISOString());
  const output = outputFor(token, credentials, recipientIds, at(afterMs / 2));
  const report = reportOf(token, output, { startedAt: at(afterMs / 4).toISOString(), finishedAt: at((3 * afterMs) / 4).toISOString() });
  return { acknowledgement, returned: returnWith(token, report, credentials, at(afterMs).toISOString()) };
}
