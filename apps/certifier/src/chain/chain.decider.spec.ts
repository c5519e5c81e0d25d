import type { CertificationToken, ChainEvent, ChainStarted, ProcessingStep, Reason } from '@sigillum/contracts';
import { DomainError } from '@sigillum/contracts';
import { deciderSpecification } from '@sigillum/testing/decider-specification';
import { type ChainCommand, chainDecider, type ChainState, type IssuedToken, openTokenOf, tokenOf } from './chain.decider';
import { missedDeadlineReason } from './rules/token-deadlines';

const missedDeadlineReasonOf = (token: IssuedToken) => missedDeadlineReason(token.token, 'acknowledgement');

const spec = deciderSpecification(chainDecider);

const correspondenceId = 'c0rr-0001';
const sealer = 'op-sealer';
const deliverer = 'op-deliverer';
const backup = 'op-backup';
const specimen = 'a'.repeat(64);
const sealed = 'b'.repeat(64);
const delivered = 'c'.repeat(64);
const at = (seconds: number) => new Date(Date.UTC(2026, 5, 1, 12, 0, 0) + seconds * 1000);
const t = (seconds: number) => at(seconds).toISOString();

const started: ChainStarted['data'] = {
  correspondenceId,
  senderId: 'alice',
  recipientIds: ['bob'],
  kind: 'test',
  requiredLevel: 'substantial',
  consignment: 'basic',
  checkId: 'check-1',
  policyId: 'eidas-default@1',
  steps: [
    { step: 'seal', operatorId: sealer, parameters: {} },
    { step: 'deliver', operatorId: deliverer, parameters: {} },
  ],
  specimenDigest: specimen,
  submittedAt: t(0),
  startedAt: t(1),
};

function issued(overrides: Partial<CertificationToken> & { tokenId: string }, issuedAtSeconds = 1): IssuedToken {
  return {
    token: {
      correspondenceId,
      stepIndex: 0,
      step: 'seal' as ProcessingStep,
      attempt: 1,
      operatorId: sealer,
      specificationVersion: 1,
      inputDigest: specimen,
      parameters: {},
      issuedAt: t(issuedAtSeconds),
      acknowledgeBy: t(issuedAtSeconds + 10),
      returnBy: t(issuedAtSeconds + 20),
      ...overrides,
    },
    signature: `sig-${overrides.tokenId}`,
  };
}

const sealToken = issued({ tokenId: 'tok-seal-1' });
const sealRetry = issued({ tokenId: 'tok-seal-2', attempt: 2, operatorId: backup }, 30);
const sealThird = issued({ tokenId: 'tok-seal-3', attempt: 3 }, 60);
const deliverToken = issued({ tokenId: 'tok-deliver-1', stepIndex: 1, step: 'deliver', operatorId: deliverer, inputDigest: sealed }, 5);

const E = {
  started: (): ChainEvent => ({ type: 'ChainStarted', version: 1, data: started }),
  issued: (token: IssuedToken): ChainEvent => ({ type: 'StepTokenIssued', version: 1, data: token }),
  certified: (token: IssuedToken, outputDigest: string, seconds: number): ChainEvent => ({
    type: 'StepCertified',
    version: 1,
    data: {
      tokenId: token.token.tokenId,
      correspondenceId,
      stepIndex: token.token.stepIndex,
      step: token.token.step,
      operatorId: token.token.operatorId,
      inputDigest: token.token.inputDigest,
      outputDigest,
      acknowledgedAt: t(seconds - 2),
      returnedAt: t(seconds - 1),
      certifiedAt: t(seconds),
    },
  }),
  nonCompliant: (token: IssuedToken, reasons: Reason[], seconds: number): ChainEvent => ({
    type: 'StepNonCompliant',
    version: 1,
    data: {
      tokenId: token.token.tokenId,
      correspondenceId,
      stepIndex: token.token.stepIndex,
      step: token.token.step,
      operatorId: token.token.operatorId,
      reasons,
      recordedAt: t(seconds),
    },
  }),
  missed: (token: IssuedToken, missing: 'acknowledgement' | 'return', seconds: number): ChainEvent => ({
    type: 'StepDeadlineMissed',
    version: 1,
    data: {
      tokenId: token.token.tokenId,
      correspondenceId,
      stepIndex: token.token.stepIndex,
      step: token.token.step,
      operatorId: token.token.operatorId,
      missing,
      deadline: missing === 'acknowledgement' ? token.token.acknowledgeBy : token.token.returnBy,
      recordedAt: t(seconds),
    },
  }),
  failed: (token: IssuedToken, reasons: Reason[], seconds: number): ChainEvent => ({
    type: 'ChainFailed',
    version: 1,
    data: { correspondenceId, stepIndex: token.token.stepIndex, step: token.token.step, reasons, failedAt: t(seconds) },
  }),
  completed: (finalDigest: string, seconds: number): ChainEvent => ({
    type: 'ChainCompleted',
    version: 1,
    data: { correspondenceId, finalDigest, completedAt: t(seconds) },
  }),
  refused: (reasons: Reason[]): ChainEvent => ({
    type: 'ChainRefused',
    version: 1,
    data: { correspondenceId, checkId: 'check-1', policyId: 'eidas-default@1', reasons, refusedAt: t(1) },
  }),
};

const badSeal: Reason[] = [{ rule: 'digest.output-mismatch', message: 'tampered', partyId: sealer, subjectRole: 'operator' }];
const levelReason: Reason[] = [{ rule: 'level.insufficient', message: 'holds low, substantial required', partyId: 'bob', subjectRole: 'recipient' }];

const start = (firstToken: IssuedToken = sealToken): ChainCommand => ({ type: 'StartChain', started, firstToken });
const certify = (tokenId: string, outputDigest: string, nextToken: IssuedToken | null, seconds = 4): ChainCommand => ({
  type: 'CertifyStep',
  tokenId,
  acknowledgedAt: t(seconds - 2),
  returnedAt: t(seconds - 1),
  outputDigest,
  nextToken,
  now: at(seconds),
});
const nonCompliance = (tokenId: string, retryToken: IssuedToken | null, seconds = 30, reasons = badSeal, maxAttempts = 3): ChainCommand => ({
  type: 'RecordNonCompliance',
  tokenId,
  reasons,
  retryToken,
  maxAttempts,
  now: at(seconds),
});
const deadline = (tokenId: string, missing: 'acknowledgement' | 'return', retryToken: IssuedToken | null, seconds: number, maxAttempts = 3): ChainCommand => ({
  type: 'RecordDeadlineMissed',
  tokenId,
  missing,
  retryToken,
  maxAttempts,
  now: at(seconds),
});

const invalidToken = (error: Error) => {
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe('CHAIN.TOKEN_INVALID');
};

const fold = (events: ChainEvent[]): ChainState => events.reduce(chainDecider.evolve, chainDecider.initialState());

describe('chain decider', () => {
  describe('StartChain (the delivery gate passed)', () => {
    it('given nothing, records the plan and the first token in one decision', () => {
      spec
        .given([])
        .when(start())
        .then([E.started(), E.issued(sealToken)]);
    });

    it('given a chain already started (a redelivered submission), does nothing', () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(start(issued({ tokenId: 'tok-other' })))
        .thenNothingHappens();
    });

    it('given a refused chain, does nothing: the refusal stands', () => {
      spec
        .given([E.refused(levelReason)])
        .when(start())
        .thenNothingHappens();
    });

    it('refuses a first token that does not take the specimen as input', () => {
      spec
        .given([])
        .when(start(issued({ tokenId: 'tok-x', inputDigest: sealed })))
        .thenThrows(invalidToken);
    });

    it('refuses a first token for another operator than the plan names', () => {
      spec
        .given([])
        .when(start(issued({ tokenId: 'tok-x', operatorId: backup })))
        .thenThrows(invalidToken);
    });

    it('refuses a first token that is not attempt 1 of step 0', () => {
      spec
        .given([])
        .when(start(issued({ tokenId: 'tok-x', attempt: 2 })))
        .thenThrows(invalidToken);
      spec
        .given([])
        .when(start(issued({ tokenId: 'tok-x', stepIndex: 1 })))
        .thenThrows(invalidToken);
    });

    it('refuses a token of another correspondence, an unsigned token, and deadlines out of order', () => {
      spec
        .given([])
        .when(start(issued({ tokenId: 'tok-x', correspondenceId: 'other' })))
        .thenThrows(invalidToken);
      spec
        .given([])
        .when(start({ ...sealToken, signature: '' }))
        .thenThrows(invalidToken);
      spec
        .given([])
        .when(start(issued({ tokenId: 'tok-x', acknowledgeBy: t(30), returnBy: t(20) })))
        .thenThrows(invalidToken);
    });

    it('refuses a chain without steps', () => {
      spec
        .given([])
        .when({ type: 'StartChain', started: { ...started, steps: [] }, firstToken: sealToken })
        .thenThrows((error) => expect((error as DomainError).code).toBe('CHAIN.EMPTY'));
    });
  });

  describe('RefuseChain', () => {
    const refuse = (reasons: Reason[]): ChainCommand => ({
      type: 'RefuseChain',
      refusal: { correspondenceId, checkId: 'check-1', policyId: 'eidas-default@1', reasons, refusedAt: t(1) },
    });

    it('given nothing, records the refusal with its reasons', () => {
      spec
        .given([])
        .when(refuse(levelReason))
        .then([E.refused(levelReason)]);
    });

    it('given a started chain or a refusal, does nothing', () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(refuse(levelReason))
        .thenNothingHappens();
      spec
        .given([E.refused(levelReason)])
        .when(refuse(levelReason))
        .thenNothingHappens();
    });

    it('refuses a refusal without a reason', () => {
      spec
        .given([])
        .when(refuse([]))
        .thenThrows((error) => expect((error as DomainError).code).toBe('CHAIN.REFUSAL_WITHOUT_REASON'));
    });
  });

  describe('CertifyStep (a compliant return)', () => {
    it("certifies a step and issues the next step's token over its output in the same decision", () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(certify('tok-seal-1', sealed, deliverToken))
        .then([E.certified(sealToken, sealed, 4), E.issued(deliverToken)]);
    });

    it('certifies the last step and completes the chain with the final digest', () => {
      spec
        .given([E.started(), E.issued(sealToken), E.certified(sealToken, sealed, 4), E.issued(deliverToken)])
        .when(certify('tok-deliver-1', delivered, null, 9))
        .then([E.certified(deliverToken, delivered, 9), E.completed(delivered, 9)]);
    });

    it('does nothing for a token already settled (a redelivered return) or superseded by a retry', () => {
      spec
        .given([E.started(), E.issued(sealToken), E.certified(sealToken, sealed, 4), E.issued(deliverToken)])
        .when(certify('tok-seal-1', sealed, deliverToken))
        .thenNothingHappens();
      spec
        .given([E.started(), E.issued(sealToken), E.nonCompliant(sealToken, badSeal, 30), E.issued(sealRetry)])
        .when(certify('tok-seal-1', sealed, deliverToken))
        .thenNothingHappens();
    });

    it('does nothing for an unknown token, a chain never started, or one completed', () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(certify('tok-nobody', sealed, deliverToken))
        .thenNothingHappens();
      spec
        .given([])
        .when(certify('tok-seal-1', sealed, deliverToken))
        .thenNothingHappens();
      spec
        .given([
          E.started(),
          E.issued(sealToken),
          E.certified(sealToken, sealed, 4),
          E.issued(deliverToken),
          E.certified(deliverToken, delivered, 9),
          E.completed(delivered, 9),
        ])
        .when(certify('tok-deliver-1', delivered, null, 9))
        .thenNothingHappens();
    });

    it('breaks no digest chain: the next token must take exactly the certified output', () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(certify('tok-seal-1', delivered, deliverToken))
        .thenThrows(invalidToken);
    });

    it('needs the next token while steps remain, and none after the last', () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(certify('tok-seal-1', sealed, null))
        .thenThrows(invalidToken);
      spec
        .given([E.started(), E.issued(sealToken), E.certified(sealToken, sealed, 4), E.issued(deliverToken)])
        .when(certify('tok-deliver-1', delivered, issued({ tokenId: 'tok-extra', stepIndex: 2 })))
        .thenThrows(invalidToken);
    });

    it('refuses a next token for another operator than the plan names', () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(certify('tok-seal-1', sealed, issued({ tokenId: 'tok-d', stepIndex: 1, step: 'deliver', operatorId: backup, inputDigest: sealed })))
        .thenThrows(invalidToken);
    });
  });

  describe("RecordNonCompliance (a return that does not comply, or the operator's StepFailed)", () => {
    it('records the reasons and retries (a new token, next attempt, same input) in the same decision', () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(nonCompliance('tok-seal-1', sealRetry))
        .then([E.nonCompliant(sealToken, badSeal, 30), E.issued(sealRetry)]);
    });

    it("fails the chain with the last reasons once the step's attempts are spent", () => {
      spec
        .given([
          E.started(),
          E.issued(sealToken),
          E.nonCompliant(sealToken, badSeal, 30),
          E.issued(sealRetry),
          E.nonCompliant(sealRetry, badSeal, 55),
          E.issued(sealThird),
        ])
        .when(nonCompliance('tok-seal-3', issued({ tokenId: 'tok-seal-4', attempt: 4 }, 90), 90))
        .then([E.nonCompliant(sealThird, badSeal, 90), E.failed(sealThird, badSeal, 90)]);
    });

    it('fails the chain when no retry token could be prepared', () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(nonCompliance('tok-seal-1', null))
        .then([E.nonCompliant(sealToken, badSeal, 30), E.failed(sealToken, badSeal, 30)]);
    });

    it('with one attempt allowed, fails at the first non-compliance', () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(nonCompliance('tok-seal-1', sealRetry, 30, badSeal, 1))
        .then([E.nonCompliant(sealToken, badSeal, 30), E.failed(sealToken, badSeal, 30)]);
    });

    it('does nothing for a token that is not the open one', () => {
      spec
        .given([E.started(), E.issued(sealToken), E.nonCompliant(sealToken, badSeal, 30), E.issued(sealRetry)])
        .when(nonCompliance('tok-seal-1', sealThird))
        .thenNothingHappens();
      spec
        .given([E.refused(levelReason)])
        .when(nonCompliance('tok-seal-1', sealRetry))
        .thenNothingHappens();
    });

    it('refuses a non-compliance without a reason', () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(nonCompliance('tok-seal-1', sealRetry, 30, []))
        .thenThrows((error) => expect((error as DomainError).code).toBe('CHAIN.NON_COMPLIANCE_WITHOUT_REASON'));
    });

    it('refuses a retry token that is not the next attempt of the same step on the same input', () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(nonCompliance('tok-seal-1', issued({ tokenId: 'tok-r', attempt: 3 }, 30)))
        .thenThrows(invalidToken);
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(nonCompliance('tok-seal-1', issued({ tokenId: 'tok-r', attempt: 2, inputDigest: sealed }, 30)))
        .thenThrows(invalidToken);
    });
  });

  describe('RecordDeadlineMissed (a durable timer fired)', () => {
    const ackReason = (token: IssuedToken): Reason[] => [
      {
        rule: 'deadline.acknowledgement-missed',
        message: `operator ${token.token.operatorId} did not acknowledge token ${token.token.tokenId} (step ${token.token.step}, attempt ${token.token.attempt}) by ${token.token.acknowledgeBy}`,
        partyId: token.token.operatorId,
        subjectRole: 'operator',
      },
    ];

    it('records a missing acknowledgement at its deadline, then retries', () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(deadline('tok-seal-1', 'acknowledgement', sealRetry, 11))
        .then([E.missed(sealToken, 'acknowledgement', 11), E.issued(sealRetry)]);
    });

    it('refuses to record a deadline before it has passed (never early)', () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(deadline('tok-seal-1', 'acknowledgement', sealRetry, 10.999))
        .thenThrows((error) => expect((error as DomainError).code).toBe('CHAIN.DEADLINE_NOT_REACHED'));
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(deadline('tok-seal-1', 'return', sealRetry, 15))
        .thenThrows((error) => expect((error as DomainError).code).toBe('CHAIN.DEADLINE_NOT_REACHED'));
    });

    it('records a missing return at the return deadline, and fails once attempts are spent, with the reason', () => {
      spec
        .given([E.started(), E.issued(sealToken), E.missed(sealToken, 'acknowledgement', 11), E.issued(sealRetry)])
        .when(deadline('tok-seal-2', 'return', null, 50, 2))
        .then([
          E.missed(sealRetry, 'return', 50),
          E.failed(
            sealRetry,
            [
              {
                rule: 'deadline.return-missed',
                message: `operator ${backup} did not return token tok-seal-2 (step seal, attempt 2) by ${sealRetry.token.returnBy}`,
                partyId: backup,
                subjectRole: 'operator',
              },
            ],
            50,
          ),
        ]);
    });

    it('fails at once with max attempts 1', () => {
      spec
        .given([E.started(), E.issued(sealToken)])
        .when(deadline('tok-seal-1', 'acknowledgement', sealRetry, 11, 1))
        .then([E.missed(sealToken, 'acknowledgement', 11), E.failed(sealToken, ackReason(sealToken), 11)]);
    });

    it('does nothing for a settled token (its timer fired late or twice)', () => {
      spec
        .given([E.started(), E.issued(sealToken), E.certified(sealToken, sealed, 4), E.issued(deliverToken)])
        .when(deadline('tok-seal-1', 'return', null, 30))
        .thenNothingHappens();
      spec
        .given([E.started(), E.issued(sealToken), E.missed(sealToken, 'acknowledgement', 11), E.issued(sealRetry)])
        .when(deadline('tok-seal-1', 'return', null, 30))
        .thenNothingHappens();
      spec
        .given([E.started(), E.issued(sealToken), E.failed(sealToken, badSeal, 12)])
        .when(deadline('tok-seal-1', 'return', null, 30))
        .thenNothingHappens();
    });
  });

  describe('RetryChain (a staff member retries a failed chain: rules/chain-retry.ts)', () => {
    // A chain that delivers, then archives: the archive fails after the hand-over, which a retry may run again.
    const archiver = 'op-archiver';
    const archived = 'd'.repeat(64);
    const plan: ChainStarted['data'] = {
      ...started,
      steps: [
        { step: 'deliver', operatorId: deliverer, parameters: {} },
        { step: 'archive', operatorId: archiver, parameters: {} },
      ],
    };
    const deliverFirst = issued({ tokenId: 'tok-d-1', step: 'deliver', operatorId: deliverer });
    const archive1 = issued({ tokenId: 'tok-a-1', stepIndex: 1, step: 'archive', operatorId: archiver, inputDigest: delivered }, 5);
    const archive2 = issued({ tokenId: 'tok-a-2', stepIndex: 1, step: 'archive', attempt: 2, operatorId: archiver, inputDigest: delivered }, 40);
    const archive3 = issued({ tokenId: 'tok-a-3', stepIndex: 1, step: 'archive', attempt: 3, operatorId: archiver, inputDigest: delivered }, 500);
    const archive4 = issued({ tokenId: 'tok-a-4', stepIndex: 1, step: 'archive', attempt: 4, operatorId: archiver, inputDigest: delivered }, 900);
    const noArchive: Reason[] = [{ rule: 'deadline.acknowledgement-missed', message: 'no acknowledgement', partyId: archiver, subjectRole: 'operator' }];
    const valid = { partyId: archiver, validNow: true, reasons: [] };
    const ops = 'ops-jane';

    const planned = (): ChainEvent => ({ type: 'ChainStarted', version: 1, data: plan });
    /** Delivered, then the archive failed after two attempts. */
    const failedAfterDelivery = (): ChainEvent[] => [
      planned(),
      E.issued(deliverFirst),
      E.certified(deliverFirst, delivered, 4),
      E.issued(archive1),
      E.missed(archive1, 'acknowledgement', 16),
      E.issued(archive2),
      E.missed(archive2, 'acknowledgement', 51),
      E.failed(archive2, noArchive, 51),
    ];
    const retried = (attempt: number, seconds: number, reason = 'archive operator back after the outage'): ChainEvent => ({
      type: 'ChainRetried',
      version: 1,
      data: { correspondenceId, stepIndex: 1, attempt, requestedBy: ops, reason, retriedAt: t(seconds) },
    });
    const retry = (retryToken: IssuedToken, seconds: number, overrides: Partial<Extract<ChainCommand, { type: 'RetryChain' }>> = {}): ChainCommand => ({
      type: 'RetryChain',
      reason: 'archive operator back after the outage',
      requestedBy: ops,
      retryToken,
      operator: valid,
      maxManualRetries: 2,
      now: at(seconds),
      ...overrides,
    });
    const refusedWith =
      (...rules: string[]) =>
      (error: Error) => {
        expect(error).toBeInstanceOf(DomainError);
        expect((error as DomainError).code).toBe('CHAIN.RETRY_REFUSED');
        expect((error as DomainError).kind).toBe('conflict');
        expect(((error as DomainError).reasons as Reason[]).map((reason) => reason.rule)).toEqual(rules);
      };

    it("given a chain failed after the hand-over, records ChainRetried and the failed step's next token (same input) in one decision", () => {
      spec
        .given(failedAfterDelivery())
        .when(retry(archive3, 500))
        .then([retried(3, 500), E.issued(archive3)]);
    });

    it('puts the chain back to running on the failed step, whose new token is the open one; an answer then completes it', () => {
      const events = [...failedAfterDelivery(), retried(3, 500), E.issued(archive3)];
      const state = fold(events);
      expect(state.status).toBe('running');
      if (state.status !== 'running') throw new Error('unreachable');
      expect(state.steps.map((step) => step.status)).toEqual(['certified', 'in-progress']);
      expect(openTokenOf(state)?.token.tokenId).toBe('tok-a-3');
      expect(state.retries).toEqual([retried(3, 500).data]);
      spec
        .given(events)
        .when(certify('tok-a-3', archived, null, 520))
        .then([E.certified(archive3, archived, 520), E.completed(archived, 520)]);
    });

    it('a retry failing again fails the chain at once (one attempt per manual retry), which may be retried again while retries remain', () => {
      const again = [...failedAfterDelivery(), retried(3, 500), E.issued(archive3)];
      spec
        .given(again)
        .when(deadline('tok-a-3', 'acknowledgement', null, 512, 2))
        .then([E.missed(archive3, 'acknowledgement', 512), E.failed(archive3, [missedDeadlineReasonOf(archive3)], 512)]);
      const failedTwice = [...again, E.missed(archive3, 'acknowledgement', 512), E.failed(archive3, noArchive, 512)];
      expect(fold(failedTwice)).toMatchObject({ status: 'failed', retries: [retried(3, 500).data] });
      spec
        .given(failedTwice)
        .when(retry(archive4, 900))
        .then([retried(4, 900), E.issued(archive4)]);
    });

    it('refuses a chain that has not failed (running, completed, refused, unknown): chain.retry.not-failed', () => {
      spec
        .given([planned(), E.issued(deliverFirst)])
        .when(retry(issued({ tokenId: 'tok-d-2', step: 'deliver', attempt: 2, operatorId: deliverer }), 20))
        .thenThrows(refusedWith('chain.retry.not-failed'));
      spec
        .given([
          planned(),
          E.issued(deliverFirst),
          E.certified(deliverFirst, delivered, 4),
          E.issued(archive1),
          E.certified(archive1, archived, 9),
          E.completed(archived, 9),
        ])
        .when(retry(archive2, 20))
        .thenThrows(refusedWith('chain.retry.not-failed'));
      spec
        .given([E.refused(levelReason)])
        .when(retry(archive2, 20))
        .thenThrows(refusedWith('chain.retry.not-failed'));
      spec.given([]).when(retry(archive2, 20)).thenThrows(refusedWith('chain.retry.not-failed'));
    });

    it('refuses a retry replayed once it ran: the chain runs again, so not-failed, and no second token', () => {
      spec
        .given([...failedAfterDelivery(), retried(3, 500), E.issued(archive3)])
        .when(retry(issued({ ...archive3.token, tokenId: 'tok-a-3-bis' }, 500), 501))
        .thenThrows(refusedWith('chain.retry.not-failed'));
    });

    it('refuses a chain that failed before the content reached the recipients: chain.retry.consignment-failed', () => {
      spec
        .given([planned(), E.issued(deliverFirst), E.missed(deliverFirst, 'acknowledgement', 11), E.failed(deliverFirst, noArchive, 11)])
        .when(retry(issued({ tokenId: 'tok-d-2', step: 'deliver', attempt: 2, operatorId: deliverer }, 30), 30, { operator: { ...valid, partyId: deliverer } }))
        .thenThrows(refusedWith('chain.retry.consignment-failed'));
    });

    it('refuses once CHAIN_MANUAL_RETRIES retries were made (or with 0): chain.retry.exhausted', () => {
      spec
        .given(failedAfterDelivery())
        .when(retry(archive3, 500, { maxManualRetries: 0 }))
        .thenThrows(refusedWith('chain.retry.exhausted'));
      spec
        .given([...failedAfterDelivery(), retried(3, 500), E.issued(archive3), E.missed(archive3, 'acknowledgement', 512), E.failed(archive3, noArchive, 512)])
        .when(retry(archive4, 900, { maxManualRetries: 1 }))
        .thenThrows(refusedWith('chain.retry.exhausted'));
    });

    it("refuses an operator the trust check finds invalid now, naming it and its verdict's rules, with every other reason", () => {
      const revoked = { partyId: archiver, validNow: false, reasons: [{ rule: 'attribute.revoked', message: 'accreditation revoked' }] };
      spec
        .given(failedAfterDelivery())
        .when(retry(archive3, 500, { operator: revoked, maxManualRetries: 0 }))
        .thenThrows((error) => {
          refusedWith('chain.retry.exhausted', 'chain.retry.operator-ineligible')(error);
          expect((error as DomainError).reasons[1]).toMatchObject({
            partyId: archiver,
            subjectRole: 'operator',
            message: expect.stringContaining('attribute.revoked'),
          });
        });
    });

    it('refuses a token that is not the next attempt of the failed step on its input, or a verdict about another operator', () => {
      spec.given(failedAfterDelivery()).when(retry(archive4, 500)).thenThrows(invalidToken);
      spec
        .given(failedAfterDelivery())
        .when(retry(issued({ ...archive3.token, inputDigest: specimen }, 500), 500))
        .thenThrows(invalidToken);
      spec
        .given(failedAfterDelivery())
        .when(retry({ ...archive3, signature: '' }, 500))
        .thenThrows(invalidToken);
      spec
        .given(failedAfterDelivery())
        .when(retry(archive3, 500, { operator: { ...valid, partyId: backup } }))
        .thenThrows(invalidToken);
    });

    it('refuses a retry without a reason or without who asked', () => {
      spec
        .given(failedAfterDelivery())
        .when(retry(archive3, 500, { reason: ' ' }))
        .thenThrows((error) => expect((error as DomainError).code).toBe('CHAIN.RETRY_WITHOUT_REASON'));
      spec
        .given(failedAfterDelivery())
        .when(retry(archive3, 500, { requestedBy: '' }))
        .thenThrows((error) => expect((error as DomainError).code).toBe('CHAIN.RETRY_WITHOUT_REASON'));
    });

    it('ignores a ChainRetried that does not follow a failure', () => {
      const running = fold([planned(), E.issued(deliverFirst)]);
      expect(chainDecider.evolve(running, retried(2, 9))).toBe(running);
      expect(fold([retried(2, 9)])).toEqual({ status: 'none' });
    });
  });

  describe('evolve', () => {
    it('tracks the open token, settled tokens, step outputs and the end of the chain', () => {
      const running = fold([E.started(), E.issued(sealToken), E.nonCompliant(sealToken, badSeal, 30), E.issued(sealRetry)]);
      expect(running.status).toBe('running');
      expect(openTokenOf(running)?.token.tokenId).toBe('tok-seal-2');
      expect(tokenOf(running, 'tok-seal-1')).toMatchObject({ status: 'non-compliant', reasons: badSeal, settledAt: t(30) });
      expect(tokenOf(running, 'tok-nobody')).toBeUndefined();

      const completed = fold([
        E.started(),
        E.issued(sealToken),
        E.certified(sealToken, sealed, 4),
        E.issued(deliverToken),
        E.certified(deliverToken, delivered, 9),
        E.completed(delivered, 9),
      ]);
      expect(completed).toMatchObject({ status: 'completed', completion: { finalDigest: delivered } });
      if (completed.status !== 'completed') throw new Error('unreachable');
      expect(completed.steps.map((step) => [step.status, step.outputDigest])).toEqual([
        ['certified', sealed],
        ['certified', delivered],
      ]);
      expect(openTokenOf(completed)).toBeUndefined();

      const failed = fold([E.started(), E.issued(sealToken), E.missed(sealToken, 'return', 21), E.failed(sealToken, badSeal, 21)]);
      expect(failed).toMatchObject({ status: 'failed', failure: { reasons: badSeal } });
      if (failed.status !== 'failed') throw new Error('unreachable');
      expect(failed.steps.map((step) => step.status)).toEqual(['failed', 'pending']);
      expect(tokenOf(failed, 'tok-seal-1')).toMatchObject({ status: 'deadline-missed', missing: 'return' });

      const refused = fold([E.refused(levelReason)]);
      expect(refused).toEqual({ status: 'refused', refusal: E.refused(levelReason).data });
      expect(tokenOf(refused, 'tok-seal-1')).toBeUndefined();
    });

    it('ignores events that do not fit the state', () => {
      expect(fold([E.issued(sealToken)])).toEqual({ status: 'none' });
      expect(fold([E.started(), E.refused(levelReason)]).status).toBe('running');
      expect(fold([E.refused(levelReason), E.completed(delivered, 9)]).status).toBe('refused');
      expect(fold([E.refused(levelReason), E.failed(sealToken, badSeal, 9)]).status).toBe('refused');
    });
  });
});
