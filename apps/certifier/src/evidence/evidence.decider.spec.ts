import type { EvidenceRecorded } from '@sigillum/contracts';
import { deciderSpecification } from '@sigillum/testing/decider-specification';
import { nameBasedId } from '@sigillum/runtime/ids';
import {
  createEvidenceDecider,
  type EvidenceState,
  initialState,
  evolve,
  MissingEvidenceContextError,
  planEvidence,
  type RecordEvidence,
} from './evidence.decider';
import type { EvidenceRecord } from './evidence-record';
import { recordDigestOf } from './evidence-record';
import { EMPTY_CONTEXT, type SourceEvent } from './evidence-sources';
import { ACCEPTANCE_WINDOW_MS, CorrespondenceStory, digestIssuer } from './testing-fixtures';

const decider = createEvidenceDecider(digestIssuer);
const spec = deciderSpecification(decider);
const RECORDED_AT = '2026-03-02T10:00:00.000Z';

const command = (story: CorrespondenceStory, sources: readonly SourceEvent[] = story.sources): RecordEvidence => ({
  type: 'RecordEvidence',
  correspondenceId: story.correspondenceId,
  sources,
  context: story.context,
  recordedAt: RECORDED_AT,
});

/** Given the evidence already recorded, when the story's sources arrive: the new events. */
function record(story: CorrespondenceStory, given: readonly EvidenceRecorded[] = [], sources: readonly SourceEvent[] = story.sources): EvidenceRecorded[] {
  let state: EvidenceState = initialState();
  for (const event of given) state = evolve(state, event);
  return [...decider.decide(command(story, sources), state)];
}

const records = (events: readonly EvidenceRecorded[]) => events.map((event) => event.data.record as unknown as EvidenceRecord);
const names = (events: readonly EvidenceRecorded[]) => events.map((event) => event.data.eventName);
const forRecipient = (events: readonly EvidenceRecorded[], recipientId: string) =>
  records(events).filter((r) => r.RecipientDetails.some((d) => d.partyId === recipientId));

describe('evidence decider', () => {
  it('given no evidence, when the submission is requested, then the sender validation is evidenced with every field', () => {
    const story = new CorrespondenceStory({ correspondenceId: 'c-0001' });
    const requested = story.submissionRequested();
    if (requested.event.type !== 'SubmissionRequested') throw new Error('unexpected');
    const submission = requested.event.data;
    const expectedRecord: EvidenceRecord = {
      version: 1,
      canonicalization: 'urn:ietf:rfc:8785',
      EvidenceIdentifier: nameBasedId(`evidence:c-0001:${requested.eventId}`),
      ERDSEventId: 'urn:sigillum:event:CorrespondenceValidatedBySender',
      eventName: 'sigillum:CorrespondenceValidatedBySender',
      EventTime: '2026-03-02T09:00:00.000Z',
      SubmissionTime: '2026-03-02T09:00:00.000Z',
      EvidenceIssuerPolicyID: digestIssuer.policyId,
      EvidenceIssuerDetails: digestIssuer.details,
      issuerRole: 'S-ERDS',
      SenderDetails: { partyId: story.senderId },
      RecipientDetails: [{ partyId: 'recipient-0001' }],
      MessageIdentifier: 'c-0001',
      UserContentInfo: {
        specimenDigest: submission.specimenDigest,
        PartsInfo: [
          {
            ContentType: 'application/pdf',
            size: 1234,
            DigestMethod: 'http://www.w3.org/2001/04/xmlenc#sha256',
            DigestValue: submission.parts[0].digest,
          },
        ],
      },
      consignmentMode: 'basic',
      correspondenceKind: 'registered',
      requiredLevel: 'substantial',
      chainIndex: 0,
      previousEvidenceDigest: null,
      sourceEventId: requested.eventId,
      sourceEventType: 'SubmissionRequested',
      validation: {
        specimenDigest: submission.specimenDigest,
        sessionId: 'session-sender',
        proof: submission.validationProof,
      },
    };
    spec
      .given([])
      .when(command(story))
      .then([
        {
          type: 'EvidenceRecorded',
          version: 1,
          data: {
            evidenceId: expectedRecord.EvidenceIdentifier,
            correspondenceId: 'c-0001',
            chainIndex: 0,
            eventName: 'sigillum:CorrespondenceValidatedBySender',
            record: expectedRecord as unknown as Record<string, unknown>,
            recordDigest: recordDigestOf(expectedRecord),
            previousEvidenceDigest: null,
            recordedAt: RECORDED_AT,
          },
        },
      ]);
  });

  it('given nothing, when a whole basic delivery happened, then every legal fact is evidenced in log order, hash-chained from index 0', () => {
    const story = new CorrespondenceStory();
    story.submissionRequested();
    story.chainStarted();
    story.runChain();
    story.handedOver('recipient-0001');
    const events = record(story);
    expect(names(events)).toEqual([
      'sigillum:CorrespondenceValidatedBySender',
      'SubmissionAcceptance',
      'sigillum:CertificationTokenIssued',
      'sigillum:CertificationTokenReturned',
      'sigillum:CertificationTokenIssued',
      'sigillum:CertificationTokenReturned',
      'sigillum:CertificationTokenIssued',
      'sigillum:CertificationTokenReturned',
      'ContentConsignment',
      'sigillum:CertificationTokenIssued',
      'sigillum:CertificationTokenReturned',
      'ContentHandover',
    ]);
    events.forEach((event, index) => {
      expect(event.data.chainIndex).toBe(index);
      expect(event.data.record.chainIndex).toBe(index);
      expect(event.data.previousEvidenceDigest).toBe(index === 0 ? null : events[index - 1].data.recordDigest);
      expect(event.data.recordDigest).toBe(recordDigestOf(event.data.record));
      expect(event.data.record.SubmissionTime).toBe('2026-03-02T09:00:00.000Z');
    });
    const [acceptance] = records(events).filter((r) => r.eventName === 'SubmissionAcceptance');
    expect(acceptance.ERDSEventId).toBe('http://uri.etsi.org/19522/Event/SubmissionAcceptance');
    expect(acceptance.trustAttestation).toMatchObject({
      checkId: story.checkId,
      policyId: 'eidas-default@1',
      passed: true,
      verdicts: [
        { partyId: story.senderId, subjectRole: 'sender', levelHeld: 'high', levelRequired: 'substantial' },
        { partyId: 'recipient-0001', subjectRole: 'recipient', levelHeld: 'substantial', levelRequired: 'substantial' },
      ],
    });
    const returned = records(events).find((r) => r.eventName === 'sigillum:CertificationTokenReturned' && r.processingTokens?.[0].stepId === 'timestamp');
    expect(returned?.processingTokens?.[0]).toMatchObject({
      stepIndex: 1,
      operatorId: 'operator-timestamp',
      attempt: 1,
      operatorKeyId: 'key-operator-timestamp',
      acknowledgementSignature: 'eyJhbGciOiJFZERTQSJ9..ack-1',
      reportSignature: 'eyJhbGciOiJFZERTQSJ9..report-1',
    });
    const issued = records(events).find((r) => r.eventName === 'sigillum:CertificationTokenIssued' && r.certificationToken?.stepIndex === 1);
    expect(issued?.tokenDigest).toBe(returned?.processingTokens?.[0].tokenDigest); // what the operator acknowledged
    const consignment = records(events).find((r) => r.eventName === 'ContentConsignment');
    expect(consignment).toMatchObject({
      issuerRole: 'R-ERDS',
      RecipientDetails: [{ partyId: 'recipient-0001' }],
      expiresAt: story.acceptByOf('recipient-0001'),
    });
    expect(JSON.stringify(events)).not.toContain('Mise en demeure'); // the subject is private: never in evidence
    expect(JSON.stringify(events)).not.toContain('letter.pdf');
  });

  it('given everything recorded, when the same sources arrive again, then nothing happens', () => {
    const story = new CorrespondenceStory();
    story.submissionRequested();
    story.chainStarted();
    story.runChain();
    const first = record(story);
    spec.given(first).when(command(story)).thenNothingHappens();
  });

  it('given the first facts recorded, when later facts arrive, then the new records chain after the last one and equal a single run', () => {
    const story = new CorrespondenceStory();
    story.submissionRequested();
    story.chainStarted();
    const cut = story.sources.length;
    story.runChain();
    story.accepted('recipient-0001');
    const first = record(story, [], story.sources.slice(0, cut));
    const second = record(story, first, story.sources);
    expect([...first, ...second].map((e) => e.data.record)).toEqual(record(story).map((e) => e.data.record));
  });

  it('given a consent-mode notification, when the content is handed over before acceptance, then no ContentHandover is evidenced', () => {
    const story = new CorrespondenceStory({ consignment: 'consent' });
    story.submissionRequested();
    story.chainStarted();
    story.runChain();
    const handover = story.handedOver('recipient-0001');
    const plan = planEvidence(initialState(), command(story), digestIssuer);
    expect(plan.records.map(({ record }) => record.eventName)).not.toContain('ContentHandover');
    expect(plan.records.map(({ record }) => record.eventName)).toContain('NotificationForAcceptance');
    expect(plan.ignored).toEqual([expect.objectContaining({ sourceEventId: handover.eventId, rule: 'handover.before-acceptance' })]);
  });

  it('given a consent-mode notification, when the recipient accepts then retrieves, then ConsignmentAcceptance then ContentHandover', () => {
    const story = new CorrespondenceStory({ consignment: 'consent' });
    story.submissionRequested();
    story.chainStarted();
    story.runChain();
    story.accepted('recipient-0001');
    story.handedOver('recipient-0001');
    const answers = forRecipient(record(story), 'recipient-0001').filter((r) => r.issuerRole === 'R-ERDS');
    expect(answers.map((r) => r.eventName)).toEqual(['NotificationForAcceptance', 'ConsignmentAcceptance', 'ContentHandover']);
  });

  it('given a notification, when the recipient refuses, then ConsignmentRejection with the reason, and nothing after it', () => {
    const story = new CorrespondenceStory({ consignment: 'consent' });
    story.submissionRequested();
    story.chainStarted();
    story.runChain();
    story.refused('recipient-0001', 60, 'Not my address');
    story.accepted('recipient-0001');
    story.handedOver('recipient-0001');
    const mine = forRecipient(record(story), 'recipient-0001');
    const rejection = mine.find((r) => r.eventName === 'ConsignmentRejection');
    expect(rejection?.EventReasons).toEqual([
      { code: 'recipient.refused', uri: 'urn:sigillum:reason:recipient.refused', text: 'Not my address', partyId: 'recipient-0001', subjectRole: 'recipient' },
    ]);
    expect(mine[mine.length - 1].eventName).toBe('ConsignmentRejection');
  });

  it('given a refusal without a reason, then the rejection still carries one', () => {
    const story = new CorrespondenceStory();
    story.submissionRequested();
    story.chainStarted();
    story.runChain();
    story.refused('recipient-0001', 60, null);
    const rejection = records(record(story)).find((r) => r.eventName === 'ConsignmentRejection');
    expect(rejection?.EventReasons?.[0]).toMatchObject({ code: 'recipient.refused', text: 'The recipient refused the correspondence' });
  });

  it('given a notification, when the window expires at the deadline, then AcceptanceRejectionExpiry at or after expiresAt; a premature expiry gives nothing', () => {
    const story = new CorrespondenceStory({ consignment: 'consent' });
    story.submissionRequested();
    story.chainStarted();
    story.runChain();
    const acceptBy = story.acceptByOf('recipient-0001');
    const premature = story.expired('recipient-0001', acceptBy, new Date(Date.parse(acceptBy) - 1000).toISOString());
    story.expired('recipient-0001', acceptBy, acceptBy);
    const plan = planEvidence(initialState(), command(story), digestIssuer);
    expect(plan.ignored).toEqual([expect.objectContaining({ sourceEventId: premature.eventId, rule: 'expiry.premature' })]);
    const expiry = plan.records.map(({ record }) => record).find((r) => r.eventName === 'AcceptanceRejectionExpiry');
    expect(expiry).toMatchObject({ EventTime: acceptBy, expiresAt: acceptBy, EventReasons: [expect.objectContaining({ code: 'acceptance.window-expired' })] });
  });

  it('given a notification, when the recipient accepts after the deadline, then the window had closed: AcceptanceRejectionExpiry, never a late acceptance', () => {
    const story = new CorrespondenceStory({ consignment: 'consent' });
    story.submissionRequested();
    story.chainStarted();
    story.runChain();
    story.wait(ACCEPTANCE_WINDOW_MS);
    story.accepted('recipient-0001', 1);
    story.handedOver('recipient-0001');
    const mine = forRecipient(record(story), 'recipient-0001');
    expect(mine.map((r) => r.eventName)).not.toContain('ConsignmentAcceptance');
    expect(mine.map((r) => r.eventName)).not.toContain('ContentHandover');
    const expiry = mine.find((r) => r.eventName === 'AcceptanceRejectionExpiry');
    expect(Date.parse(expiry?.EventTime as string)).toBeGreaterThanOrEqual(Date.parse(expiry?.expiresAt as string));
    expect(expiry?.EventReasons?.[0].code).toBe('acceptance.window-closed');
  });

  it('given a gate refusal, then SubmissionRejection with its reasons and the failed check, and no recipient evidence afterwards', () => {
    const story = new CorrespondenceStory({ recipients: 2 });
    story.submissionRequested();
    story.chainRefused();
    story.delivered('recipient-0001');
    story.chainFailed(0);
    const events = record(story);
    expect(names(events)).toEqual(['sigillum:CorrespondenceValidatedBySender', 'SubmissionRejection']);
    const rejection = records(events)[1];
    expect(rejection).toMatchObject({
      issuerRole: 'S-ERDS',
      RecipientDetails: [{ partyId: 'recipient-0001' }, { partyId: 'recipient-0002' }],
      EventReasons: [{ code: 'level.insufficient', text: 'recipient holds low, substantial required' }],
      trustAttestation: { passed: false, verdicts: expect.arrayContaining([expect.objectContaining({ partyId: 'recipient-0001', levelHeld: 'low' })]) },
    });
  });

  it('given a chain failing before delivery, then ContentConsignmentFailure for every recipient not reached', () => {
    const story = new CorrespondenceStory({ recipients: 2 });
    story.submissionRequested();
    story.chainStarted();
    story.tokenIssued(0);
    story.stepDeadlineMissed(0, 'acknowledgement');
    story.chainFailed(0);
    const events = record(story);
    expect(names(events).slice(-2)).toEqual(['sigillum:CertificationTokenMissing', 'ContentConsignmentFailure']);
    const [missing, failure] = records(events).slice(-2);
    expect(missing.EventReasons?.[0]).toMatchObject({ code: 'token.acknowledgement-missing', partyId: 'operator-seal', subjectRole: 'operator' });
    expect(failure).toMatchObject({
      RecipientDetails: [{ partyId: 'recipient-0001' }, { partyId: 'recipient-0002' }],
      EventReasons: [{ code: 'retries.exhausted' }],
    });
  });

  it('given a chain failing after delivery (archive), then the chain failure is evidenced without closing the recipients', () => {
    const story = new CorrespondenceStory();
    story.submissionRequested();
    story.chainStarted();
    [0, 1, 2].forEach((index) => {
      story.tokenIssued(index);
      story.stepCertified(index);
    });
    story.delivered('recipient-0001');
    story.tokenIssued(3);
    story.stepNonCompliant(3);
    story.chainFailed(3);
    story.handedOver('recipient-0001');
    expect(names(record(story)).slice(-4)).toEqual([
      'sigillum:CertificationTokenIssued',
      'sigillum:CertificationTokenMismatch',
      'sigillum:ProcessingChainFailed',
      'ContentHandover',
    ]);
  });

  it('given negative facts recorded without reasons, then their evidence says the reason was not stated', () => {
    const story = new CorrespondenceStory();
    story.submissionRequested();
    story.chainStarted();
    story.tokenIssued(0);
    story.stepNonCompliant(0, 1, []);
    story.chainFailed(0, 1, []);
    for (const r of records(record(story)).slice(-2)) expect(r.EventReasons).toEqual([expect.objectContaining({ code: 'reason.unstated' })]);
  });

  it('given a certified step whose job is not known, then the decider refuses to guess', () => {
    const story = new CorrespondenceStory();
    story.submissionRequested();
    story.chainStarted();
    story.tokenIssued(0);
    story.stepCertified(0);
    spec
      .given([])
      .when({ ...command(story), context: { ...story.context, jobs: {} } })
      .thenThrows((error) => expect(error).toBeInstanceOf(MissingEvidenceContextError));
    spec
      .given([])
      .when({ ...command(story), context: EMPTY_CONTEXT })
      .thenThrows((error) => expect(error.message).toMatch(/trustcheck-/));
  });

  it('given evidence already recorded, then the facts it quoted are not needed again', () => {
    const story = new CorrespondenceStory();
    story.submissionRequested();
    story.chainStarted();
    story.tokenIssued(0);
    story.stepCertified(0);
    const first = record(story);
    story.tokenIssued(1);
    const next = decider.decide({ ...command(story), context: EMPTY_CONTEXT }, first.reduce(evolve, initialState()));
    expect(names(next)).toEqual(['sigillum:CertificationTokenIssued']);
    expect(next[0].data.previousEvidenceDigest).toBe(first[first.length - 1].data.recordDigest);
  });

  it('given a duplicate of a fact under another id, then it is evidenced once', () => {
    const story = new CorrespondenceStory();
    story.submissionRequested();
    story.chainStarted();
    story.runChain();
    const handover = story.handedOver('recipient-0001');
    const duplicate = { ...handover, eventId: `${handover.eventId}-again` };
    const events = record(story, [], [...story.sources, duplicate, handover]);
    expect(names(events).filter((name) => name === 'ContentHandover')).toHaveLength(1);
  });

  it('refuses to mix correspondences in one evidence stream', () => {
    const story = new CorrespondenceStory();
    story.submissionRequested();
    const other = new CorrespondenceStory();
    other.submissionRequested();
    spec
      .given(record(story))
      .when(command(other))
      .thenThrows((error) => expect(error.message).toMatch(/cannot record sources/));
  });
});
