import { createHash } from 'node:crypto';
import type { Provider } from '@nestjs/common';
import { CLOCK, type Clock, ID_GENERATOR, type IdGenerator } from '@sigillum/contracts';
import {
  type CertificateAuthority,
  type FileKeyStore,
  signJws,
  signJwsAsync,
  signJwsDetached,
  signJwsDetachedAsync,
  type SignJwsOptions,
  type StoredKeyPair,
  verifyJws,
  verifyJwsDetached,
  type VerifiedJws,
} from '@sigillum/crypto';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { KEY_STORE } from '@sigillum/runtime';
import { CERTIFICATION_AUTHORITY } from '../certificates/certification-authority.provider';
import { loadCertifiedKey } from './certified-key';
import { recordSigningCertificate } from './signing-certificate-record';

/** The certifier's signer of certification tokens and evidence. */
export const CERTIFIER_SIGNER = Symbol('CERTIFIER_SIGNER');

const KEY_NAME = 'certifier-signing';
const CERTIFICATE_ARTIFACT = 'certifier-signing-certificate';
const VALIDITY_DAYS = 825;

const pemToBase64Der = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

/**
 * Signs what the certifier vouches for — certification tokens, evidence — with an Ed25519 key (node:crypto, fast)
 * whose certificate the certifier's own CA issued and recorded (CertifierSigningCertificateIssued on `ca-<caId>`). A JWS
 * carries `x5c` = [signing certificate, CA certificate], so anyone holding the CA certificate verifies it offline (any
 * JWS library, `openssl verify` for the chain), or names the certificate by `x5t#S256` for verifiers that learn it
 * from the log (the processor) or from an evidence bundle.
 */
export class CertifierSigner {
  readonly x5c: readonly string[];
  readonly certificatePem: string;
  readonly caCertificatePem: string;
  /** SHA-256 of the certificate's DER, hex (CertifierSigningCertificateIssued's `fingerprint`). */
  readonly certificateFingerprint: string;

  constructor(
    private readonly key: StoredKeyPair,
    certificatePem: string,
    caCertificatePem: string,
  ) {
    this.certificatePem = certificatePem;
    this.caCertificatePem = caCertificatePem;
    this.x5c = [pemToBase64Der(certificatePem), pemToBase64Der(caCertificatePem)];
    this.certificateFingerprint = createHash('sha256').update(Buffer.from(this.x5c[0], 'base64')).digest('hex');
  }

  /** SHA-256 of the signing key's SPKI DER, hex: the `kid` of every signature. */
  get keyId(): string {
    return this.key.fingerprint;
  }

  /** Compact JWS over canonicalize(payload). */
  sign(payload: unknown, typ = 'JOSE'): string {
    return signJws(payload, this.carrying(typ));
  }

  /** Compact JWS over canonicalize(payload) naming the certificate by `x5t#S256` instead of carrying `x5c`. */
  signByReference(payload: unknown, typ = 'JOSE'): string {
    return signJws(payload, this.naming(typ));
  }

  /** Detached compact JWS (`header..signature`) over canonicalize(payload). */
  signDetached(payload: unknown, typ = 'JOSE'): string {
    return signJwsDetached(payload, this.carrying(typ));
  }

  /** Detached compact JWS naming the certificate by `x5t#S256` instead of carrying `x5c`. */
  signDetachedByReference(payload: unknown, typ = 'JOSE'): string {
    return signJwsDetached(payload, this.naming(typ));
  }

  // The same four with the Ed25519 signature made on libuv's threadpool, off the event loop (signJwsAsync): the same JWS.

  signAsync(payload: unknown, typ = 'JOSE'): Promise<string> {
    return signJwsAsync(payload, this.carrying(typ));
  }

  signByReferenceAsync(payload: unknown, typ = 'JOSE'): Promise<string> {
    return signJwsAsync(payload, this.naming(typ));
  }

  signDetachedAsync(payload: unknown, typ = 'JOSE'): Promise<string> {
    return signJwsDetachedAsync(payload, this.carrying(typ));
  }

  signDetachedByReferenceAsync(payload: unknown, typ = 'JOSE'): Promise<string> {
    return signJwsDetachedAsync(payload, this.naming(typ));
  }

  /** Options of a JWS carrying `x5c` = [signing certificate, CA certificate]. */
  private carrying(typ: string): SignJwsOptions {
    return { privateKey: this.key.privateKey, alg: 'EdDSA', x5c: this.x5c, kid: this.key.fingerprint, typ };
  }

  /** Options of a JWS naming the signing certificate by `x5t#S256`. */
  private naming(typ: string): SignJwsOptions {
    return { privateKey: this.key.privateKey, alg: 'EdDSA', x5tCertificatePem: this.certificatePem, kid: this.key.fingerprint, typ };
  }

  verify(compact: string, at?: Date): VerifiedJws {
    return verifyJws(compact, { trustedCaPem: this.caCertificatePem, expectedAlg: 'EdDSA', at });
  }

  verifyDetached(compact: string, payload: unknown, at?: Date): VerifiedJws {
    return verifyJwsDetached(compact, payload, { trustedCaPem: this.caCertificatePem, expectedAlg: 'EdDSA', at });
  }
}

/**
 * Loads the signing key (created at first start, kept encrypted in the keystore) and its certificate; a missing,
 * expired or mismatched certificate is issued again by the CA.
 */
export function loadCertifierSigner(keystore: FileKeyStore, ca: CertificateAuthority, clock: Clock): CertifierSigner {
  const { key, certificatePem } = loadCertifiedKey(keystore, ca, clock, {
    keyName: KEY_NAME,
    algorithm: 'Ed25519',
    certificateArtifact: CERTIFICATE_ARTIFACT,
    commonName: 'Sigillum certifier signing',
    profile: 'signing',
    validityDays: VALIDITY_DAYS,
  });
  return new CertifierSigner(key, certificatePem, ca.caCertificatePem);
}

/** The signer, its certificate recorded on the CA's stream before anything is signed under it. */
export const certifierSignerProvider: Provider = {
  provide: CERTIFIER_SIGNER,
  useFactory: async (keystore: FileKeyStore, ca: CertificateAuthority, clock: Clock, store: EventStore, ids: IdGenerator) => {
    const signer = loadCertifierSigner(keystore, ca, clock);
    await recordSigningCertificate({ store, clock, ids }, ca, signer);
    return signer;
  },
  inject: [KEY_STORE, CERTIFICATION_AUTHORITY, CLOCK, EVENT_STORE, ID_GENERATOR],
};
