import type { TrustCheckAnswered } from '@sigillum/contracts';
import { deciderSpecification } from '@sigillum/testing/decider-specification';
import { trustCheckDecider } from './trust-check.decider';
import { nameBasedId, sessionCheckId } from './trust-check.service';

const spec = deciderSpecification(trustCheckDecider);
const answer: TrustCheckAnswered['data'] = {
  checkId: 'c1',
  purpose: 'session',
  subjectOf: 's1',
  policyId: 'eidas-default@1',
  levelRequired: 'low',
  passed: true,
  verdicts: [{ partyId: 'p1', subjectRole: 'user', levelHeld: 'low', levelRequired: 'low', validNow: true, reasons: [] }],
  answeredAt: '2026-11-25T08:00:00.000Z',
};

describe('trust check decider', () => {
  it('given no answer, when an answer is recorded, then TrustCheckAnswered', () => {
    spec
      .given([])
      .when({ type: 'RecordTrustCheckAnswer', answer })
      .then([{ type: 'TrustCheckAnswered', version: 1, data: answer }]);
  });

  it('given an answer, when another is recorded, then nothing happens: the first answer stands', () => {
    spec
      .given([{ type: 'TrustCheckAnswered', version: 1, data: answer }])
      .when({ type: 'RecordTrustCheckAnswer', answer: { ...answer, passed: false } })
      .thenNothingHappens();
  });
});

describe('check ids', () => {
  it('are UUIDs derived from the name: the same session always gets the same check id', () => {
    expect(sessionCheckId('s1')).toBe(sessionCheckId('s1'));
    expect(sessionCheckId('s1')).not.toBe(sessionCheckId('s2'));
    expect(nameBasedId('x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
