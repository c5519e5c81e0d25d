// Test-only: builds a realistic log with the certifier's own evidence decider and a real signer (only tests reach
// across apps like this; the gateway composes them in production).
import { randomUUID } from 'node:crypto';
import {
  CA_CATEGORY,
  type DeliveredMessage,
  eventTopicForStream,
  EVIDENCE_CATEGORY,
  foldEvents,
  JOB_CATEGORY,
  messageFromRecordedEvent,
  streamIdOf,
  TRUST_CHECK_CATEGORY,
} from '@sigillum/contracts';
import { describeCertificate } from '@sigillum/crypto';
import { type EventStore, SqliteEventStore } from '@sigillum/eventstore';
import Database from 'better-sqlite3';
import { pendingEvent } from '@sigillum/testing';
import { createEvidenceDecider, evolve, initialState, type EvidenceState } from '../../../certifier/src/evidence/evidence.decider';
import { evidenceIssuerOf } from '../../../certifier/src/evidence/evidence.service';
import { CorrespondenceStory, temporarySigner } from '../../../certifier/src/evidence/testing-fixtures';
import type { CertifierSigner } from '../../../certifier/src/signing/certifier-signer';

export interface RealisticLog {
  readonly delivered: CorrespondenceStory;
  readonly refusedAndExpired: CorrespondenceStory;
  readonly gateRefused: CorrespondenceStory;
  readonly chainFailed: CorrespondenceStory;
  readonly all: readonly CorrespondenceStory[];
}

/** A party id as the directory makes them (the HTTP routes take UUIDs). */
const party = () => randomUUID();

/** A story with UUIDs for ids and parties, as the HTTP routes parse them. */
function story(options: { consignment: 'basic' | 'consent'; recipients?: number }): CorrespondenceStory {
  return new CorrespondenceStory({
    ids: 'uuid',
    consignment: options.consignment,
    senderId: party(),
    recipientIds: Array.from({ length: options.recipients ?? 1 }, party),
  });
}

/**
 * Four correspondences as their writers record them: a basic delivery accepted and retrieved; a consent delivery to
 * two recipients, one refusing and one letting the window expire; a submission refused by the delivery gate; a
 * chain failing before delivery (missed deadline). Each with the evidence the certifier records for it.
 */
export function realisticStories(): RealisticLog {
  const delivered = story({ consignment: 'basic' });
  delivered.submissionRequested();
  delivered.chainStarted();
  delivered.submissionAccepted();
  delivered.runChain();
  delivered.accepted(delivered.recipientIds[0]);
  delivered.handedOver(delivered.recipientIds[0]);

  const refusedAndExpired = story({ consignment: 'consent', recipients: 2 });
  refusedAndExpired.submissionRequested(30);
  refusedAndExpired.chainStarted();
  refusedAndExpired.runChain();
  refusedAndExpired.refused(refusedAndExpired.recipientIds[0], 90, 'Wrong addressee');
  const acceptBy = refusedAndExpired.acceptByOf(refusedAndExpired.recipientIds[1]);
  refusedAndExpired.wait(Date.parse(acceptBy) - refusedAndExpired.now);
  refusedAndExpired.expired(refusedAndExpired.recipientIds[1], acceptBy);

  const gateRefused = story({ consignment: 'basic' });
  gateRefused.submissionRequested(60);
  gateRefused.chainRefused();

  const chainFailed = story({ consignment: 'basic', recipients: 1 });
  chainFailed.submissionRequested(90);
  chainFailed.chainStarted();
  chainFailed.tokenIssued(0);
  chainFailed.stepDeadlineMissed(0, 'acknowledgement');
  chainFailed.chainFailed(0);

  return { delivered, refusedAndExpired, gateRefused, chainFailed, all: [delivered, refusedAndExpired, gateRefused, chainFailed] };
}

/**
 * Appends the stories to the store interleaved as a busy system would (a few facts of each in turn), with the trust
 * checks and jobs they quote, the certifier CA's record, and after each correspondence fact the evidence it gives.
 * Without a signer, only the facts: a running certifier records the evidence (and the CA) itself.
 */
export async function writeRealisticLog(store: EventStore, log: RealisticLog, signer?: CertifierSigner): Promise<void> {
  if (signer) await recordCa(store, signer);
  const decider = signer ? createEvidenceDecider(evidenceIssuerOf(signer, 'urn:sigillum:policy:evidence:test')) : undefined;
  const states = new Map<string, EvidenceState>();
  const positions = new Map<CorrespondenceStory, number>(log.all.map((s) => [s, 0]));
  for (const s of log.all) {
    for (const [checkId, answer] of Object.entries(s.trustChecks))
      await store.append(streamIdOf(TRUST_CHECK_CATEGORY, checkId), [pendingEvent('TrustCheckAnswered', answer)], 'any');
    for (const job of s.jobEvents)
      await store.append(
        streamIdOf(JOB_CATEGORY, job.tokenId),
        job.events.map((e) => pendingEvent(e.type, e.data)),
        'any',
      );
  }
  let remaining = true;
  while (remaining) {
    remaining = false;
    for (const s of log.all) {
      const from = positions.get(s) as number;
      const batch = s.sources.slice(from, from + 3);
      if (batch.length === 0) continue;
      remaining = true;
      positions.set(s, from + batch.length);
      for (const source of batch) {
        await store.append(
          streamIdOf(source.category, s.correspondenceId),
          [pendingEvent(source.event.type, source.event.data, { eventId: source.eventId })],
          'any',
        );
      }
      if (!decider) continue;
      const state = states.get(s.correspondenceId) ?? initialState();
      const events = decider.decide(
        {
          type: 'RecordEvidence',
          correspondenceId: s.correspondenceId,
          sources: s.sources.slice(0, from + batch.length),
          context: s.context,
          recordedAt: new Date().toISOString(),
        },
        state,
      );
      if (events.length > 0)
        await store.append(
          streamIdOf(EVIDENCE_CATEGORY, s.correspondenceId),
          events.map((e) => pendingEvent(e.type, e.data)),
          'any',
        );
      states.set(s.correspondenceId, foldEvents({ initialState: () => state, evolve }, events));
    }
  }
}

async function recordCa(store: EventStore, signer: CertifierSigner): Promise<void> {
  const ca = describeCertificate(signer.caCertificatePem);
  await store.append(
    streamIdOf(CA_CATEGORY, ca.fingerprint.slice(0, 16)),
    [
      pendingEvent('CertificationAuthorityEstablished', {
        caId: ca.fingerprint.slice(0, 16),
        subject: ca.subject,
        certificatePem: signer.caCertificatePem,
        fingerprint: ca.fingerprint,
        notBefore: ca.notBefore,
        notAfter: ca.notAfter,
        establishedAt: ca.notBefore,
      }),
    ],
    'any',
  );
}

/** The log's events of some categories as the bus delivers them. */
export async function messagesOf(store: EventStore, categories: readonly string[]): Promise<DeliveredMessage[]> {
  const all = await store.readAll();
  return all
    .filter((event) => categories.some((category) => event.streamId.startsWith(`${category}-`)))
    .map((event) => ({ ...messageFromRecordedEvent(event, eventTopicForStream), partition: 0, offset: event.globalPosition.toString() }));
}

/**
 * The messages of `categories` in a realistic log (signed by a temporary CA, written to a store in memory), as the bus
 * delivers them: for specs that feed a projection directly. Registers its own beforeAll and afterAll (so call it in a
 * describe, before the hooks that read it); the getter throws when read before.
 */
export function realisticMessagesOf(categories: readonly string[]): () => DeliveredMessage[] {
  const { signer, cleanup } = temporarySigner();
  let messages: DeliveredMessage[] | undefined;
  beforeAll(async () => {
    const db = new Database(':memory:');
    const store = new SqliteEventStore({ db });
    await writeRealisticLog(store, realisticStories(), signer);
    messages = await messagesOf(store, categories);
    await store.close();
    db.close();
  });
  afterAll(() => cleanup());
  return () => {
    if (!messages) throw new Error('realisticMessagesOf: read in a test or a later hook, once its beforeAll has run');
    return messages;
  };
}
