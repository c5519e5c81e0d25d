import { createHash, X509Certificate } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { PoisonMessageError } from '@sigillum/bus';
import {
  CERTIFICATE_CATEGORY,
  CHAIN_CATEGORY,
  type CertificateIssued,
  type CertificationToken,
  type ChainEvent,
  type Clock,
  type DomainEvent,
  type IdGenerator,
  JOB_CATEGORY,
  type JobEvent,
  PARTY_CATEGORY,
  type PartyEvent,
  type RecordedEvent,
  type StepFailed,
  streamIdOf,
  type TokenAcknowledged,
  type TokenReturned,
} from '@sigillum/contracts';
import { canonicalize, JwsError, verifyJwsDetached } from '@sigillum/crypto';
import { type CommandContext, type EventStore, metadataOf, WrongExpectedVersionError } from '@sigillum/eventstore';
import { TrustAnchorUnknownError } from '../job/job.runner';
import { PROCESSOR_SOURCE } from '../processor.source';
import { canonicalDigest } from '../steps/step-outputs';
import type { PartnerBinding, PartnerConfig } from './partner.config';
import { type PartnerCommand, signedPayloadOf } from './partner-commands';

/**
 * A partner command that will never be accepted, with the rule it broke: nothing is appended, and the consumer
 * dead-letters the record to `sigillum.partner.<name>.inbound.dlq` with `dlq_reason` = `refused <rule>: <message>`.
 */
export class PartnerCommandRefused extends PoisonMessageError {
  constructor(
    readonly rule: string,
    readonly detail: string,
  ) {
    super(`refused ${rule}: ${detail}`);
    this.name = 'PartnerCommandRefused';
  }
}

/** A concurrent append to the same job stream: the bus retries, and the retry finds what was recorded. */
export class PartnerJobRaceError extends Error {
  constructor(streamId: string) {
    super(`${streamId} changed while a partner command was being recorded; it is read again`);
    this.name = 'PartnerJobRaceError';
  }
}

export interface PartnerJobsDependencies {
  readonly store: EventStore;
  /** The CA certificates (PEM) the operator's certificate must chain to (CertificationAuthorityEstablished, as consumed). */
  readonly trustedCaPems: () => readonly string[];
  /** Whether this processor hosts the operator (its commands then never come from a partner topic). */
  readonly isHosted: (operatorId: string) => boolean;
  readonly config: Pick<PartnerConfig, 'maxClockSkewSeconds'>;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

/** `recorded`: the job event(s) appended; `duplicate`: the same command was recorded before, nothing changed. */
export type PartnerOutcome = { readonly kind: 'recorded'; readonly types: readonly string[] } | { readonly kind: 'duplicate' };

const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/**
 * The partner commands of a token turned into its job events, exactly as a hosted operator's would be:
 *
 * 1. the command speaks for the operator bound to its topic, which this processor does not host;
 * 2. the token exists in `chain-<correspondenceId>` and was issued to that operator;
 * 3. the detached JWS verifies over exactly what the event will hold, under an `x5c` chain to the Sigillum CA,
 *    its leaf being certificate `certificateId` (issued for key `keyId` of this operator, not revoked), the key
 *    being a signature key of the operator in force in the directory — the checks the certifier makes again;
 *    an acknowledgement names the digest of the token as issued;
 * 4. the stated time is not ahead of this processor's clock (beyond the tolerated skew) nor before the token;
 * 5. idempotency against `job-<tokenId>`: the same command again changes nothing; a second, different
 *    acknowledgement, return or failure, a return before an acknowledgement, anything after a return or a failure
 *    is refused with its reason; a token the certifier settled (certified, non-compliant, deadline missed) too;
 * 6. one append, expecting the job stream as it was read.
 */
export class PartnerJobs {
  private readonly log = new Logger('PartnerJobs');

  constructor(private readonly deps: PartnerJobsDependencies) {}

  async handle(command: PartnerCommand, partner: PartnerBinding, context: CommandContext): Promise<PartnerOutcome> {
    const { store, clock } = this.deps;
    const receivedAt = clock.now();
    if (command.operatorId !== partner.operatorId) {
      throw new PartnerCommandRefused(
        'partner.operator-mismatch',
        `partner ${partner.name} speaks for operator ${partner.operatorId} only, not ${command.operatorId}`,
      );
    }
    if (this.deps.isHosted(command.operatorId)) {
      throw new PartnerCommandRefused(
        'operator.hosted',
        `operator ${command.operatorId} is hosted by this processor: its tokens are answered here, not over Kafka`,
      );
    }

    const chain = (await store.readStream(streamIdOf(CHAIN_CATEGORY, command.correspondenceId))) as RecordedEvent<ChainEvent>[];
    const token = chain
      .map(({ event }) => event)
      .find(
        (event): event is Extract<ChainEvent, { type: 'StepTokenIssued' }> => event.type === 'StepTokenIssued' && event.data.token.tokenId === command.tokenId,
      )?.data.token;
    if (!token) throw new PartnerCommandRefused('token.unknown', `no token ${command.tokenId} was issued in chain-${command.correspondenceId}`);
    if (token.operatorId !== command.operatorId) {
      throw new PartnerCommandRefused(
        'token.not-issued-to-operator',
        `token ${token.tokenId} was issued to operator ${token.operatorId}, not ${command.operatorId}`,
      );
    }

    // Who speaks first: nothing about the job is told (nor done) for a command that is not the operator's own.
    await this.authenticate(command, receivedAt);
    if (command.kind === 'acknowledge' && command.tokenDigest !== canonicalDigest(token)) {
      throw new PartnerCommandRefused('ack.token-digest-mismatch', `tokenDigest is not SHA-256 of the RFC 8785 canonical token ${token.tokenId} as issued`);
    }
    this.checkTime(command, token, receivedAt);

    const streamId = streamIdOf(JOB_CATEGORY, token.tokenId);
    const job = (await store.readStream(streamId)) as RecordedEvent<JobEvent>[];
    const recorded = (type: JobEvent['type']) => job.map(({ event }) => event).find((event) => event.type === type);
    const event = this.eventOf(command, token);
    const already = recorded(event.type);
    if (already) {
      if (sameEvent(already, event)) return { kind: 'duplicate' };
      throw new PartnerCommandRefused(
        `${ruleNameOf(event.type)}.already-recorded`,
        `job-${token.tokenId} already holds a different ${event.type}: a token is answered once`,
      );
    }
    if (recorded('StepFailed'))
      throw new PartnerCommandRefused('token.failed', `job-${token.tokenId} already records that the operator could not perform the step`);
    if (recorded('TokenReturned')) throw new PartnerCommandRefused('token.returned', `token ${token.tokenId} was already returned`);
    if (command.kind === 'return' && !recorded('TokenAcknowledged')) {
      throw new PartnerCommandRefused(
        'return.before-acknowledgement',
        `token ${token.tokenId} has not been acknowledged: send sigillum.partner.AcknowledgeToken first`,
      );
    }
    const settled = chain.find(({ event }) => isSettlement(event) && event.data.tokenId === token.tokenId);
    if (settled) throw new PartnerCommandRefused('token.settled', `the certifier already settled token ${token.tokenId} (${settled.event.type})`);

    const occurredAt = clock.now().toISOString();
    try {
      await store.append(
        streamId,
        [
          {
            event,
            metadata: metadataOf(context, this.deps.ids.next(), occurredAt, PROCESSOR_SOURCE),
          },
        ],
        job.length === 0 ? 'no-stream' : job[job.length - 1].streamRevision,
      );
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) throw new PartnerJobRaceError(streamId);
      throw error;
    }
    this.log.log(`Partner ${partner.name}: ${event.type} of token ${token.tokenId} (${token.step}) for operator ${token.operatorId} recorded`);
    return { kind: 'recorded', types: [event.type] };
  }

  /** The job event the command stands for, as a hosted operator's (job-events.ts) would be. */
  private eventOf(command: PartnerCommand, token: CertificationToken): TokenAcknowledged | TokenReturned | StepFailed {
    const common = { tokenId: token.tokenId, correspondenceId: token.correspondenceId, stepIndex: token.stepIndex, operatorId: token.operatorId };
    switch (command.kind) {
      case 'acknowledge':
        return {
          type: 'TokenAcknowledged',
          version: 1,
          data: { ...common, tokenDigest: command.tokenDigest, acknowledgedAt: command.acknowledgedAt, keyId: command.keyId, signature: command.signature },
        };
      case 'return':
        return {
          type: 'TokenReturned',
          version: 1,
          data: { ...common, report: command.report, returnedAt: command.returnedAt, keyId: command.keyId, signature: command.signature },
        };
      case 'fail':
        return {
          type: 'StepFailed',
          version: 1,
          data: {
            ...common,
            reasons: command.reasons.map((reason) => ({
              rule: reason.rule,
              message: reason.message,
              partyId: token.operatorId,
              subjectRole: 'operator' as const,
            })),
            failedAt: command.failedAt,
          },
        };
    }
  }

  private checkTime(command: PartnerCommand, token: CertificationToken, receivedAt: Date): void {
    const stated = command.kind === 'acknowledge' ? command.acknowledgedAt : command.kind === 'return' ? command.returnedAt : command.failedAt;
    const skew = this.deps.config.maxClockSkewSeconds * 1000;
    const at = Date.parse(stated);
    if (at > receivedAt.getTime() + skew) {
      throw new PartnerCommandRefused(
        'time.in-future',
        `${stated} is ahead of this processor's clock (${receivedAt.toISOString()}) by more than ${skew / 1000} s`,
      );
    }
    if (at < Date.parse(token.issuedAt) - skew)
      throw new PartnerCommandRefused('time.before-token', `${stated} is before token ${token.tokenId} was issued (${token.issuedAt})`);
  }

  /** Step 4: signature, certificate, key, operator. Refuses with the first problem found. */
  private async authenticate(command: PartnerCommand, at: Date): Promise<void> {
    const anchors = this.deps.trustedCaPems();
    if (anchors.length === 0) throw new TrustAnchorUnknownError(command.tokenId);
    let chainPems: readonly string[] | undefined;
    try {
      const verified = verifyJwsDetached(command.signature, signedPayloadOf(command), { trustedCaPem: anchors, expectedAlg: 'EdDSA', at });
      if (verified.header.kid !== undefined && verified.header.kid !== command.keyId) {
        throw new PartnerCommandRefused('signature.kid-mismatch', `the JWS header names key ${verified.header.kid}, the command key ${command.keyId}`);
      }
      chainPems = verified.chainPems;
    } catch (error) {
      if (error instanceof JwsError)
        throw new PartnerCommandRefused(
          'signature.invalid',
          `the command's signature does not verify under a certificate of the Sigillum CA: ${error.code}: ${error.message}`,
        );
      throw error;
    }
    if (!chainPems || chainPems.length === 0) throw new PartnerCommandRefused('signature.invalid', 'the JWS carries no x5c chain to the Sigillum CA');
    const leaf = new X509Certificate(chainPems[0]);
    const certificateFingerprint = sha256Hex(leaf.raw);
    const spkiFingerprint = sha256Hex(leaf.publicKey.export({ type: 'spki', format: 'der' }));

    const certificateEvents = (await this.deps.store.readStream(streamIdOf(CERTIFICATE_CATEGORY, command.certificateId))).map(
      ({ event }) => event as DomainEvent,
    );
    const issued = certificateEvents.find((event): event is CertificateIssued => event.type === 'CertificateIssued')?.data;
    if (!issued) throw new PartnerCommandRefused('certificate.unknown', `the Sigillum CA issued no certificate ${command.certificateId}`);
    if (issued.fingerprint !== certificateFingerprint || issued.partyId !== command.operatorId || issued.keyId !== command.keyId) {
      throw new PartnerCommandRefused(
        'certificate.mismatch',
        `the signing certificate (x5c leaf ${certificateFingerprint}) is not certificate ${command.certificateId} of key ${command.keyId} of operator ${command.operatorId}`,
      );
    }
    if (certificateEvents.some((event) => event.type === 'CertificateRevoked')) {
      throw new PartnerCommandRefused(
        'certificate.revoked',
        `certificate ${command.certificateId} of operator ${command.operatorId} was revoked by the Sigillum CA`,
      );
    }

    const party = directoryFactsOf((await this.deps.store.readStream(streamIdOf(PARTY_CATEGORY, command.operatorId))).map(({ event }) => event as PartyEvent));
    if (!party.registered || party.kind !== 'operator' || party.operatorRole !== 'processing') {
      throw new PartnerCommandRefused('operator.unknown', `party ${command.operatorId} is not a processing operator in the directory`);
    }
    const key = party.keys.get(command.keyId);
    if (!key || key.use !== 'signature' || key.revoked || key.fingerprint !== spkiFingerprint) {
      throw new PartnerCommandRefused(
        'signature.key-not-certified',
        `the signing key is not signature key ${command.keyId} of operator ${command.operatorId} in force in the directory`,
      );
    }
  }
}

type Settlement = Extract<ChainEvent, { type: 'StepCertified' | 'StepNonCompliant' | 'StepDeadlineMissed' }>;
const isSettlement = (event: ChainEvent): event is Settlement =>
  event.type === 'StepCertified' || event.type === 'StepNonCompliant' || event.type === 'StepDeadlineMissed';

const ruleNameOf = (type: JobEvent['type']) => (type === 'TokenAcknowledged' ? 'ack' : type === 'TokenReturned' ? 'return' : 'failure');

/** Whether a recorded job event is the one this command would record (the same command received again). */
function sameEvent(recorded: JobEvent, event: JobEvent): boolean {
  try {
    return canonicalize(recorded.data) === canonicalize(event.data);
  } catch {
    return false;
  }
}

interface DirectoryFacts {
  registered: boolean;
  kind?: string;
  operatorRole?: string;
  keys: Map<string, { use: string; fingerprint: string; revoked: boolean }>;
}

/** What the authentication needs of `party-<operatorId>`: kind, operator role, keys. */
function directoryFactsOf(events: readonly PartyEvent[]): DirectoryFacts {
  const facts: DirectoryFacts = { registered: false, keys: new Map() };
  for (const event of events) {
    switch (event.type) {
      case 'PartyRegistered':
        facts.registered = true;
        facts.kind = event.data.kind;
        facts.operatorRole = event.data.operatorRole;
        break;
      case 'PublicKeyRegistered':
        facts.keys.set(event.data.keyId, { use: event.data.use, fingerprint: event.data.fingerprint, revoked: false });
        break;
      case 'PublicKeyRevoked': {
        const key = facts.keys.get(event.data.keyId);
        if (key) key.revoked = true;
        break;
      }
      default:
        break;
    }
  }
  return facts;
}
