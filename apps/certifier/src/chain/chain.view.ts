import type { ProcessingStep, Reason, StepParameters, TrustLevel } from '@sigillum/contracts';
import type { ChainState, TokenStatus } from './chain.decider';

/** What the operator's job stream says of a token so far. */
export interface JobFacts {
  readonly acknowledgedAt: string | null;
  readonly returnedAt: string | null;
  readonly failedAt: string | null;
}

export interface TokenView {
  readonly tokenId: string;
  readonly attempt: number;
  readonly operatorId: string;
  readonly specificationVersion: number;
  readonly inputDigest: string;
  readonly outputDigest: string | null;
  readonly parameters: StepParameters;
  readonly issuedAt: string;
  readonly acknowledgeBy: string;
  readonly returnBy: string;
  readonly acknowledgedAt: string | null;
  readonly returnedAt: string | null;
  readonly failedAt: string | null;
  readonly certifiedAt: string | null;
  readonly settledAt: string | null;
  readonly status: TokenStatus;
  readonly missing: 'acknowledgement' | 'return' | null;
  readonly reasons: readonly Reason[];
  /** The certifier's detached JWS over the canonical token. */
  readonly signature: string;
}

export interface StepView {
  readonly stepIndex: number;
  readonly step: ProcessingStep;
  readonly plannedOperatorId: string;
  readonly status: 'pending' | 'in-progress' | 'certified' | 'failed';
  readonly inputDigest: string | null;
  readonly outputDigest: string | null;
  readonly tokens: readonly TokenView[];
}

export interface RetryView {
  readonly stepIndex: number;
  readonly attempt: number;
  readonly requestedBy: string;
  readonly reason: string;
  readonly retriedAt: string;
}

export type ChainView =
  | {
      readonly correspondenceId: string;
      readonly status: 'refused';
      readonly checkId: string | null;
      readonly policyId: string | null;
      readonly reasons: readonly Reason[];
      readonly refusedAt: string;
    }
  | {
      readonly correspondenceId: string;
      readonly status: 'running' | 'completed' | 'failed';
      readonly kind: string;
      readonly senderId: string;
      readonly recipientIds: readonly string[];
      readonly requiredLevel: TrustLevel;
      readonly consignment: 'basic' | 'consent';
      readonly checkId: string;
      readonly policyId: string;
      readonly specimenDigest: string;
      readonly submittedAt: string;
      readonly startedAt: string;
      readonly completedAt: string | null;
      readonly finalDigest: string | null;
      readonly failedAt: string | null;
      readonly reasons: readonly Reason[];
      /** Manual retries after a failure, in order: who asked, why, and the attempt each one issued. */
      readonly retries: readonly RetryView[];
      readonly steps: readonly StepView[];
    };

const NO_JOB: JobFacts = { acknowledgedAt: null, returnedAt: null, failedAt: null };

/** The chain as ops read it: every step, every token with its times, operator, digests and status. */
export function chainView(state: Exclude<ChainState, { status: 'none' }>, jobs: ReadonlyMap<string, JobFacts>): ChainView {
  if (state.status === 'refused') {
    const { correspondenceId, checkId, policyId, reasons, refusedAt } = state.refusal;
    return { correspondenceId, status: 'refused', checkId, policyId, reasons, refusedAt };
  }
  const { started } = state;
  return {
    correspondenceId: started.correspondenceId,
    status: state.status,
    kind: started.kind,
    senderId: started.senderId,
    recipientIds: started.recipientIds,
    requiredLevel: started.requiredLevel,
    consignment: started.consignment,
    checkId: started.checkId,
    policyId: started.policyId,
    specimenDigest: started.specimenDigest,
    submittedAt: started.submittedAt,
    startedAt: started.startedAt,
    completedAt: state.status === 'completed' ? state.completion.completedAt : null,
    finalDigest: state.status === 'completed' ? state.completion.finalDigest : null,
    failedAt: state.status === 'failed' ? state.failure.failedAt : null,
    reasons: state.status === 'failed' ? state.failure.reasons : [],
    retries: state.retries.map(({ stepIndex, attempt, requestedBy, reason, retriedAt }) => ({ stepIndex, attempt, requestedBy, reason, retriedAt })),
    steps: state.steps.map((step) => ({
      stepIndex: step.stepIndex,
      step: step.step,
      plannedOperatorId: step.operatorId,
      status: step.status,
      inputDigest: step.tokens[0]?.token.inputDigest ?? null,
      outputDigest: step.outputDigest,
      tokens: step.tokens.map((record) => {
        const job = jobs.get(record.token.tokenId) ?? NO_JOB;
        return {
          tokenId: record.token.tokenId,
          attempt: record.token.attempt,
          operatorId: record.token.operatorId,
          specificationVersion: record.token.specificationVersion,
          inputDigest: record.token.inputDigest,
          outputDigest: record.certified?.outputDigest ?? null,
          parameters: record.token.parameters,
          issuedAt: record.token.issuedAt,
          acknowledgeBy: record.token.acknowledgeBy,
          returnBy: record.token.returnBy,
          acknowledgedAt: record.certified?.acknowledgedAt ?? job.acknowledgedAt,
          returnedAt: record.certified?.returnedAt ?? job.returnedAt,
          failedAt: job.failedAt,
          certifiedAt: record.certified?.certifiedAt ?? null,
          settledAt: record.settledAt,
          status: record.status,
          missing: record.missing,
          reasons: record.reasons,
          signature: record.signature,
        };
      }),
    })),
  };
}
