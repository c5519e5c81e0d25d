import { chainOf, RECIPIENT_IDS, TEST_NOW, testToken } from '../testing-fixtures';
import { performDeliver } from './deliver.step';
import { StepFailure } from './step-failure';

describe('deliver step', () => {
  const token = testToken({ step: 'deliver', stepIndex: 2 });

  it('routes to every recipient of the chain, at the time of delivery', () => {
    expect(performDeliver(token, chainOf(), TEST_NOW)).toEqual({ step: 'deliver', recipientIds: [...RECIPIENT_IDS], deliveredAt: TEST_NOW.toISOString() });
  });

  it('fails with a reason when the chain is unknown or names nobody', () => {
    expect(() => performDeliver(token, undefined, TEST_NOW)).toThrow(StepFailure);
    expect(() => performDeliver(token, undefined, TEST_NOW)).toThrow(/chain.unknown/);
    expect(() => performDeliver(token, chainOf({ recipientIds: [] }), TEST_NOW)).toThrow(/recipients.missing/);
  });
});
