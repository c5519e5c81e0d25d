import { randomBytes } from 'node:crypto';
import type { Provider } from '@nestjs/common';
import { CLOCK, type Clock } from '@sigillum/contracts';
import {
  type CertificateAuthority,
  createTimeStampToken,
  createTimeStampTokenAsync,
  type FileKeyStore,
  sha256Imprint,
  type StoredKeyPair,
  type TimeStampTokenOptions,
} from '@sigillum/crypto';
import { KEY_STORE } from '@sigillum/runtime';
import { CERTIFICATION_AUTHORITY } from '../certificates/certification-authority.provider';
import { loadCertifiedKey } from '../signing/certified-key';
import { EVIDENCE_LOG_CONFIG, type EvidenceLogConfig } from './evidence-log.config';

/** The certifier's own time-stamping unit, for the evidence log's checkpoints. */
export const EVIDENCE_LOG_TSA = Symbol('EVIDENCE_LOG_TSA');

const KEY_NAME = 'evidence-log-tsa';
const CERTIFICATE_ARTIFACT = 'evidence-log-tsa-certificate';
const VALIDITY_DAYS = 825;

/**
 * An RFC 3161 TSA of the certifier: an RSA key (key store, created at first start) with a `tsa` certificate
 * (extendedKeyUsage timeStamping, critical) of the certifier's own CA. Its tokens carry the TSA and CA certificates,
 * so `openssl ts -verify -CAfile <GET /ca/certificate>` checks them.
 */
export class EvidenceLogTsa {
  constructor(
    private readonly key: StoredKeyPair,
    readonly certificatePem: string,
    readonly caCertificatePem: string,
    readonly policyOid: string,
  ) {}

  /** A TimeStampToken (DER) over SHA-256(data) at `genTime`. */
  timeStamp(data: Buffer, genTime: Date): Buffer {
    return createTimeStampToken(this.order(data, genTime));
  }

  /** timeStamp with the RSA signature made on libuv's threadpool, off the event loop (createTimeStampTokenAsync). */
  timeStampAsync(data: Buffer, genTime: Date): Promise<Buffer> {
    return createTimeStampTokenAsync(this.order(data, genTime));
  }

  private order(data: Buffer, genTime: Date): TimeStampTokenOptions {
    return {
      messageImprint: sha256Imprint(data),
      policyOid: this.policyOid,
      serialNumber: BigInt(`0x${randomBytes(16).toString('hex')}`),
      genTime,
      tsa: { certificatePem: this.certificatePem, privateKey: this.key.privateKey, chainPems: [this.caCertificatePem] },
    };
  }
}

/** Loads the TSA key and its certificate; a missing, expired or mismatched certificate is issued again by the CA. */
export function loadEvidenceLogTsa(keystore: FileKeyStore, ca: CertificateAuthority, clock: Clock, config: EvidenceLogConfig): EvidenceLogTsa {
  // RSA, as the processor's operators' TSAs: OpenSSL 3.0 cannot verify Ed25519 CMS signatures (`openssl ts -verify`).
  const { key, certificatePem } = loadCertifiedKey(keystore, ca, clock, {
    keyName: KEY_NAME,
    algorithm: 'RSA',
    certificateArtifact: CERTIFICATE_ARTIFACT,
    commonName: 'Sigillum evidence log TSA',
    profile: 'tsa',
    validityDays: VALIDITY_DAYS,
  });
  return new EvidenceLogTsa(key, certificatePem, ca.caCertificatePem, config.tsaPolicyOid);
}

export const evidenceLogTsaProvider: Provider = {
  provide: EVIDENCE_LOG_TSA,
  useFactory: (keystore: FileKeyStore, ca: CertificateAuthority, clock: Clock, config: EvidenceLogConfig) => loadEvidenceLogTsa(keystore, ca, clock, config),
  inject: [KEY_STORE, CERTIFICATION_AUTHORITY, CLOCK, EVIDENCE_LOG_CONFIG],
};
