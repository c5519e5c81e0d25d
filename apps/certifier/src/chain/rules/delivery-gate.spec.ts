import type { CorrespondenceKind, SubjectVerdict, SubmissionRequested, TrustCheckAnswered } from '@sigillum/contracts';
import type { SenderSession } from '../sender-session';
import { admitSubmission, deliveryDecision, reasonsOfFailedVerdicts } from './delivery-gate';

const t = (minutes: number) => new Date(Date.UTC(2026, 5, 1, 12, minutes)).toISOString();
const now = new Date(t(30));

const registered: CorrespondenceKind = { name: 'registered', requiredLevel: 'substantial', consignment: 'basic', chain: ['seal', 'deliver'] };
const kinds = [{ name: 'simple', requiredLevel: 'low', consignment: 'basic', chain: ['deliver'] } as CorrespondenceKind, registered];

const submission: SubmissionRequested['data'] = {
  correspondenceId: 'c-1',
  draftId: 'd-1',
  submissionKey: 'k-1',
  senderId: 'alice',
  sessionId: 's-1',
  recipientIds: ['bob', 'carol'],
  subject: 'Notice',
  kind: 'registered',
  requiredLevel: 'substantial',
  consignment: 'basic',
  parts: [{ digest: 'a'.repeat(64), size: 10, contentType: 'application/pdf', name: 'a.pdf' }],
  specimenDigest: 'b'.repeat(64),
  validationProof: 'x.y.z',
  requestedAt: t(5),
};

const openSession: SenderSession = { status: 'open', sessionId: 's-1', userId: 'alice', openedAt: t(1), absoluteExpiresAt: t(60), endedAt: null };

const verdict = (partyId: string, subjectRole: SubjectVerdict['subjectRole'], validNow = true, reasons: SubjectVerdict['reasons'] = []): SubjectVerdict => ({
  partyId,
  subjectRole,
  levelHeld: validNow ? 'substantial' : 'low',
  levelRequired: 'substantial',
  validNow,
  reasons,
});

const answer = (verdicts: SubjectVerdict[]): TrustCheckAnswered['data'] => ({
  checkId: 'check-1',
  purpose: 'delivery',
  subjectOf: 'c-1',
  policyId: 'eidas-default@1',
  levelRequired: 'substantial',
  passed: verdicts.every((v) => v.validNow),
  verdicts,
  answeredAt: now.toISOString(),
});

const everyoneValid = [
  verdict('alice', 'sender'),
  verdict('bob', 'recipient'),
  verdict('carol', 'recipient'),
  verdict('op-seal', 'operator'),
  verdict('op-deliver', 'operator'),
];

describe('the delivery gate', () => {
  describe("before the trust check: the kind and the sender's session", () => {
    it("given a configured kind and the sender's open session, when admitted, then the check asks for the sender, every recipient and the kind's chain at its level", () => {
      expect(admitSubmission(submission, kinds, openSession, now)).toEqual({
        admitted: true,
        kind: registered,
        check: {
          purpose: 'delivery',
          subjectOf: 'c-1',
          subjects: [
            { partyId: 'alice', subjectRole: 'sender' },
            { partyId: 'bob', subjectRole: 'recipient' },
            { partyId: 'carol', subjectRole: 'recipient' },
          ],
          levelRequired: 'substantial',
          correspondenceKind: 'registered',
        },
      });
    });

    it.each([
      ['an unknown kind', { kind: 'telegram' }, 'kind.unknown', 'unknown kind of correspondence "telegram"; known kinds: simple, registered'],
      [
        "another level than the kind's",
        { requiredLevel: 'low' as const },
        'kind.level-mismatch',
        'the kind registered requires the level substantial, the submission names low',
      ],
      [
        "another consignment than the kind's",
        { consignment: 'consent' as const },
        'kind.consignment-mismatch',
        'the kind registered is handed over in basic mode, the submission names consent',
      ],
    ])('given %s, then refused before any check, with no check id', (_, change, rule, message) => {
      expect(admitSubmission({ ...submission, ...change }, kinds, openSession, now)).toEqual({
        admitted: false,
        refusal: { correspondenceId: 'c-1', checkId: null, policyId: null, reasons: [{ rule, message }], refusedAt: now.toISOString() },
      });
    });

    it('given a submission outside an open session of the sender, then session.not-open naming the sender', () => {
      const admission = admitSubmission(submission, kinds, { status: 'unknown' }, now);
      expect(admission).toMatchObject({
        admitted: false,
        refusal: { checkId: null, reasons: [{ rule: 'session.not-open', partyId: 'alice', subjectRole: 'sender' }] },
      });
    });

    it('given an unknown kind and no session, then the kind is refused first', () => {
      expect(admitSubmission({ ...submission, kind: 'telegram' }, kinds, { status: 'unknown' }, now)).toMatchObject({
        refusal: { reasons: [{ rule: 'kind.unknown' }] },
      });
    });
  });

  describe("on the check's answer", () => {
    it('given every party and every chosen operator valid, then the chain starts with exactly the operators the check chose', () => {
      const decision = deliveryDecision(submission, registered, { answer: answer(everyoneValid), operators: ['op-seal', 'op-deliver'] }, now);
      expect(decision).toEqual({
        passed: true,
        started: {
          correspondenceId: 'c-1',
          senderId: 'alice',
          recipientIds: ['bob', 'carol'],
          kind: 'registered',
          requiredLevel: 'substantial',
          consignment: 'basic',
          checkId: 'check-1',
          policyId: 'eidas-default@1',
          steps: [
            { step: 'seal', operatorId: 'op-seal', parameters: {} },
            { step: 'deliver', operatorId: 'op-deliver', parameters: {} },
          ],
          specimenDigest: 'b'.repeat(64),
          submittedAt: t(5),
          startedAt: now.toISOString(),
        },
      });
    });

    it('given a recipient below the level, then refused with its reasons, naming the check and the policy', () => {
      const failing = [
        verdict('alice', 'sender'),
        verdict('bob', 'recipient', false, [{ rule: 'attribute.expired', message: 'legalName expired' }]),
        verdict('op-seal', 'operator'),
      ];
      expect(deliveryDecision(submission, registered, { answer: answer(failing), operators: ['op-seal', 'op-seal'] }, now)).toEqual({
        passed: false,
        refusal: {
          correspondenceId: 'c-1',
          checkId: 'check-1',
          policyId: 'eidas-default@1',
          reasons: [{ rule: 'attribute.expired', message: 'legalName expired', partyId: 'bob', subjectRole: 'recipient' }],
          refusedAt: now.toISOString(),
        },
      });
    });

    it('given an answer recorded by an earlier attempt and an operator chosen now that it did not check, then operator.unavailable for that step', () => {
      const decision = deliveryDecision(submission, registered, { answer: answer(everyoneValid), operators: ['op-seal', 'op-newcomer'] }, now);
      expect(decision).toMatchObject({
        passed: false,
        refusal: {
          checkId: 'check-1',
          reasons: [{ rule: 'operator.unavailable', message: 'the operator of step deliver changed during the check; send again', subjectRole: 'operator' }],
        },
      });
    });

    it('given no operator for a step, then operator.unavailable for it', () => {
      expect(deliveryDecision(submission, registered, { answer: answer(everyoneValid), operators: ['op-seal', null] }, now)).toMatchObject({
        passed: false,
        refusal: { reasons: [{ rule: 'operator.unavailable' }] },
      });
    });
  });

  describe('reasons of a failing check', () => {
    it('a failing verdict without its own reason reads as level.insufficient; a verdict without a party names none', () => {
      const noParty: SubjectVerdict = {
        ...verdict('', 'operator', false, [
          { rule: 'operator.unavailable', message: 'no processing operator offers the step deliver', subjectRole: 'operator' },
        ]),
      };
      expect(reasonsOfFailedVerdicts([verdict('alice', 'sender'), verdict('bob', 'recipient', false), noParty])).toEqual([
        { rule: 'level.insufficient', message: 'holds low, substantial required', partyId: 'bob', subjectRole: 'recipient' },
        { rule: 'operator.unavailable', message: 'no processing operator offers the step deliver', subjectRole: 'operator' },
      ]);
    });
  });
});
