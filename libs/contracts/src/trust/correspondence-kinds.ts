import type { TrustLevel } from './levels';

/** A processing step a processing operator can perform (its specification lists those it offers). */
export const PROCESSING_STEPS = ['seal', 'timestamp', 'deliver', 'archive', 'print-and-post'] as const;
export type ProcessingStep = (typeof PROCESSING_STEPS)[number];

/**
 * A kind of correspondence: the level it requires, how it is handed over, and its processing chain.
 * Kinds are configuration; these are the defaults.
 */
export interface CorrespondenceKind {
  readonly name: string;
  readonly requiredLevel: TrustLevel;
  /** `consent`: no content is handed over before the recipient accepts. */
  readonly consignment: 'basic' | 'consent';
  readonly chain: readonly ProcessingStep[];
}

export const DEFAULT_CORRESPONDENCE_KINDS: readonly CorrespondenceKind[] = [
  { name: 'simple', requiredLevel: 'low', consignment: 'basic', chain: ['deliver'] },
  { name: 'registered', requiredLevel: 'substantial', consignment: 'basic', chain: ['seal', 'timestamp', 'deliver', 'archive'] },
  { name: 'registered-ack', requiredLevel: 'high', consignment: 'consent', chain: ['seal', 'timestamp', 'deliver', 'archive'] },
  { name: 'hybrid', requiredLevel: 'substantial', consignment: 'basic', chain: ['seal', 'timestamp', 'print-and-post', 'archive'] },
];
