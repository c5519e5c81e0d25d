import { type ChainEvent, type ChainStarted, DomainError, type ProcessingStep } from '@sigillum/contracts';
import { chainDecider, type ChainState } from '../chain.decider';
import { chainRetryRefusals, HAND_OVER_STEPS, operatorRefusals, retryRefusals, retryRefused } from './chain-retry';

const correspondenceId = 'c-1';
const operator = 'op-1';
const t = (seconds: number) => new Date(Date.UTC(2026, 5, 1, 12, 0, 0) + seconds * 1000).toISOString();
const digest = (c: string) => c.repeat(64);

/** The state of a chain of `steps` after these events (built with the decider's own evolve). */
const stateOf = (events: ChainEvent[]): ChainState => events.reduce(chainDecider.evolve, chainDecider.initialState());

const started = (steps: ProcessingStep[]): ChainEvent => ({
  type: 'ChainStarted',
  version: 1,
  data: {
    correspondenceId,
    senderId: 'alice',
    recipientIds: ['bob'],
    kind: 'test',
    requiredLevel: 'substantial',
    consignment: 'basic',
    checkId: 'check-1',
    policyId: 'eidas-default@1',
    steps: steps.map((step) => ({ step, operatorId: operator, parameters: {} })),
    specimenDigest: digest('a'),
    submittedAt: t(0),
    startedAt: t(1),
  } satisfies ChainStarted['data'],
});
const issued = (stepIndex: number, step: ProcessingStep, attempt = 1): ChainEvent => ({
  type: 'StepTokenIssued',
  version: 1,
  data: {
    token: {
      tokenId: `tok-${stepIndex}-${attempt}`,
      correspondenceId,
      stepIndex,
      step,
      attempt,
      operatorId: operator,
      specificationVersion: 1,
      inputDigest: digest(String(stepIndex)),
      parameters: {},
      issuedAt: t(10 * stepIndex + attempt),
      acknowledgeBy: t(100),
      returnBy: t(200),
    },
    signature: 'sig',
  },
});
const certified = (stepIndex: number, step: ProcessingStep): ChainEvent => ({
  type: 'StepCertified',
  version: 1,
  data: {
    tokenId: `tok-${stepIndex}-1`,
    correspondenceId,
    stepIndex,
    step,
    operatorId: operator,
    inputDigest: digest(String(stepIndex)),
    outputDigest: digest(String(stepIndex + 1)),
    acknowledgedAt: t(10 * stepIndex + 2),
    returnedAt: t(10 * stepIndex + 3),
    certifiedAt: t(10 * stepIndex + 4),
  },
});
const failed = (stepIndex: number, step: ProcessingStep): ChainEvent => ({
  type: 'ChainFailed',
  version: 1,
  data: { correspondenceId, stepIndex, step, reasons: [{ rule: 'deadline.acknowledgement-missed', message: 'no acknowledgement' }], failedAt: t(300) },
});
const retried = (stepIndex: number, attempt: number): ChainEvent => ({
  type: 'ChainRetried',
  version: 1,
  data: { correspondenceId, stepIndex, attempt, requestedBy: 'ops-1', reason: 'operator back', retriedAt: t(400 + attempt) },
});

/** A chain of `steps` whose steps before `failing` were certified, and which failed at `failing`. */
function failedAt(steps: ProcessingStep[], failing: number, extra: ChainEvent[] = []): ChainState {
  const events: ChainEvent[] = [started(steps)];
  for (let index = 0; index < failing; index += 1) events.push(issued(index, steps[index]), certified(index, steps[index]));
  events.push(issued(failing, steps[failing]), failed(failing, steps[failing]), ...extra);
  return stateOf(events);
}

const rules = (reasons: readonly { rule: string }[]) => reasons.map((reason) => reason.rule);
const policy = { maxManualRetries: 2 };
const valid = { partyId: operator, validNow: true, reasons: [] };
const registered: ProcessingStep[] = ['seal', 'timestamp', 'deliver', 'archive'];

describe('manual retry of a failed chain (rules/chain-retry.ts)', () => {
  it('hands over with deliver and print-and-post only', () => {
    expect([...HAND_OVER_STEPS].sort()).toEqual(['deliver', 'print-and-post']);
  });

  describe('1. only a failed chain', () => {
    it('given a chain failed after its hand-over, when nothing else stands in the way, then it may be retried', () => {
      expect(chainRetryRefusals(failedAt(registered, 3), policy)).toEqual([]);
      expect(retryRefusals(failedAt(registered, 3), policy, valid)).toEqual([]);
    });

    it('given a chain running, completed, refused or never started, then not-failed, saying what it is, and nothing else', () => {
      const running = stateOf([started(registered), issued(0, 'seal')]);
      const completed = stateOf([
        started(['deliver']),
        issued(0, 'deliver'),
        certified(0, 'deliver'),
        { type: 'ChainCompleted', version: 1, data: { correspondenceId, finalDigest: digest('1'), completedAt: t(9) } },
      ]);
      const refused = stateOf([
        {
          type: 'ChainRefused',
          version: 1,
          data: { correspondenceId, checkId: null, policyId: null, reasons: [{ rule: 'kind.unknown', message: 'no such kind' }], refusedAt: t(1) },
        },
      ]);
      const cases: [ChainState, RegExp][] = [
        [running, /running \(step 0, seal, attempt 1\)/],
        [completed, /completed at/],
        [refused, /delivery gate refused/],
        [chainDecider.initialState(), /no chain/],
      ];
      for (const [state, message] of cases) {
        const reasons = retryRefusals(state, { maxManualRetries: 0 }, { ...valid, validNow: false });
        expect(rules(reasons)).toEqual(['chain.retry.not-failed']);
        expect(reasons[0].message).toMatch(message);
      }
    });

    it('given a chain retried and running again (a retry replayed), then not-failed', () => {
      const again = failedAt(registered, 3, [retried(3, 2), issued(3, 'archive', 2)]);
      expect(rules(chainRetryRefusals(again, policy))).toEqual(['chain.retry.not-failed']);
    });
  });

  describe('2. only after the content reached its recipients', () => {
    it('given a failure at or before the hand-over step, then consignment-failed: the recipients hold terminal evidence', () => {
      for (const failing of [0, 1, 2]) {
        const reasons = chainRetryRefusals(failedAt(registered, failing), policy);
        expect(rules(reasons)).toEqual(['chain.retry.consignment-failed']);
        expect(reasons[0].message).toContain(`step ${failing} (${registered[failing]})`);
      }
      expect(rules(chainRetryRefusals(failedAt(['deliver'], 0), policy))).toEqual(['chain.retry.consignment-failed']);
    });

    it('given a failure after a print-and-post hand-over, then it may be retried', () => {
      expect(chainRetryRefusals(failedAt(['seal', 'timestamp', 'print-and-post', 'archive'], 3), policy)).toEqual([]);
    });
  });

  describe('3. at most CHAIN_MANUAL_RETRIES manual retries', () => {
    const failedTwice = failedAt(registered, 3, [retried(3, 2), issued(3, 'archive', 2), failed(3, 'archive')]);
    const failedThrice = failedAt(registered, 3, [
      retried(3, 2),
      issued(3, 'archive', 2),
      failed(3, 'archive'),
      retried(3, 3),
      issued(3, 'archive', 3),
      failed(3, 'archive'),
    ]);

    it('given fewer retries than the maximum, then allowed; given as many, then exhausted', () => {
      expect(chainRetryRefusals(failedTwice, policy)).toEqual([]);
      const reasons = chainRetryRefusals(failedThrice, policy);
      expect(rules(reasons)).toEqual(['chain.retry.exhausted']);
      expect(reasons[0].message).toBe('the chain was already retried 2 times, the most CHAIN_MANUAL_RETRIES allows (2)');
      expect(chainRetryRefusals(failedTwice, { maxManualRetries: 1 })[0].message).toBe(
        'the chain was already retried 1 time, the most CHAIN_MANUAL_RETRIES allows (1)',
      );
    });

    it('given CHAIN_MANUAL_RETRIES=0, then never', () => {
      expect(chainRetryRefusals(failedAt(registered, 3), { maxManualRetries: 0 })).toEqual([
        { rule: 'chain.retry.exhausted', message: 'manual retries are turned off (CHAIN_MANUAL_RETRIES=0)' },
      ]);
    });

    it('given several rules broken, then every reason at once', () => {
      expect(rules(retryRefusals(failedAt(registered, 1), { maxManualRetries: 0 }, { ...valid, validNow: false }))).toEqual([
        'chain.retry.consignment-failed',
        'chain.retry.exhausted',
        'chain.retry.operator-ineligible',
      ]);
    });
  });

  describe('4. to an operator valid now', () => {
    it("given a verdict not valid now, then operator-ineligible naming the operator and the verdict's rules once each", () => {
      const verdict = {
        partyId: operator,
        validNow: false,
        reasons: [
          { rule: 'attribute.revoked', message: 'accreditation revoked' },
          { rule: 'attribute.revoked', message: 'legal name revoked' },
          { rule: 'operator.unavailable', message: 'no longer offers archive' },
        ],
      };
      expect(operatorRefusals(verdict, 'archive')).toEqual([
        {
          rule: 'chain.retry.operator-ineligible',
          message: `operator ${operator}, whom the new token would go to, may not perform the archive step now (attribute.revoked, operator.unavailable)`,
          partyId: operator,
          subjectRole: 'operator',
        },
      ]);
      expect(operatorRefusals(valid, 'archive')).toEqual([]);
    });
  });

  it('refuses as a 409 domain error carrying every reason', () => {
    const reasons = chainRetryRefusals(failedAt(registered, 0), { maxManualRetries: 0 });
    const error = retryRefused(correspondenceId, reasons);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'CHAIN.RETRY_REFUSED', kind: 'conflict', reasons });
    expect(error.message).toBe('The chain of correspondence c-1 may not be retried: chain.retry.consignment-failed, chain.retry.exhausted');
  });
});
