import { createHash } from 'node:crypto';
import type { ContentPartRef, CorrespondenceKind, DraftContent, TrustLevel } from '@sigillum/contracts';
import { canonicalize } from '@sigillum/crypto';

/** What the sender is shown and validates: the draft exactly as it would be sent. */
export interface Specimen {
  readonly draftId: string;
  readonly senderId: string;
  readonly recipientIds: readonly string[];
  readonly subject: string;
  readonly kind: string;
  readonly requiredLevel: TrustLevel;
  readonly consignment: 'basic' | 'consent';
  readonly parts: readonly ContentPartRef[];
}

export interface ShownSpecimen {
  readonly specimen: Specimen;
  /** RFC 8785 canonical JSON of the specimen: the exact bytes whose SHA-256 is the digest. */
  readonly canonical: string;
  /** SHA-256 of `canonical` (UTF-8), lowercase hex. */
  readonly digest: string;
}

export const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * The specimen of a draft's content under a kind's current configuration. Deterministic: the same draft and kind
 * always give the same canonical JSON and digest, so the digest shown, validated and sent can be compared.
 */
export function specimenOf(
  draftId: string,
  senderId: string,
  content: DraftContent,
  kind: Pick<CorrespondenceKind, 'requiredLevel' | 'consignment'>,
): ShownSpecimen {
  const specimen: Specimen = {
    draftId,
    senderId,
    recipientIds: [...content.recipientIds],
    subject: content.subject,
    kind: content.kind,
    requiredLevel: kind.requiredLevel,
    consignment: kind.consignment,
    parts: content.parts.map((part) => ({ digest: part.digest, size: part.size, contentType: part.contentType, name: part.name })),
  };
  const canonical = canonicalize(specimen);
  return { specimen, canonical, digest: sha256Hex(canonical) };
}
