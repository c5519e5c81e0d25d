import {
  CHAIN_CATEGORY,
  type ChainEvent,
  CORRESPONDENCE_CATEGORY,
  type CorrespondenceEvent,
  EVENT_CATALOGUE,
  readEvent,
  ShapeError,
  type TokenAcknowledged,
  type TokenReturned,
  type TrustCheckAnswered,
} from '@sigillum/contracts';

/** The streams evidence is about: `correspondence-<id>` (domicile) and `chain-<id>` (certifier). */
export const SOURCE_CATEGORIES = [CORRESPONDENCE_CATEGORY, CHAIN_CATEGORY] as const;
export type SourceCategory = (typeof SOURCE_CATEGORIES)[number];

export type SourceDomainEvent = CorrespondenceEvent | ChainEvent;

/** A fact of the correspondence or its chain, as recorded in the log. */
export interface SourceEvent {
  readonly eventId: string;
  readonly category: SourceCategory;
  readonly event: SourceDomainEvent;
}

/** What the operator recorded in `job-<tokenId>`: its signed acknowledgement and return. */
export interface JobFacts {
  readonly acknowledged?: TokenAcknowledged['data'];
  readonly returned?: TokenReturned['data'];
}

/** Facts from other streams the evidence quotes: the delivery gate's trust checks and the operators' jobs. */
export interface EvidenceContext {
  /** `trustcheck-<checkId>` answers, by check id. */
  readonly trustChecks: Readonly<Record<string, TrustCheckAnswered['data']>>;
  /** `job-<tokenId>` facts, by token id. */
  readonly jobs: Readonly<Record<string, JobFacts>>;
}

export const EMPTY_CONTEXT: EvidenceContext = { trustChecks: {}, jobs: {} };

/** Correspondence id of a source event (the chain's StepTokenIssued names it inside its token). */
export function correspondenceIdOf(event: SourceDomainEvent): string {
  return event.type === 'StepTokenIssued' ? event.data.token.correspondenceId : event.data.correspondenceId;
}

//////// Shape checks: evidence is built only from events with the documented shape (the contracts readers)

/** Whether `type` is an event of `category` the contracts document (EVENT_CATALOGUE). */
export function isSourceEventType(category: SourceCategory, type: string): type is SourceDomainEvent['type'] {
  return (EVENT_CATALOGUE[category] as readonly string[]).includes(type);
}

/**
 * Checks a correspondence or chain event against its contract (the typed readers of libs/contracts) and returns it
 * typed; null for an event of the catalogue that has no reader (added after this code: it gives no evidence).
 * Throws ShapeError naming the first field that does not fit, or for a type the catalogue does not have.
 */
export function checkSourceEvent(category: SourceCategory, type: string, version: number, data: unknown): SourceDomainEvent | null {
  if (!isSourceEventType(category, type)) throw new ShapeError(`${type} is not an event of the ${category} streams`);
  return readEvent(category, type, version, data);
}
