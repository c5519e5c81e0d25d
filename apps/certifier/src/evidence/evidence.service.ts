import { createHash, X509Certificate } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  assertNever,
  CLOCK,
  type Clock,
  EVIDENCE_CATEGORY,
  type EvidenceRecorded,
  ID_GENERATOR,
  type IdGenerator,
  JOB_CATEGORY,
  type JobEvent,
  streamIdOf,
  TRUST_CHECK_CATEGORY,
  type TrustCheckAnswered,
} from '@sigillum/contracts';
import { type CommandContext, commandHandler, EVENT_STORE, type EventStore, type HandleCommand } from '@sigillum/eventstore';
import { CERTIFIER_SOURCE } from '../certifier.source';
import { CERTIFIER_SIGNER, type CertifierSigner } from '../signing/certifier-signer';
import { DEFAULT_CACHED_CORRESPONDENCES, EVIDENCE_CONFIG, type EvidenceConfig, type RecordSignatures } from './evidence.config';
import { evolve, type EvidenceIssuer, type EvidenceState, type IgnoredSource, initialState, type RecordEvidence, recordEvidence } from './evidence.decider';
import { EvidenceSourceLog } from './evidence-source-log';
import type { EvidenceContext, JobFacts, SourceEvent } from './evidence-sources';
import { type EvidenceVerdict, verifyEvidenceChain } from '@sigillum/evidence';

const fingerprintOfPem = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

/** The certifier as evidence issuer: its signing certificate, its CA, its policy. */
export function evidenceIssuerOf(signer: CertifierSigner, policyId: string): EvidenceIssuer {
  return {
    policyId,
    details: {
      name: 'Sigillum certifier',
      certificateFingerprint: fingerprintOfPem(signer.certificatePem),
      caCertificateFingerprint: fingerprintOfPem(signer.caCertificatePem),
      keyId: signer.keyId,
    },
  };
}

/** Signs one record (compact JWS over its canonical JSON) when the certifier is configured to sign every record. */
export type EvidenceRecordSigner = (record: Readonly<Record<string, unknown>>) => string;

/** The per-record signer EVIDENCE_RECORD_SIGNATURES asks for: none, or an EdDSA JWS naming the certificate by x5t#S256. */
export function recordSignerOf(signer: CertifierSigner, signatures: RecordSignatures): EvidenceRecordSigner | null {
  switch (signatures) {
    case 'none':
      return null;
    case 'jws':
      return (record) => signer.signByReference(record);
    default:
      return assertNever(signatures, 'EVIDENCE_RECORD_SIGNATURES');
  }
}

/** The events with their per-record signature added (the decision is unchanged; only a signature is attached). */
export function signedEvents(events: readonly EvidenceRecorded[], sign: EvidenceRecordSigner | null): EvidenceRecorded[] {
  if (sign === null) return [...events];
  return events.map((event) => ({ ...event, data: { ...event.data, jws: sign(event.data.record) } }));
}

/** One evidence as `GET /evidence/:correspondenceId` serves it: what the offline verifier takes. */
export interface EvidenceView {
  readonly evidenceId: string;
  readonly chainIndex: number;
  readonly eventName: string;
  readonly record: Readonly<Record<string, unknown>>;
  readonly recordDigest: string;
  readonly previousEvidenceDigest: string | null;
  /** Only when the certifier signs every record (EVIDENCE_RECORD_SIGNATURES=jws, or records from before the log). */
  readonly jws?: string;
  readonly recordedAt: string;
}

export interface RecordOutcome {
  readonly recorded: readonly EvidenceRecorded[];
  readonly ignored: readonly IgnoredSource[];
}

/** The trigger was delivered by the bus but the event store does not show it (yet): retry later. */
export class SourceNotInStoreError extends Error {
  constructor(eventId: string, correspondenceId: string) {
    super(`Event ${eventId} of correspondence ${correspondenceId} is not in the event store yet; the message will be retried`);
    this.name = 'SourceNotInStoreError';
  }
}

const MAX_ATTEMPTS = 5;

/**
 * Records the evidence of a correspondence when one of its facts arrives: reads every source event of the
 * correspondence and its chain from the event store (log order), the facts the new records quote (trust checks,
 * operators' jobs), decides, and appends to `evidence-<correspondenceId>` with the version read as expected version.
 * Two topics race for the same stream: a lost race reloads and decides again; within this process, the work of one
 * correspondence is serialised so the race is rare.
 */
@Injectable()
export class EvidenceService {
  private readonly handle: HandleCommand<RecordEvidence, EvidenceState, EvidenceRecorded>;
  /** The sources a decision declined, by command (read once the handler returns; the consumer logs them). */
  private readonly ignoredBy = new WeakMap<RecordEvidence, readonly IgnoredSource[]>();
  private readonly sources: EvidenceSourceLog;
  private readonly issuer: EvidenceIssuer;
  private readonly signRecord: EvidenceRecordSigner | null;
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) ids: IdGenerator,
    @Inject(CERTIFIER_SIGNER) private readonly signer: CertifierSigner,
    @Inject(EVIDENCE_CONFIG) config: EvidenceConfig,
  ) {
    this.issuer = evidenceIssuerOf(signer, config.policyId);
    this.signRecord = recordSignerOf(signer, config.recordSignatures);
    // The pure decider decides the records; the signing port (when every record is signed) signs them after.
    const decide = (command: RecordEvidence, state: EvidenceState): EvidenceRecorded[] => {
      const decided = recordEvidence(command, state, this.issuer);
      this.ignoredBy.set(command, decided.ignored);
      return signedEvents(decided.events, this.signRecord);
    };
    // Both caches hold the correspondences most recently worked on: their evidence fold, their source events.
    const cached = config.cachedCorrespondences ?? DEFAULT_CACHED_CORRESPONDENCES;
    this.handle = commandHandler(
      { decide, evolve, initialState },
      { store, clock, ids, source: CERTIFIER_SOURCE, maxAttempts: MAX_ATTEMPTS, cache: { maxStreams: cached } },
    );
    this.sources = new EvidenceSourceLog(store, cached);
  }

  /** The CA certificate evidence chains lead to. */
  get caCertificatePem(): string {
    return this.signer.caCertificatePem;
  }

  /** The certificate a record's `x5t#S256` names (the certifier's signing certificate). */
  get signingCertificatePem(): string {
    return this.signer.certificatePem;
  }

  /**
   * Records the evidence still missing for the correspondence, after the fact `triggerEventId` arrived.
   * Idempotent: a fact already evidenced returns at once; nothing is recorded twice.
   */
  record(correspondenceId: string, triggerEventId: string, context: CommandContext): Promise<RecordOutcome> {
    const previous = this.running.get(correspondenceId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.recordNow(correspondenceId, triggerEventId, context));
    this.running.set(correspondenceId, next);
    void next
      .finally(() => {
        if (this.running.get(correspondenceId) === next) this.running.delete(correspondenceId);
      })
      .catch(() => undefined);
    return next;
  }

  private async recordNow(correspondenceId: string, triggerEventId: string, context: CommandContext): Promise<RecordOutcome> {
    const streamId = streamIdOf(EVIDENCE_CATEGORY, correspondenceId);
    const { state } = await this.handle.load(streamId);
    if (state.status === 'recording' && state.recordedSources.has(triggerEventId)) return { recorded: [], ignored: [] };
    const sources = await this.sources.load(correspondenceId);
    if (!sources.some((source) => source.eventId === triggerEventId)) throw new SourceNotInStoreError(triggerEventId, correspondenceId);
    const command: RecordEvidence = {
      type: 'RecordEvidence',
      correspondenceId,
      sources,
      context: await this.contextFor(sources, state),
      recordedAt: this.clock.now().toISOString(),
    };
    // The library's command handler: fold (cached by revision), decide, append with the revision read; a lost race
    // with another certifier decides again on the newer state (the sources it already recorded are skipped).
    const { events } = await this.handle(streamId, command, context);
    return { recorded: events, ignored: this.ignoredBy.get(command) ?? [] };
  }

  /** The trust checks and jobs quoted by the sources not evidenced yet. */
  private async contextFor(sources: readonly SourceEvent[], state: EvidenceState): Promise<EvidenceContext> {
    const recorded = state.status === 'recording' ? state.recordedSources : new Set<string>();
    const checkIds = new Set<string>();
    const tokenIds = new Set<string>();
    for (const { eventId, event } of sources) {
      if (recorded.has(eventId)) continue;
      if ((event.type === 'ChainStarted' || event.type === 'ChainRefused') && event.data.checkId !== null) checkIds.add(event.data.checkId);
      if (event.type === 'StepCertified') tokenIds.add(event.data.tokenId);
    }
    const trustChecks: Record<string, TrustCheckAnswered['data']> = {};
    const jobs: Record<string, JobFacts> = {};
    await Promise.all([
      ...[...checkIds].map(async (checkId) => {
        const events = await this.store.readStream(streamIdOf(TRUST_CHECK_CATEGORY, checkId));
        const answer = events.find((recorded) => recorded.event.type === 'TrustCheckAnswered');
        if (answer) trustChecks[checkId] = (answer.event as TrustCheckAnswered).data;
      }),
      ...[...tokenIds].map(async (tokenId) => {
        const events = (await this.store.readStream(streamIdOf(JOB_CATEGORY, tokenId))).map((recorded) => recorded.event as JobEvent);
        const acknowledged = events.find((event) => event.type === 'TokenAcknowledged');
        const returned = events.find((event) => event.type === 'TokenReturned');
        jobs[tokenId] = {
          ...(acknowledged?.type === 'TokenAcknowledged' ? { acknowledged: acknowledged.data } : {}),
          ...(returned?.type === 'TokenReturned' ? { returned: returned.data } : {}),
        };
      }),
    ]);
    return { trustChecks, jobs };
  }

  /** The evidence of a correspondence in chain order; undefined when neither evidence nor the correspondence is known. */
  async list(correspondenceId: string): Promise<EvidenceView[] | undefined> {
    const recorded = await this.store.readStream(streamIdOf(EVIDENCE_CATEGORY, correspondenceId));
    if (recorded.length === 0) {
      const sources = await this.sources.load(correspondenceId);
      return sources.length === 0 ? undefined : [];
    }
    return recorded
      .filter((event) => event.event.type === 'EvidenceRecorded')
      .map((event) => {
        const data = (event.event as EvidenceRecorded).data;
        return {
          evidenceId: data.evidenceId,
          chainIndex: data.chainIndex,
          eventName: data.eventName,
          record: data.record,
          recordDigest: data.recordDigest,
          previousEvidenceDigest: data.previousEvidenceDigest,
          ...(data.jws !== undefined ? { jws: data.jws } : {}),
          recordedAt: data.recordedAt,
        };
      });
  }

  /** The offline verifier's verdict on the correspondence's evidence chain, against this certifier's CA. */
  async verification(correspondenceId: string): Promise<EvidenceVerdict | undefined> {
    const evidence = await this.list(correspondenceId);
    return evidence === undefined ? undefined : this.verify(evidence);
  }

  /** The chain verdict on records as served (digests, links, indexes; per-record JWS with x5c or x5t#S256). */
  verify(evidence: readonly EvidenceView[]): EvidenceVerdict {
    return verifyEvidenceChain(evidence, this.caCertificatePem, { certificates: [this.signer.certificatePem] });
  }
}
