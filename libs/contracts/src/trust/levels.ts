/**
 * Trust levels and the reasons attached to every refusal. Levels are an ordered scale held as data
 * (the level policy); the default is eIDAS `low < substantial < high`.
 */
export type TrustLevel = string;

export const DEFAULT_TRUST_LEVELS: readonly TrustLevel[] = ['low', 'substantial', 'high'];

/** Which side of a check a subject stands on. */
export type SubjectRole = 'user' | 'counterpart' | 'operator' | 'sender' | 'recipient';

/**
 * Why something was refused: which party (by id, never by private data), in which role, which rule.
 * `rule` is stable and machine-readable, e.g. `level.insufficient`, `attribute.expired`, `code.mismatch`.
 */
export interface Reason {
  readonly rule: string;
  readonly message: string;
  readonly partyId?: string;
  readonly subjectRole?: SubjectRole;
}

/** Rank of a level on a scale, -1 when the level is not on it. */
export function levelRank(scale: readonly TrustLevel[], level: TrustLevel | null | undefined): number {
  return level == null ? -1 : scale.indexOf(level);
}

/** True when `held` meets or exceeds `required` on `scale` (claim 1: "match or exceed"). */
export function meetsLevel(scale: readonly TrustLevel[], held: TrustLevel | null | undefined, required: TrustLevel): boolean {
  const heldRank = levelRank(scale, held);
  const requiredRank = levelRank(scale, required);
  return heldRank >= 0 && requiredRank >= 0 && heldRank >= requiredRank;
}
