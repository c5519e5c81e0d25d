import { randomUUID } from 'node:crypto';
import { type DeliveredMessage, type DomainEvent, eventTopicForStream, messageFromRecordedEvent } from '@sigillum/contracts';
import Database from 'better-sqlite3';
import { mailboxProjection } from './mailbox.projection';
import { chainsSummary, listChains, opsTimeline } from './ops-chains.queries';

const T0 = Date.parse('2026-11-01T09:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1_000).toISOString();
const hex = (c: string) => c.repeat(64);

/**
 * A failed chain retried by hand (ChainRetried), through the mailbox projection as its consumer applies it (real
 * SQLite): in flight again for ops, the retry on the timeline, stuck only by a deadline missed after it, failed again
 * by a later failure; and the same read model whatever the order the facts arrive in.
 */
describe('mailbox read model: a failed chain retried by hand', () => {
  const correspondenceId = randomUUID();
  const [senderId, recipientId, operatorId] = [randomUUID(), randomUUID(), randomUUID()];
  let position = 0;
  // Event ids in log order: events of one append share their time, and the timeline breaks that tie by event id.
  const eventIdAt = (at: number) => `${at.toString(16).padStart(8, '0')}-${randomUUID().slice(9)}`;

  function message(category: 'correspondence' | 'chain', event: DomainEvent): DeliveredMessage {
    position += 1;
    const streamId = `${category}-${correspondenceId}`;
    const recorded = {
      streamId,
      streamRevision: position,
      globalPosition: BigInt(position),
      event,
      metadata: { eventId: eventIdAt(position), correlationId: 'corr', causationId: 'cause', occurredAt: at(position), source: 'sigillum/test' },
    };
    return { ...messageFromRecordedEvent(recorded, eventTopicForStream), partition: 0, offset: String(position) };
  }
  const chain = (type: string, data: object) => message('chain', { type, version: 1, data });
  const token = (tokenId: string, stepIndex: number, step: string, attempt: number, issuedAt: number) =>
    chain('StepTokenIssued', {
      token: {
        tokenId,
        correspondenceId,
        stepIndex,
        step,
        attempt,
        operatorId,
        specificationVersion: 1,
        inputDigest: hex(String(stepIndex)),
        parameters: {},
        issuedAt: at(issuedAt),
        acknowledgeBy: at(issuedAt + 30),
        returnBy: at(issuedAt + 600),
      },
      signature: 'detached-jws',
    });
  const missed = (tokenId: string, stepIndex: number, step: string, seconds: number) =>
    chain('StepDeadlineMissed', {
      tokenId,
      correspondenceId,
      stepIndex,
      step,
      operatorId,
      missing: 'acknowledgement',
      deadline: at(seconds - 1),
      recordedAt: at(seconds),
    });
  const failed = (seconds: number) =>
    chain('ChainFailed', {
      correspondenceId,
      stepIndex: 1,
      step: 'archive',
      reasons: [{ rule: 'deadline.acknowledgement-missed', message: `no acknowledgement (${seconds})` }],
      failedAt: at(seconds),
    });
  const retried = (attempt: number, seconds: number) =>
    chain('ChainRetried', { correspondenceId, stepIndex: 1, attempt, requestedBy: 'ops-1', reason: `archive back (${attempt})`, retriedAt: at(seconds) });

  const submitted = message('correspondence', {
    type: 'SubmissionRequested',
    version: 1,
    data: {
      correspondenceId,
      draftId: randomUUID(),
      submissionKey: 'key-1',
      senderId,
      sessionId: randomUUID(),
      recipientIds: [recipientId],
      subject: 'Notice',
      kind: 'registered',
      requiredLevel: 'substantial',
      consignment: 'basic',
      parts: [{ digest: hex('e'), size: 10, contentType: 'application/pdf', name: 'letter.pdf' }],
      specimenDigest: hex('0'),
      validationProof: 'eyJhbGciOiJFZERTQSJ9.e30.c2ln',
      requestedAt: at(0),
    },
  });
  const untilFailure = [
    submitted,
    chain('ChainStarted', {
      correspondenceId,
      senderId,
      recipientIds: [recipientId],
      kind: 'registered',
      requiredLevel: 'substantial',
      consignment: 'basic',
      checkId: randomUUID(),
      policyId: 'eidas-default@1',
      steps: [
        { step: 'deliver', operatorId, parameters: {} },
        { step: 'archive', operatorId, parameters: {} },
      ],
      specimenDigest: hex('0'),
      submittedAt: at(0),
      startedAt: at(1),
    }),
    token('t-d1', 0, 'deliver', 1, 1),
    chain('StepCertified', {
      tokenId: 't-d1',
      correspondenceId,
      stepIndex: 0,
      step: 'deliver',
      operatorId,
      inputDigest: hex('0'),
      outputDigest: hex('1'),
      acknowledgedAt: at(2),
      returnedAt: at(3),
      certifiedAt: at(4),
    }),
    token('t-a1', 1, 'archive', 1, 4),
    missed('t-a1', 1, 'archive', 40),
    failed(40),
  ];
  const retry = [retried(2, 100), token('t-a2', 1, 'archive', 2, 100)];
  const missedAgain = missed('t-a2', 1, 'archive', 140);
  const failedAgain = failed(140);

  const fresh = () => {
    const db = new Database(':memory:');
    db.exec(mailboxProjection.schema);
    return db;
  };
  const apply = (db: Database.Database, messages: readonly DeliveredMessage[]) => {
    for (const delivered of messages) mailboxProjection.apply(db, delivered);
  };
  const item = (db: Database.Database) => listChains(db, { state: 'all', limit: 10 }).items[0];
  const ids = (db: Database.Database, state: 'in-flight' | 'stuck' | 'failed') => listChains(db, { state, limit: 10 }).items.map((i) => i.correspondenceId);
  const now = new Date(T0 + 3_600_000);

  it('failed, then in flight again once retried: not stuck by the deadline the retry answered, gone from the failures', () => {
    const db = fresh();
    apply(db, untilFailure);
    expect(item(db)).toMatchObject({ state: 'failed', chainFailedAt: at(40) });
    expect(chainsSummary(db, now)).toMatchObject({ inFlight: 0, failed: 1, recentFailures: [{ correspondenceId, failedAt: at(40) }] });

    apply(db, retry);
    expect(item(db)).toMatchObject({ state: 'in-flight', chainFailedAt: null, stuck: false, missedDeadlines: 1 });
    expect(ids(db, 'in-flight')).toEqual([correspondenceId]);
    expect(ids(db, 'stuck')).toEqual([]);
    expect(ids(db, 'failed')).toEqual([]);
    expect(chainsSummary(db, now)).toMatchObject({ inFlight: 1, stuck: 0, failed: 0, recentFailures: [] });

    const timeline = opsTimeline(db, correspondenceId)!;
    expect(timeline.history.map((entry) => entry.type).slice(-3)).toEqual(['ChainFailed', 'ChainRetried', 'StepTokenIssued']);
    expect(timeline.history.find((entry) => entry.type === 'ChainRetried')).toMatchObject({
      at: at(100),
      source: 'chain',
      details: { stepIndex: 1, attempt: 2, requestedBy: 'ops-1', retryReason: 'archive back (2)' },
    });
  });

  it('stuck by a deadline missed after the retry; failed again by a later failure, listed once with its last reasons', () => {
    const db = fresh();
    apply(db, [...untilFailure, ...retry, missedAgain]);
    expect(item(db)).toMatchObject({ state: 'in-flight', stuck: true, missedDeadlines: 2 });
    expect(ids(db, 'stuck')).toEqual([correspondenceId]);
    expect(chainsSummary(db, now)).toMatchObject({ inFlight: 1, stuck: 1 });

    apply(db, [failedAgain]);
    expect(item(db)).toMatchObject({ state: 'failed', chainFailedAt: at(140) });
    expect(chainsSummary(db, now)).toMatchObject({
      inFlight: 0,
      stuck: 0,
      failed: 1,
      recentFailures: [{ correspondenceId, failedAt: at(140), reasons: [{ rule: 'deadline.acknowledgement-missed', message: 'no acknowledgement (140)' }] }],
    });
  });

  it('is the same read model whatever the order of the facts, and when they are delivered twice', () => {
    const all = [...untilFailure, ...retry, missedAgain, failedAgain, retried(3, 200), token('t-a3', 1, 'archive', 3, 200)];
    const rowOf = (db: Database.Database) => db.prepare('SELECT * FROM rm_mailbox_correspondences').all();
    const inOrder = fresh();
    apply(inOrder, all);
    expect(item(inOrder)).toMatchObject({ state: 'in-flight', chainFailedAt: null, stuck: false });
    for (const order of [[...all].reverse(), [...all.slice(7), ...all.slice(0, 7)], [...all, ...all]]) {
      const other = fresh();
      apply(other, order);
      expect(rowOf(other)).toEqual(rowOf(inOrder));
      expect(item(other)).toEqual(item(inOrder));
    }
  });
});
