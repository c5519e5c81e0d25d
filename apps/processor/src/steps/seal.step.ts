import type { CertificationToken } from '@sigillum/contracts';
import type { OperatorSigner } from '../operators/operator-signer';
import type { SealOutput } from './step-outputs';

/** What a seal signs: the correspondence, the digest it received, and when. */
export interface SealPayload {
  readonly correspondenceId: string;
  readonly inputDigest: string;
  readonly sealedAt: string;
}

/**
 * `seal`: the operator's certified Ed25519 key signs the input digest. The seal is a compact JWS (EdDSA,
 * `x5t#S256` naming the operator certificate) over the canonical `{ correspondenceId, inputDigest, sealedAt }`: anyone
 * holding the CA certificate and that certificate (the certifier's, an evidence export's `certificates`) checks it offline.
 */
export function performSeal(token: CertificationToken, signer: OperatorSigner, sealedAt: Date): SealOutput {
  const payload: SealPayload = { correspondenceId: token.correspondenceId, inputDigest: token.inputDigest, sealedAt: sealedAt.toISOString() };
  return { step: 'seal', sealJws: signer.sign(payload), certificateFingerprint: signer.certificateFingerprint };
}
