import { createHash, createPublicKey } from 'node:crypto';

/** What node:crypto makes of a submitted PEM: the facts the decider judges, never the PEM's private parts. */
export type PublicKeyInspection =
  | {
      readonly ok: true;
      /** node:crypto's `asymmetricKeyType`: `ed25519`, `rsa`, `x25519`, `ec`, … */
      readonly keyType: string;
      /** RSA modulus length in bits; absent for other key types. */
      readonly modulusLength?: number;
      /** SHA-256 of the SPKI DER, hex. */
      readonly fingerprint: string;
      /** The key re-exported as SPKI PEM (canonical form). */
      readonly spkiPem: string;
    }
  | { readonly ok: false; readonly rule: 'key.unparsable' | 'key.not-public'; readonly message: string };

/**
 * Parses a public key PEM (SPKI `PUBLIC KEY`, or PKCS#1 `RSA PUBLIC KEY`). A private key or a certificate
 * is refused: node:crypto would happily derive the public key from it, but a private key must never
 * reach the directory (and is not echoed in the refusal).
 */
export function inspectPublicKey(pem: string): PublicKeyInspection {
  const text = pem.trim();
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    return { ok: false, rule: 'key.not-public', message: 'a private key was submitted; send only the public key (SPKI PEM "PUBLIC KEY")' };
  }
  if (!/^-----BEGIN (RSA )?PUBLIC KEY-----[\s\S]+-----END (RSA )?PUBLIC KEY-----$/.test(text)) {
    return { ok: false, rule: 'key.unparsable', message: 'publicKeyPem must be one PEM block "-----BEGIN PUBLIC KEY-----"' };
  }
  try {
    const key = createPublicKey({ key: text, format: 'pem' });
    const der = key.export({ type: 'spki', format: 'der' });
    return {
      ok: true,
      keyType: key.asymmetricKeyType ?? 'unknown',
      modulusLength: key.asymmetricKeyType === 'rsa' ? key.asymmetricKeyDetails?.modulusLength : undefined,
      fingerprint: createHash('sha256').update(der).digest('hex'),
      spkiPem: key.export({ type: 'spki', format: 'pem' }).toString(),
    };
  } catch {
    return { ok: false, rule: 'key.unparsable', message: 'publicKeyPem is not a public key node:crypto can read' };
  }
}
