import { createPublicKey } from 'node:crypto';
import type { Provider } from '@nestjs/common';
import { type FileKeyStore, signJws, signJwsAsync, type SignJwsOptions, type StoredKeyPair, verifyJws, type VerifiedJws } from '@sigillum/crypto';
import { KEY_STORE } from '@sigillum/runtime';

/** The domicile's signer of validation proofs. */
export const DOMICILE_SIGNER = Symbol('DOMICILE_SIGNER');

/** Name of the domicile's Ed25519 key pair in the keystore (created at first start, kept encrypted). */
export const DOMICILE_SIGNING_KEY = 'domicile-signing';

/** The JOSE `typ` of a validation proof, so that a proof cannot be mistaken for another signed object. */
export const VALIDATION_PROOF_TYP = 'sigillum-validation+jws';

/** The domicile's public key as `GET /domicile/keys` publishes it: PEM and JWK (RFC 8037 OKP). */
export interface PublishedKey {
  readonly kid: string;
  readonly alg: 'EdDSA';
  readonly use: 'sig';
  readonly publicKeyPem: string;
  readonly jwk: { readonly kty: 'OKP'; readonly crv: 'Ed25519'; readonly x: string; readonly kid: string; readonly alg: 'EdDSA'; readonly use: 'sig' };
}

/**
 * Signs what the domicile vouches for — the sender's validation of a specimen — with an Ed25519 key (node:crypto).
 * The JWS carries `kid` = SHA-256 of the key's SPKI DER (hex), no certificate: anyone checks a proof against the
 * key `GET /domicile/keys` publishes under that `kid`.
 */
export class DomicileSigner {
  readonly published: PublishedKey;

  constructor(private readonly key: StoredKeyPair) {
    const x = createPublicKey(key.publicKeyPem).export({ format: 'jwk' }).x as string;
    this.published = {
      kid: key.fingerprint,
      alg: 'EdDSA',
      use: 'sig',
      publicKeyPem: key.publicKeyPem,
      jwk: { kty: 'OKP', crv: 'Ed25519', x, kid: key.fingerprint, alg: 'EdDSA', use: 'sig' },
    };
  }

  get keyId(): string {
    return this.key.fingerprint;
  }

  /** Compact JWS (EdDSA) over canonicalize(payload). */
  sign(payload: unknown, typ = VALIDATION_PROOF_TYP): string {
    return signJws(payload, this.options(typ));
  }

  /** sign, with the Ed25519 signature made on libuv's threadpool, off the event loop (signJwsAsync): the same JWS. */
  signAsync(payload: unknown, typ = VALIDATION_PROOF_TYP): Promise<string> {
    return signJwsAsync(payload, this.options(typ));
  }

  private options(typ: string): SignJwsOptions {
    return { privateKey: this.key.privateKey, alg: 'EdDSA', kid: this.key.fingerprint, typ };
  }

  /** Checks a proof against this domicile's key; throws JwsError (with a stable `code`) when it does not verify. */
  verify(compact: string): VerifiedJws {
    return verifyJws(compact, { publicKey: this.key.publicKeyPem, expectedAlg: 'EdDSA' });
  }
}

export function loadDomicileSigner(keystore: FileKeyStore): DomicileSigner {
  return new DomicileSigner(keystore.getOrCreateKeyPair(DOMICILE_SIGNING_KEY, 'Ed25519'));
}

export const domicileSignerProvider: Provider = {
  provide: DOMICILE_SIGNER,
  useFactory: (keystore: FileKeyStore) => loadDomicileSigner(keystore),
  inject: [KEY_STORE],
};
