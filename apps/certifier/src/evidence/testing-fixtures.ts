import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {
  CertificationToken,
  ChainEvent,
  CorrespondenceEvent,
  ProcessingStep,
  TokenAcknowledged,
  TokenReturned,
  TrustCheckAnswered,
} from '@sigillum/contracts';
import { canonicalize, CertificateAuthority, FileKeyStore } from '@sigillum/crypto';
import { type CertifierSigner, loadCertifierSigner } from '../signing/certifier-signer';
import { recordDigestOf, sha256Hex } from './evidence-record';
import type { EvidenceContext, JobFacts, SourceEvent } from './evidence-sources';

/** A real certifier signer (Ed25519 key certified by a fresh RSA CA) in a temporary keystore; `cleanup` removes it. */
export function temporarySigner(): { signer: CertifierSigner; cleanup: () => void } {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-evidence-'));
  const keystore = FileKeyStore.open({ directory, passphrase: 'a test passphrase, not a secret' });
  const now = new Date();
  const { ca } = CertificateAuthority.loadOrCreate(keystore, { commonName: 'Evidence test CA', organisation: 'Sigillum tests', validityDays: 30, now });
  const signer = loadCertifierSigner(keystore, ca, { now: () => now });
  return { signer, cleanup: () => fs.rmSync(directory, { recursive: true, force: true }) };
}

/** An issuer with made-up certificate fingerprints: for decider specs (the decider never signs). */
export const digestIssuer = {
  policyId: 'urn:sigillum:policy:evidence:test',
  details: { name: 'Sigillum certifier', certificateFingerprint: 'c'.repeat(64), caCertificateFingerprint: 'a'.repeat(64), keyId: 'k'.repeat(64) },
};

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
export const STORY_START = Date.parse('2026-03-02T09:00:00.000Z');
export const ACCEPTANCE_WINDOW_MS = 15 * DAY;
const iso = (ms: number) => new Date(ms).toISOString();
const hex = (seed: string) => sha256Hex(seed);

export interface StoryOptions {
  readonly correspondenceId?: string;
  readonly recipients?: number;
  readonly consignment?: 'basic' | 'consent';
  readonly chain?: readonly ProcessingStep[];
  /** Event ids: `uuid` for a real store, `counter` (readable, deterministic) otherwise. */
  readonly ids?: 'uuid' | 'counter';
  /** Party ids (readable defaults: `sender-0001`, `recipient-0001`…). */
  readonly senderId?: string;
  readonly recipientIds?: readonly string[];
}

/**
 * Builds the facts of one correspondence as its writers (domicile, certifier, processor) record them, in log
 * order, with the context evidence quotes (the gate's trust check, the operators' jobs). Each method appends one
 * source event and returns it; times move forward by the minutes given.
 */
export class CorrespondenceStory {
  readonly correspondenceId: string;
  readonly senderId: string;
  readonly recipientIds: string[];
  readonly consignment: 'basic' | 'consent';
  readonly chain: readonly ProcessingStep[];
  readonly sources: SourceEvent[] = [];
  readonly trustChecks: Record<string, TrustCheckAnswered['data']> = {};
  readonly jobs: Record<string, JobFacts> = {};
  readonly checkId: string;
  /** Job events as the processor records them (`job-<tokenId>`), for a real store. */
  readonly jobEvents: { tokenId: string; events: (TokenAcknowledged | TokenReturned)[] }[] = [];
  private readonly tokens = new Map<number, CertificationToken>();
  private clock = STORY_START;
  private counter = 0;
  private readonly idStyle: 'uuid' | 'counter';
  private digest: string;

  constructor(options: StoryOptions = {}) {
    this.correspondenceId = options.correspondenceId ?? randomUUID();
    this.senderId = options.senderId ?? 'sender-0001';
    this.recipientIds = options.recipientIds
      ? [...options.recipientIds]
      : Array.from({ length: options.recipients ?? 1 }, (_, i) => `recipient-${String(i + 1).padStart(4, '0')}`);
    this.consignment = options.consignment ?? 'basic';
    this.chain = options.chain ?? ['seal', 'timestamp', 'deliver', 'archive'];
    this.idStyle = options.ids ?? 'counter';
    this.checkId = `check-${this.correspondenceId}`;
    this.digest = hex(`specimen-${this.correspondenceId}`);
  }

  get context(): EvidenceContext {
    return { trustChecks: this.trustChecks, jobs: this.jobs };
  }

  get now(): number {
    return this.clock;
  }

  operatorOf(stepIndex: number): string {
    return `operator-${this.chain[stepIndex]}`;
  }

  private nextId(): string {
    this.counter += 1;
    return this.idStyle === 'uuid' ? randomUUID() : `${this.correspondenceId}#${this.counter}`;
  }

  private at(minutes: number): string {
    this.clock += minutes * MINUTE;
    return iso(this.clock);
  }

  /** Moves the story's clock without recording anything (e.g. past the acceptance window). */
  wait(ms: number): this {
    this.clock += ms;
    return this;
  }

  private add(category: 'correspondence' | 'chain', event: CorrespondenceEvent | ChainEvent): SourceEvent {
    const source: SourceEvent = { eventId: this.nextId(), category, event };
    this.sources.push(source);
    return source;
  }

  submissionRequested(minutes = 0): SourceEvent {
    const requestedAt = this.at(minutes);
    return this.add('correspondence', {
      type: 'SubmissionRequested',
      version: 1,
      data: {
        correspondenceId: this.correspondenceId,
        draftId: `draft-${this.correspondenceId}`,
        submissionKey: 'key-1',
        senderId: this.senderId,
        sessionId: 'session-sender',
        recipientIds: this.recipientIds,
        subject: 'Mise en demeure',
        kind: this.consignment === 'consent' ? 'registered-ack' : 'registered',
        requiredLevel: this.consignment === 'consent' ? 'high' : 'substantial',
        consignment: this.consignment,
        parts: [{ digest: hex('part-1'), size: 1234, contentType: 'application/pdf', name: 'letter.pdf' }],
        specimenDigest: this.digest,
        validationProof: 'eyJhbGciOiJFZERTQSJ9.eyJ2YWxpZGF0ZWQiOnRydWV9.c2lnbmF0dXJl',
        requestedAt,
      },
    });
  }

  private trustCheck(passed: boolean, answeredAt: string): void {
    this.trustChecks[this.checkId] = {
      checkId: this.checkId,
      purpose: 'delivery',
      subjectOf: this.correspondenceId,
      policyId: 'eidas-default@1',
      levelRequired: 'substantial',
      passed,
      verdicts: [
        { partyId: this.senderId, subjectRole: 'sender', levelHeld: 'high', levelRequired: 'substantial', validNow: true, reasons: [] },
        ...this.recipientIds.map((partyId, index) => ({
          partyId,
          subjectRole: 'recipient' as const,
          levelHeld: passed || index > 0 ? 'substantial' : 'low',
          levelRequired: 'substantial',
          validNow: true,
          reasons: passed || index > 0 ? [] : [{ rule: 'level.insufficient', message: 'low < substantial', partyId, subjectRole: 'recipient' as const }],
        })),
      ],
      answeredAt,
    };
  }

  chainStarted(minutes = 1): SourceEvent {
    const startedAt = this.at(minutes);
    this.trustCheck(true, startedAt);
    return this.add('chain', {
      type: 'ChainStarted',
      version: 1,
      data: {
        correspondenceId: this.correspondenceId,
        senderId: this.senderId,
        recipientIds: this.recipientIds,
        kind: this.consignment === 'consent' ? 'registered-ack' : 'registered',
        requiredLevel: 'substantial',
        consignment: this.consignment,
        checkId: this.checkId,
        policyId: 'eidas-default@1',
        steps: this.chain.map((step, index) => ({ step, operatorId: this.operatorOf(index), parameters: {} })),
        specimenDigest: this.digest,
        submittedAt: iso(STORY_START),
        startedAt,
      },
    });
  }

  chainRefused(minutes = 1, reasons = [{ rule: 'level.insufficient', message: 'recipient holds low, substantial required' }]): SourceEvent {
    const refusedAt = this.at(minutes);
    this.trustCheck(false, refusedAt);
    return this.add('chain', {
      type: 'ChainRefused',
      version: 1,
      data: { correspondenceId: this.correspondenceId, checkId: this.checkId, policyId: 'eidas-default@1', reasons, refusedAt },
    });
  }

  tokenIssued(stepIndex: number, minutes = 1, attempt = 1): SourceEvent {
    const issuedAt = this.at(minutes);
    const token: CertificationToken = {
      tokenId: `token-${this.correspondenceId}-${stepIndex}-${attempt}`,
      correspondenceId: this.correspondenceId,
      stepIndex,
      step: this.chain[stepIndex],
      attempt,
      operatorId: this.operatorOf(stepIndex),
      specificationVersion: 1,
      inputDigest: this.digest,
      parameters: {},
      issuedAt,
      acknowledgeBy: iso(this.clock + MINUTE),
      returnBy: iso(this.clock + 10 * MINUTE),
    };
    this.tokens.set(stepIndex, token);
    return this.add('chain', { type: 'StepTokenIssued', version: 1, data: { token, signature: `eyJhbGciOiJFZERTQSJ9..token-signature-${stepIndex}` } });
  }

  stepCertified(stepIndex: number, minutes = 1): SourceEvent {
    const token = this.tokens.get(stepIndex);
    if (!token) throw new Error(`issue the token of step ${stepIndex} first`);
    const acknowledgedAt = iso(this.clock + 1000);
    const returnedAt = iso(this.clock + 2000);
    const certifiedAt = this.at(minutes);
    const outputDigest = hex(`${token.tokenId}-output`);
    const tokenDigest = sha256Hex(Buffer.from(canonicalize(token), 'utf8'));
    const report = {
      tokenId: token.tokenId,
      step: token.step,
      inputDigest: token.inputDigest,
      outputDigest,
      parameters: {},
      startedAt: acknowledgedAt,
      finishedAt: returnedAt,
      output: { step: 'deliver' as const, recipientIds: this.recipientIds, deliveredAt: returnedAt },
    };
    const acknowledged: TokenAcknowledged['data'] = {
      tokenId: token.tokenId,
      correspondenceId: this.correspondenceId,
      stepIndex,
      operatorId: token.operatorId,
      tokenDigest,
      acknowledgedAt,
      keyId: `key-${token.operatorId}`,
      signature: `eyJhbGciOiJFZERTQSJ9..ack-${stepIndex}`,
    };
    const returned: TokenReturned['data'] = {
      tokenId: token.tokenId,
      correspondenceId: this.correspondenceId,
      stepIndex,
      operatorId: token.operatorId,
      report,
      returnedAt,
      keyId: `key-${token.operatorId}`,
      signature: `eyJhbGciOiJFZERTQSJ9..report-${stepIndex}`,
    };
    this.jobs[token.tokenId] = { acknowledged, returned };
    this.jobEvents.push({
      tokenId: token.tokenId,
      events: [
        { type: 'TokenAcknowledged', version: 1, data: acknowledged },
        { type: 'TokenReturned', version: 1, data: returned },
      ],
    });
    const certified = this.add('chain', {
      type: 'StepCertified',
      version: 1,
      data: {
        tokenId: token.tokenId,
        correspondenceId: this.correspondenceId,
        stepIndex,
        step: token.step,
        operatorId: token.operatorId,
        inputDigest: token.inputDigest,
        outputDigest,
        acknowledgedAt,
        returnedAt,
        certifiedAt,
      },
    });
    this.digest = outputDigest;
    return certified;
  }

  stepNonCompliant(
    stepIndex: number,
    minutes = 1,
    reasons = [{ rule: 'digest.chain', message: 'input digest does not follow the previous output' }],
  ): SourceEvent {
    const token = this.tokens.get(stepIndex) as CertificationToken;
    return this.add('chain', {
      type: 'StepNonCompliant',
      version: 1,
      data: {
        tokenId: token.tokenId,
        correspondenceId: this.correspondenceId,
        stepIndex,
        step: token.step,
        operatorId: token.operatorId,
        reasons,
        recordedAt: this.at(minutes),
      },
    });
  }

  stepDeadlineMissed(stepIndex: number, missing: 'acknowledgement' | 'return' = 'return', minutes = 11): SourceEvent {
    const token = this.tokens.get(stepIndex) as CertificationToken;
    return this.add('chain', {
      type: 'StepDeadlineMissed',
      version: 1,
      data: {
        tokenId: token.tokenId,
        correspondenceId: this.correspondenceId,
        stepIndex,
        step: token.step,
        operatorId: token.operatorId,
        missing,
        deadline: missing === 'return' ? token.returnBy : token.acknowledgeBy,
        recordedAt: this.at(minutes),
      },
    });
  }

  chainFailed(stepIndex: number, minutes = 1, reasons = [{ rule: 'retries.exhausted', message: 'no operator could perform the step' }]): SourceEvent {
    return this.add('chain', {
      type: 'ChainFailed',
      version: 1,
      data: { correspondenceId: this.correspondenceId, stepIndex, step: this.chain[stepIndex], reasons, failedAt: this.at(minutes) },
    });
  }

  chainCompleted(minutes = 1): SourceEvent {
    return this.add('chain', {
      type: 'ChainCompleted',
      version: 1,
      data: { correspondenceId: this.correspondenceId, finalDigest: this.digest, completedAt: this.at(minutes) },
    });
  }

  submissionAccepted(minutes = 0): SourceEvent {
    return this.add('correspondence', {
      type: 'SubmissionAccepted',
      version: 1,
      data: { correspondenceId: this.correspondenceId, checkId: this.checkId, acceptedAt: this.at(minutes) },
    });
  }

  /** DeliveredToRecipient with the window closing ACCEPTANCE_WINDOW_MS later. */
  delivered(recipientId: string, minutes = 0): SourceEvent {
    const deliveredAt = this.at(minutes);
    const deliverIndex = this.chain.indexOf('deliver');
    return this.add('correspondence', {
      type: 'DeliveredToRecipient',
      version: 1,
      data: {
        correspondenceId: this.correspondenceId,
        recipientId,
        tokenId: this.tokens.get(deliverIndex)?.tokenId ?? 'token-deliver',
        acceptBy: iso(this.clock + ACCEPTANCE_WINDOW_MS),
        deliveredAt,
      },
    });
  }

  accepted(recipientId: string, minutes = 60): SourceEvent {
    return this.add('correspondence', {
      type: 'AcceptedByRecipient',
      version: 1,
      data: { correspondenceId: this.correspondenceId, recipientId, sessionId: `session-${recipientId}`, acceptedAt: this.at(minutes) },
    });
  }

  refused(recipientId: string, minutes = 60, reason: string | null = 'Not my address'): SourceEvent {
    return this.add('correspondence', {
      type: 'RefusedByRecipient',
      version: 1,
      data: { correspondenceId: this.correspondenceId, recipientId, sessionId: `session-${recipientId}`, reason, refusedAt: this.at(minutes) },
    });
  }

  /** AcceptanceWindowExpired at `expiredAt` (default: the story's clock), naming the deadline `acceptBy`. */
  expired(recipientId: string, acceptBy: string, expiredAt = iso(this.clock)): SourceEvent {
    return this.add('correspondence', {
      type: 'AcceptanceWindowExpired',
      version: 1,
      data: { correspondenceId: this.correspondenceId, recipientId, acceptBy, expiredAt },
    });
  }

  handedOver(recipientId: string, minutes = 5): SourceEvent {
    return this.add('correspondence', {
      type: 'ContentHandedOver',
      version: 1,
      data: { correspondenceId: this.correspondenceId, recipientId, sessionId: `session-${recipientId}`, handedOverAt: this.at(minutes) },
    });
  }

  /** The whole chain certified, step by step, and the deliver step reaching every recipient. */
  runChain(): this {
    this.chain.forEach((step, index) => {
      this.tokenIssued(index);
      this.stepCertified(index);
      if (step === 'deliver') for (const recipient of this.recipientIds) this.delivered(recipient);
    });
    this.chainCompleted();
    return this;
  }

  /** acceptBy of a recipient's delivery in this story. */
  acceptByOf(recipientId: string): string {
    const delivered = this.sources.find((source) => source.event.type === 'DeliveredToRecipient' && source.event.data.recipientId === recipientId);
    if (!delivered || delivered.event.type !== 'DeliveredToRecipient') throw new Error(`${recipientId} was not delivered`);
    return delivered.event.data.acceptBy;
  }
}
