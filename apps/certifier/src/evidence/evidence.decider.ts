import { assertNever, type Decider, type EvidenceRecorded } from '@sigillum/contracts';
import { nameBasedId } from '@sigillum/runtime/ids';
import { erdsEventIdOf, issuerRoleOf, NEGATIVE_EVIDENCE } from './evidence-names';
import {
  EVIDENCE_CANONICALIZATION,
  EVIDENCE_RECORD_VERSION,
  type EvidenceIssuerDetails,
  type EvidenceRecord,
  recordDigestOf,
  type UserContentInfo,
} from './evidence-record';
import { evaluate, type Facts, learn, newFacts, type Outcome } from './evidence-rules';
import type { EvidenceContext, SourceEvent } from './evidence-sources';

/**
 * The evidence of one correspondence: stream `evidence-<correspondenceId>`, one EvidenceRecorded per legal fact of
 * the correspondence and its chain, hash-chained (`previousEvidenceDigest`, contiguous `chainIndex`).
 *
 * The command always carries every source event known so far, in log order, and the decider records those it has
 * not recorded yet. So the chain follows the order of the log, not the order in which two topics happened to
 * deliver, and a record depends only on the facts before it: replaying the same log yields the same records
 * byte for byte. Which source gives which record is the rule set of evidence-rules.ts.
 */

//////// Commands

export interface RecordEvidence {
  readonly type: 'RecordEvidence';
  readonly correspondenceId: string;
  /** Every source event of the correspondence known so far, in log (global) order. */
  readonly sources: readonly SourceEvent[];
  readonly context: EvidenceContext;
  /** When the evidence is recorded (outside the record: the record holds only the facts' times). */
  readonly recordedAt: string;
}
export type EvidenceCommand = RecordEvidence;

//////// State

export type EvidenceState =
  | { readonly status: 'empty' }
  | {
      readonly status: 'recording';
      readonly correspondenceId: string;
      readonly nextIndex: number;
      readonly lastDigest: string;
      /** Source event ids already evidenced: a redelivered or replayed source changes nothing. */
      readonly recordedSources: ReadonlySet<string>;
    };

export const initialState = (): EvidenceState => ({ status: 'empty' });

export function evolve(state: EvidenceState, event: EvidenceRecorded): EvidenceState {
  switch (event.type) {
    case 'EvidenceRecorded': {
      const recorded = new Set(state.status === 'recording' ? state.recordedSources : []);
      recorded.add((event.data.record as { sourceEventId: string }).sourceEventId);
      return {
        status: 'recording',
        correspondenceId: event.data.correspondenceId,
        nextIndex: event.data.chainIndex + 1,
        lastDigest: event.data.recordDigest,
        recordedSources: recorded,
      };
    }
    default:
      return assertNever(event.type, 'evidence event');
  }
}

//////// The issuer

/**
 * Who vouches for the evidence: its policy and the certificate that stands for it. The decider only decides what
 * the records say; whether each record is also signed (EVIDENCE_RECORD_SIGNATURES=jws) is the service's matter, done
 * by a port after the decision. Every record is proven by the evidence log in any case.
 */
export interface EvidenceIssuer {
  readonly policyId: string;
  readonly details: EvidenceIssuerDetails;
}

/** A source event the decider declined to evidence, and why (the consumer logs it). */
export interface IgnoredSource {
  readonly sourceEventId: string;
  readonly sourceEventType: string;
  readonly rule: string;
  readonly message: string;
}

export { MissingEvidenceContextError } from './evidence-rules';

//////// Planning: the records the new sources give, chained

export interface EvidencePlan {
  /** Records to append, chained after the state's last one, unsigned, with their digests. */
  readonly records: readonly { readonly record: EvidenceRecord; readonly digest: string }[];
  readonly ignored: readonly IgnoredSource[];
}

/** The records the command's new sources give, in log order, chained after what the state recorded. Pure. */
export function planEvidence(state: EvidenceState, command: RecordEvidence, issuer: EvidenceIssuer): EvidencePlan {
  const recordedSources = state.status === 'recording' ? state.recordedSources : new Set<string>();
  let chainIndex = state.status === 'recording' ? state.nextIndex : 0;
  let previousDigest = state.status === 'recording' ? state.lastDigest : null;
  const facts = newFacts();
  const records: { record: EvidenceRecord; digest: string }[] = [];
  const ignoredSources: IgnoredSource[] = [];
  const seen = new Set<string>();
  for (const source of command.sources) {
    if (seen.has(source.eventId)) continue; // the same event read twice (two streams never share an id, but be safe)
    seen.add(source.eventId);
    // Facts are rebuilt from every source, recorded or not, so a new record sees exactly what the first run saw;
    // the details (which may need context) are only computed for a record to build.
    const outcome = evaluate(facts, source, command.context);
    learn(facts, source, outcome);
    if (recordedSources.has(source.eventId)) continue;
    if (outcome.kind === 'ignored') {
      ignoredSources.push({ sourceEventId: source.eventId, sourceEventType: source.event.type, rule: outcome.rule, message: outcome.message });
      continue;
    }
    if (outcome.kind === 'none') continue;
    const record = buildRecord(command.correspondenceId, source, outcome, facts, issuer, chainIndex, previousDigest);
    previousDigest = recordDigestOf(record);
    records.push({ record, digest: previousDigest });
    chainIndex += 1;
  }
  return { records, ignored: ignoredSources };
}

function buildRecord(
  correspondenceId: string,
  source: SourceEvent,
  outcome: Extract<Outcome, { kind: 'evidence' }>,
  facts: Facts,
  issuer: EvidenceIssuer,
  chainIndex: number,
  previousEvidenceDigest: string | null,
): EvidenceRecord {
  const negative = NEGATIVE_EVIDENCE.has(outcome.name);
  const record: EvidenceRecord = {
    version: EVIDENCE_RECORD_VERSION,
    canonicalization: EVIDENCE_CANONICALIZATION,
    EvidenceIdentifier: nameBasedId(`evidence:${correspondenceId}:${source.eventId}`),
    ERDSEventId: erdsEventIdOf(outcome.name),
    eventName: outcome.name,
    EventTime: outcome.eventTime,
    SubmissionTime: facts.submissionTime,
    EvidenceIssuerPolicyID: issuer.policyId,
    EvidenceIssuerDetails: issuer.details,
    issuerRole: issuerRoleOf(outcome.name),
    SenderDetails: facts.senderId === null ? null : { partyId: facts.senderId },
    RecipientDetails: outcome.recipients.map((partyId) => ({ partyId })),
    MessageIdentifier: correspondenceId,
    UserContentInfo: facts.contentInfo,
    consignmentMode: facts.mode,
    correspondenceKind: facts.kind,
    requiredLevel: facts.requiredLevel,
    chainIndex,
    previousEvidenceDigest,
    sourceEventId: source.eventId,
    sourceEventType: source.event.type,
    ...outcome.details(),
  };
  if (negative && !(record.EventReasons && record.EventReasons.length > 0)) {
    throw new Error(`Negative evidence ${outcome.name} without a reason: a bug in the evidence decider`);
  }
  // Optional members are added only when present (never `undefined`), so the record as stored is the record signed.
  return record;
}

//////// The decider

/** The events the new records give, each with its digest and link (unsigned: see EvidenceIssuer); and the sources declined. */
export function recordEvidence(
  command: EvidenceCommand,
  state: EvidenceState,
  issuer: EvidenceIssuer,
): { events: EvidenceRecorded[]; ignored: readonly IgnoredSource[] } {
  switch (command.type) {
    case 'RecordEvidence': {
      if (state.status === 'recording' && state.correspondenceId !== command.correspondenceId) {
        throw new Error(`Evidence of ${state.correspondenceId} cannot record sources of ${command.correspondenceId}`);
      }
      const plan = planEvidence(state, command, issuer);
      const events = plan.records.map(({ record, digest }): EvidenceRecorded => ({
        type: 'EvidenceRecorded',
        version: 1,
        data: {
          evidenceId: record.EvidenceIdentifier,
          correspondenceId: command.correspondenceId,
          chainIndex: record.chainIndex,
          eventName: record.eventName,
          record: record as unknown as Readonly<Record<string, unknown>>,
          recordDigest: digest,
          previousEvidenceDigest: record.previousEvidenceDigest,
          recordedAt: command.recordedAt,
        },
      }));
      return { events, ignored: plan.ignored };
    }
    default:
      return assertNever(command.type, 'evidence command');
  }
}

export function decide(command: EvidenceCommand, state: EvidenceState, issuer: EvidenceIssuer): EvidenceRecorded[] {
  return recordEvidence(command, state, issuer).events;
}

export function createEvidenceDecider(issuer: EvidenceIssuer): Decider<EvidenceCommand, EvidenceState, EvidenceRecorded> {
  return { decide: (command, state) => decide(command, state, issuer), evolve, initialState };
}
