import {
  CHAIN_CATEGORY,
  type ChainEvent,
  CORRESPONDENCE_CATEGORY,
  type CorrespondenceEvent,
  EVENT_CATALOGUE,
  PROCESSING_STEPS,
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

//////// Shape checks: evidence is built only from events with the documented shape

/** A source event whose data does not have the shape its contract documents. */
export class SourceShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceShapeError';
  }
}

type Data = Record<string, unknown>;
type Check = (value: unknown, path: string) => void;

const fail = (path: string, rule: string): never => {
  throw new SourceShapeError(`${path} must be ${rule}`);
};
const text: Check = (v, p) => (typeof v === 'string' && v.length > 0 && v.length <= 100_000 ? undefined : fail(p, 'a non-empty string'));
const time: Check = (v, p) => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? undefined : fail(p, 'an ISO-8601 time'));
const hex64: Check = (v, p) => (typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? undefined : fail(p, '64 lowercase hex digits (SHA-256)'));
const count: Check = (v, p) => (Number.isSafeInteger(v) && (v as number) >= 0 ? undefined : fail(p, 'an integer ≥ 0'));
const nullable =
  (check: Check): Check =>
  (v, p) =>
    v === null ? undefined : check(v, p);
const oneOf =
  (allowed: readonly string[]): Check =>
  (v, p) =>
    typeof v === 'string' && allowed.includes(v) ? undefined : fail(p, `one of ${allowed.join(', ')}`);
const object =
  (fields: Record<string, Check>): Check =>
  (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(p, 'an object');
    for (const [name, check] of Object.entries(fields)) check((v as Data)[name], `${p}.${name}`);
  };
const list =
  (item: Check, min = 0): Check =>
  (v, p) => {
    if (!Array.isArray(v) || v.length < min) return fail(p, min > 0 ? `an array of at least ${min}` : 'an array');
    v.forEach((entry, index) => item(entry, `${p}[${index}]`));
  };
const anyObject: Check = (v, p) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : fail(p, 'an object'));

const reason = object({ rule: text, message: text });
const reasons = list(reason);
const step = oneOf(PROCESSING_STEPS);
const consignment = oneOf(['basic', 'consent']);
const part = object({ digest: hex64, size: count, contentType: text });

const SHAPES: Record<SourceDomainEvent['type'], Record<string, Check>> = {
  SubmissionRequested: {
    correspondenceId: text,
    senderId: text,
    sessionId: text,
    recipientIds: list(text, 1),
    kind: text,
    requiredLevel: text,
    consignment,
    parts: list(part),
    specimenDigest: hex64,
    validationProof: text,
    requestedAt: time,
  },
  SubmissionAccepted: { correspondenceId: text, checkId: text, acceptedAt: time },
  SubmissionRejected: { correspondenceId: text, checkId: nullable(text), reasons, rejectedAt: time },
  DeliveredToRecipient: { correspondenceId: text, recipientId: text, tokenId: text, acceptBy: time, deliveredAt: time },
  AcceptedByRecipient: { correspondenceId: text, recipientId: text, sessionId: text, acceptedAt: time },
  RefusedByRecipient: { correspondenceId: text, recipientId: text, sessionId: text, reason: nullable(text), refusedAt: time },
  AcceptanceWindowExpired: { correspondenceId: text, recipientId: text, acceptBy: time, expiredAt: time },
  ContentHandedOver: { correspondenceId: text, recipientId: text, sessionId: text, handedOverAt: time },
  ArchivedInSafes: { correspondenceId: text, tokenId: text, archivedAt: time },
  CorrespondenceFailed: { correspondenceId: text, reasons, failedAt: time },
  ChainStarted: {
    correspondenceId: text,
    senderId: text,
    recipientIds: list(text, 1),
    kind: text,
    requiredLevel: text,
    consignment,
    checkId: text,
    policyId: text,
    steps: list(object({ step, operatorId: text, parameters: anyObject })),
    specimenDigest: hex64,
    submittedAt: time,
    startedAt: time,
  },
  ChainRefused: { correspondenceId: text, checkId: nullable(text), policyId: nullable(text), reasons, refusedAt: time },
  StepTokenIssued: {
    token: object({
      tokenId: text,
      correspondenceId: text,
      stepIndex: count,
      step,
      attempt: count,
      operatorId: text,
      specificationVersion: count,
      inputDigest: hex64,
      parameters: anyObject,
      issuedAt: time,
      acknowledgeBy: time,
      returnBy: time,
    }),
    signature: text,
  },
  StepCertified: {
    tokenId: text,
    correspondenceId: text,
    stepIndex: count,
    step,
    operatorId: text,
    inputDigest: hex64,
    outputDigest: hex64,
    acknowledgedAt: time,
    returnedAt: time,
    certifiedAt: time,
  },
  StepNonCompliant: { tokenId: text, correspondenceId: text, stepIndex: count, step, operatorId: text, reasons, recordedAt: time },
  StepDeadlineMissed: {
    tokenId: text,
    correspondenceId: text,
    stepIndex: count,
    step,
    operatorId: text,
    missing: oneOf(['acknowledgement', 'return']),
    deadline: time,
    recordedAt: time,
  },
  ChainCompleted: { correspondenceId: text, finalDigest: hex64, completedAt: time },
  ChainFailed: { correspondenceId: text, stepIndex: count, step, reasons, failedAt: time },
};

/** Whether `type` is an event of `category` the contracts document (EVENT_CATALOGUE). */
export function isSourceEventType(category: SourceCategory, type: string): type is SourceDomainEvent['type'] {
  return (EVENT_CATALOGUE[category] as readonly string[]).includes(type);
}

/**
 * Checks a correspondence or chain event against its contract (the fields evidence reads) and returns it typed;
 * null for an event of the catalogue that evidence does not know (added after this code: it gives no evidence).
 * Throws SourceShapeError naming the first field that does not fit, or for a type the catalogue does not have.
 */
export function checkSourceEvent(category: SourceCategory, type: string, version: number, data: unknown): SourceDomainEvent | null {
  if (!isSourceEventType(category, type)) throw new SourceShapeError(`${type} is not an event of the ${category} streams`);
  const shape = (SHAPES as Partial<Record<string, Record<string, Check>>>)[type];
  if (!shape) return null;
  object(shape)(data, 'data');
  return { type, version, data } as SourceDomainEvent;
}
