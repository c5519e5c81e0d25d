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
  return { step: 'seal', sealJws: signer.sign(sealPayloadOf(token, sealedAt)), certificateFingerprint: signer.certificateFingerprint };
}

/** performSeal with the Ed25519 signature made off the event loop (OperatorSigner.signAsync): the same output. */
export async function performSealAsync(token: CertificationToken, signer: OperatorSigner, sealedAt: Date): Promise<SealOutput> {
  return { step: 'seal', sealJws: await signer.signAsync(sealPayloadOf(token, sealedAt)), certificateFingerprint: signer.certificateFingerprint };
}

function sealPayloadOf(token: CertificationToken, sealedAt: Date): SealPayload {
  return { correspondenceId: token.correspondenceId, inputDigest: token.inputDigest, sealedAt: sealedAt.toISOString() };
}
