import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { type DomainEvent, EVIDENCE_CATEGORY, JOB_CATEGORY, streamIdOf, TRUST_CHECK_CATEGORY } from '@sigillum/contracts';
import { type EventStore, SqliteEventStore } from '@sigillum/eventstore';
import { uuidGenerator } from '@sigillum/runtime/ids';
import { pendingEvent } from '@sigillum/testing';
import { createEvidenceDecider, initialState } from './evidence.decider';
import { evidenceIssuerOf, EvidenceService, recordSignerOf, signedEvents, SourceNotInStoreError } from './evidence.service';
import type { RecordSignatures } from './evidence.config';
import type { SourceEvent } from './evidence-sources';
import { verifyEvidenceChain } from '@sigillum/evidence';
import { CorrespondenceStory, temporarySigner } from './testing-fixtures';

const POLICY = 'urn:sigillum:policy:evidence:test';

/** Writes the story as its writers would (correspondence, chain, trust check and job streams), in story order. */
async function write(store: EventStore, story: CorrespondenceStory, sources: readonly SourceEvent[] = story.sources): Promise<void> {
  for (const [checkId, answer] of Object.entries(story.trustChecks)) {
    await store.append(streamIdOf(TRUST_CHECK_CATEGORY, checkId), [pendingEvent('TrustCheckAnswered', answer)], 'any').catch(() => undefined);
  }
  for (const job of story.jobEvents) {
    const streamId = streamIdOf(JOB_CATEGORY, job.tokenId);
    if ((await store.readStream(streamId)).length === 0)
      await store.append(
        streamId,
        job.events.map((e) => pendingEvent(e.type, e.data)),
        'no-stream',
      );
  }
  for (const source of sources) {
    await store.append(
      streamIdOf(source.category, story.correspondenceId),
      [pendingEvent(source.event.type, source.event.data, { eventId: source.eventId })],
      'any',
    );
  }
}

describe('EvidenceService (real SQLite store, real signer)', () => {
  const { signer, cleanup } = temporarySigner();
  const clock = { now: () => new Date() };
  let store: SqliteEventStore;
  const service = (s: EventStore = store, recordSignatures: RecordSignatures = 'jws') =>
    new EvidenceService(s, clock, uuidGenerator, signer, { policyId: POLICY, recordSignatures });
  const context = { correlationId: 'corr', causationId: 'cause' };

  beforeEach(() => {
    store = new SqliteEventStore({ filename: ':memory:' });
  });
  afterEach(() => store.close());
  afterAll(cleanup);

  function consentStory(): CorrespondenceStory {
    const story = new CorrespondenceStory({ consignment: 'consent', recipients: 2, ids: 'uuid' });
    story.submissionRequested();
    story.chainStarted();
    story.runChain();
    story.accepted('recipient-0001');
    story.handedOver('recipient-0001');
    story.refused('recipient-0002');
    return story;
  }

  it('records, whatever order the two topics deliver in, the evidence a single decision over the log gives, and it verifies', async () => {
    const story = consentStory();
    await write(store, story);
    const evidence = service();
    // Chain messages first, then correspondence ones in reverse: nothing like the log order.
    const triggers = [...story.sources.filter((s) => s.category === 'chain'), ...story.sources.filter((s) => s.category === 'correspondence').reverse()];
    await Promise.all(triggers.map((source) => evidence.record(story.correspondenceId, source.eventId, context)));
    await Promise.all(triggers.map((source) => evidence.record(story.correspondenceId, source.eventId, context))); // redelivered

    const served = await evidence.list(story.correspondenceId);
    const expected = createEvidenceDecider(evidenceIssuerOf(signer, POLICY)).decide(
      { type: 'RecordEvidence', correspondenceId: story.correspondenceId, sources: story.sources, context: story.context, recordedAt: 'any' },
      initialState(),
    );
    expect(served?.map((item) => item.record)).toEqual(expected.map((event) => event.data.record));
    // Ed25519 is deterministic: the service's signatures are the port's over the decided records.
    expect(served?.map((item) => item.jws)).toEqual(signedEvents(expected, recordSignerOf(signer, 'jws')).map((event) => event.data.jws));
    expect(served?.every((item) => typeof item.jws === 'string' && !('x5c' in JSON.parse(Buffer.from(item.jws.split('.')[0], 'base64url').toString())))).toBe(
      true,
    );
    expect(served?.map((item) => item.eventName)).toContain('ConsignmentRejection');
    const verdict = await evidence.verification(story.correspondenceId);
    expect(verdict).toMatchObject({ valid: true, problems: [] });
    expect(verifyEvidenceChain(served ?? [], signer.caCertificatePem, { certificates: [signer.certificatePem] }).valid).toBe(true);
    const stored = await store.readStream(streamIdOf(EVIDENCE_CATEGORY, story.correspondenceId));
    expect(stored.every((event) => event.metadata.source === '/sigillum/certifier' && event.metadata.correlationId === 'corr')).toBe(true);
  });

  it('by default (EVIDENCE_RECORD_SIGNATURES=none) records the same records without any signature: the evidence log vouches for them', async () => {
    const story = consentStory();
    await write(store, story);
    const evidence = service(store, 'none');
    for (const source of story.sources) await evidence.record(story.correspondenceId, source.eventId, context);
    const served = (await evidence.list(story.correspondenceId)) ?? [];
    expect(served.length).toBeGreaterThan(5);
    expect(served.some((item) => 'jws' in item)).toBe(false);
    const stored = await store.readStream(streamIdOf(EVIDENCE_CATEGORY, story.correspondenceId));
    expect(stored.some((event) => 'jws' in (event.event.data as object))).toBe(false);
    expect(await evidence.verification(story.correspondenceId)).toMatchObject({ valid: true, problems: [] });
  });

  it('two certifier processes racing on the same correspondence append each record once (expected version, retry)', async () => {
    const story = consentStory();
    await write(store, story);
    const [a, b] = [service(), service()];
    await Promise.all(
      story.sources.flatMap((source, index) => [
        a.record(story.correspondenceId, source.eventId, context),
        (index % 2 ? b : a).record(story.correspondenceId, story.sources[story.sources.length - 1 - index].eventId, context),
        b.record(story.correspondenceId, source.eventId, context),
      ]),
    );
    const served = (await a.list(story.correspondenceId)) ?? [];
    expect(served.map((item) => item.chainIndex)).toEqual(served.map((_, index) => index));
    expect(new Set(served.map((item) => item.evidenceId)).size).toBe(served.length);
    expect(verifyEvidenceChain(served, signer.caCertificatePem, { certificates: [signer.certificatePem] }).valid).toBe(true);
  });

  it('catches up as the log grows: evidence follows the log, appended after what was recorded', async () => {
    const story = consentStory();
    const cut = 6;
    await write(store, story, story.sources.slice(0, cut));
    const evidence = service();
    await evidence.record(story.correspondenceId, story.sources[cut - 1].eventId, context);
    const before = (await evidence.list(story.correspondenceId)) ?? [];
    await write(store, story, story.sources.slice(cut));
    await evidence.record(story.correspondenceId, story.sources[story.sources.length - 1].eventId, context);
    const after = (await evidence.list(story.correspondenceId)) ?? [];
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.length).toBeGreaterThan(before.length);
    expect(verifyEvidenceChain(after, signer.caCertificatePem, { certificates: [signer.certificatePem] }).valid).toBe(true);
  });

  it('refuses to act on a message the store does not show yet (the bus retries it)', async () => {
    const story = consentStory();
    await write(store, story, story.sources.slice(0, 2));
    await expect(service().record(story.correspondenceId, randomUUID(), context)).rejects.toBeInstanceOf(SourceNotInStoreError);
  });

  it('serves nothing for an unknown correspondence, an empty list for one known but not evidenced yet', async () => {
    const story = new CorrespondenceStory({ ids: 'uuid' });
    story.submissionRequested();
    await write(store, story);
    expect(await service().list(randomUUID())).toBeUndefined();
    expect(await service().verification(randomUUID())).toBeUndefined();
    expect(await service().list(story.correspondenceId)).toEqual([]);
  });

  it('leaves out a stored event without its contract shape and evidences the rest', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const story = new CorrespondenceStory({ ids: 'uuid' });
    story.submissionRequested();
    story.chainStarted();
    await write(store, story);
    const broken: DomainEvent = { type: 'DeliveredToRecipient', version: 1, data: { correspondenceId: story.correspondenceId, recipientId: 'recipient-0001' } };
    await store.append(streamIdOf('correspondence', story.correspondenceId), [pendingEvent(broken.type, broken.data)], 'any');
    await service().record(story.correspondenceId, story.sources[1].eventId, context);
    expect((await service().list(story.correspondenceId))?.map((item) => item.eventName)).toEqual([
      'sigillum:CorrespondenceValidatedBySender',
      'SubmissionAcceptance',
    ]);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/DeliveredToRecipient, event .* gives no evidence: tokenId must be a non-empty string/));
    warn.mockRestore();
  });
});
