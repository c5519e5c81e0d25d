import { Inject, Injectable, Optional } from '@nestjs/common';
import { loadCorrespondenceKinds, type SigillumConfig } from '@sigillum/config';
import {
  CLOCK,
  foldEvents,
  type Clock,
  type CorrespondenceKind,
  DomainError,
  ID_GENERATOR,
  type IdGenerator,
  type LevelPolicy,
  type ProcessingStep,
  streamIdOf,
  type SubjectRole,
  type SubjectVerdict,
  TRUST_CHECK_CATEGORY,
  type TrustCheckAnswered,
  type TrustLevel,
} from '@sigillum/contracts';
import { type CommandContext, commandHandler, EVENT_STORE, type EventStore, type HandleCommand } from '@sigillum/eventstore';
import { nameBasedId, SIGILLUM_CONFIG } from '@sigillum/runtime';
import { CERTIFIER_CONFIG, type CertifierConfig } from '../certifier.config';
import { CERTIFIER_SOURCE } from '../certifier.source';
import { certifiedAttributesOf } from '../attributes/attributes.decider';
import { evaluateParty } from '../policy/evaluate';
import { LevelPolicyService } from '../policy/level-policy.service';
import type { FoldedStream } from '@sigillum/eventstore';
import { offersStep, type PartyFacts } from '../state/party-facts';
import { TrustStateReader } from '../state/trust-state.reader';
import { OperatorIndex } from './operator-index';
import { type CheckedOperators, type TrustCheckCommand, trustCheckDecider, type TrustCheckRequest, type TrustCheckState } from './trust-check.decider';

export type { CheckedOperators, TrustCheckRequest };

type PartyFactsOf = (partyId: string) => Promise<FoldedStream<PartyFacts>>;

export { nameBasedId };

/** The check id of a session's trust check: one per session. */
export const sessionCheckId = (sessionId: string): string => nameBasedId(`session:${sessionId}`);

/**
 * Answers whether every subject (and every operator of the kind's chain) holds valid certified attributes at or
 * above a level now, under the policy in force; records the answer as TrustCheckAnswered in `trustcheck-<checkId>`.
 */
@Injectable()
export class TrustCheckService {
  private readonly handle: HandleCommand<TrustCheckCommand, TrustCheckState, TrustCheckAnswered>;
  /** The kinds of correspondence configured for this process (CORRESPONDENCE_KINDS_FILE, or the defaults). */
  readonly kinds: readonly CorrespondenceKind[];

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    @Inject(CERTIFIER_CONFIG) private readonly config: CertifierConfig,
    private readonly reader: TrustStateReader,
    private readonly policies: LevelPolicyService,
    private readonly operators: OperatorIndex,
    // Optional so that tests building the service by hand get the default kinds.
    @Optional() @Inject(SIGILLUM_CONFIG) processConfig?: SigillumConfig,
  ) {
    this.handle = commandHandler(trustCheckDecider, { store, clock, ids, source: CERTIFIER_SOURCE });
    this.kinds = loadCorrespondenceKinds(processConfig?.env ?? {});
  }

  /** The configured kind of that name, if any. */
  kindNamed(name: string): CorrespondenceKind | undefined {
    return this.kinds.find((kind) => kind.name === name);
  }

  async check(request: TrustCheckRequest, context: CommandContext): Promise<TrustCheckAnswered['data']> {
    return (await this.recordedAnswer(request)) ?? (await this.answer(request, context)).answer;
  }

  /**
   * The check, with the operators it chose for the kind's chain (one per step, null where none offers it): the
   * chain runs these, never a second choice. Asked again with a fixed id, the answer recorded first stands and the
   * operators are chosen as the directory stands now (the plan is not part of the answer).
   */
  async checkWithOperators(request: TrustCheckRequest, context: CommandContext): Promise<CheckedOperators> {
    const recorded = await this.recordedAnswer(request);
    if (!recorded) return this.answer(request, context);
    const factsOf = this.partyFactsOnce();
    const operators: (string | null)[] = [];
    for (const step of this.chainOf(request.correspondenceKind)) operators.push(await this.operatorFor(step, factsOf));
    return { answer: recorded, operators };
  }

  /** The answer recorded under the request's fixed check id, if any. */
  private async recordedAnswer(request: TrustCheckRequest): Promise<TrustCheckAnswered['data'] | null> {
    if (!request.checkId) return null;
    const recorded = await this.store.readStream(streamIdOf(TRUST_CHECK_CATEGORY, request.checkId));
    const state = foldEvents(
      trustCheckDecider,
      recorded.map(({ event }) => event as TrustCheckAnswered),
    );
    return state.status === 'answered' ? state.answer : null;
  }

  /** Chooses the chain's operators once, evaluates every subject with them, and records the answer. */
  private async answer(request: TrustCheckRequest, context: CommandContext): Promise<CheckedOperators> {
    const checkId = request.checkId ?? this.ids.next();
    const streamId = streamIdOf(TRUST_CHECK_CATEGORY, checkId);
    const chain = this.chainOf(request.correspondenceKind);
    const policy = await this.policies.current();
    const now = this.clock.now();

    const subjects = [...request.subjects];
    const unavailable: SubjectVerdict[] = [];
    const stepsOf = new Map<string, ProcessingStep[]>();
    const operators: (string | null)[] = [];
    // One read of each party's directory stream per check (the chain's steps often share their operator).
    const factsOf = this.partyFactsOnce();
    for (const step of chain) {
      const operatorId = await this.operatorFor(step, factsOf);
      operators.push(operatorId);
      if (!operatorId) {
        unavailable.push(this.noOperator(step, request.levelRequired));
        continue;
      }
      subjects.push({ partyId: operatorId, subjectRole: 'operator' });
      stepsOf.set(operatorId, [...(stepsOf.get(operatorId) ?? []), step]);
    }

    const seen = new Set<string>();
    const verdicts: SubjectVerdict[] = [];
    for (const subject of subjects) {
      const key = `${subject.subjectRole}:${subject.partyId}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const steps = subject.subjectRole === 'operator' ? (stepsOf.get(subject.partyId) ?? []) : [];
      verdicts.push(await this.evaluate(subject.partyId, subject.subjectRole, request.levelRequired, policy, now, steps, factsOf));
    }
    verdicts.push(...unavailable);

    const answer: TrustCheckAnswered['data'] = {
      checkId,
      purpose: request.purpose,
      subjectOf: request.subjectOf,
      policyId: policy.policyId,
      levelRequired: request.levelRequired,
      passed: verdicts.length > 0 && verdicts.every((verdict) => verdict.validNow),
      verdicts,
      answeredAt: now.toISOString(),
    };
    const result = await this.handle(streamId, { type: 'RecordTrustCheckAnswer', answer }, context);
    if (result.state.status !== 'answered') throw new Error(`Trust check ${checkId} was not recorded`);
    // Asked again with the same id: the answer recorded first stands (a concurrent one may have been first).
    return { answer: result.state.answer, operators };
  }

  /** The processing steps of a kind of correspondence, in order; none without a kind. */
  private chainOf(kindName: string | undefined): readonly ProcessingStep[] {
    if (kindName === undefined) return [];
    const kind = this.kindNamed(kindName);
    if (!kind) {
      throw new DomainError(
        'CERTIFIER.UNKNOWN_CORRESPONDENCE_KIND',
        `Unknown kind of correspondence "${kindName}"; known kinds: ${this.kinds.map((k) => k.name).join(', ')}`,
        'invalid',
        [{ rule: 'kind.unknown', message: `unknown kind of correspondence "${kindName}"` }],
      );
    }
    return kind.chain;
  }

  /**
   * The operator of a step: CHAIN_OPERATORS when it names one (checked like any subject), otherwise the
   * earliest-registered processing operator whose specification (as the directory holds it now) offers the step.
   */
  private async operatorFor(step: ProcessingStep, factsOf: PartyFactsOf): Promise<string | null> {
    const configured = this.config.chainOperators[step];
    if (configured) return configured;
    for (const candidate of this.operators.candidates(step)) {
      // The index may lag the directory: confirm on the party's stream itself.
      const { state } = await factsOf(candidate);
      if (offersStep(state, step)) return candidate;
    }
    return null;
  }

  /**
   * Whether a processing operator could take `step` now at `levelRequired`, under the policy in force: the verdict a
   * trust check would give it as a chain operator (not recorded; used to choose where to reroute a failed step).
   */
  async evaluateOperator(operatorId: string, step: ProcessingStep, levelRequired: TrustLevel): Promise<SubjectVerdict> {
    const policy = await this.policies.current();
    return this.evaluate(operatorId, 'operator', levelRequired, policy, this.clock.now(), [step], this.partyFactsOnce());
  }

  /** The processing operators the index knows for `step`, earliest-registered first (the directory may be ahead). */
  operatorCandidates(step: ProcessingStep): string[] {
    return this.operators.candidates(step);
  }

  private async evaluate(
    partyId: string,
    subjectRole: SubjectRole,
    levelRequired: TrustLevel,
    policy: LevelPolicy,
    now: Date,
    /** Chain steps this subject was chosen for (CHAIN_OPERATORS may name one that does not offer them). */
    steps: readonly ProcessingStep[],
    factsOf: PartyFactsOf,
  ): Promise<SubjectVerdict> {
    const [facts, attributes] = await Promise.all([factsOf(partyId), this.reader.certifiedAttributes(partyId)]);
    const verdict = evaluateParty(facts.state, certifiedAttributesOf(attributes.state), policy, now, { partyId, subjectRole, levelRequired });
    if (facts.state.status !== 'registered' || verdict.reasons.some((reason) => reason.rule === 'operator.unavailable')) return verdict;
    const missing = steps.filter((step) => !offersStep(facts.state, step));
    if (missing.length === 0) return verdict;
    return {
      ...verdict,
      validNow: false,
      reasons: [
        ...verdict.reasons,
        ...missing.map((step) => ({
          rule: 'operator.unavailable',
          message: `operator ${partyId} does not offer the step ${step}`,
          partyId,
          subjectRole,
        })),
      ],
    };
  }

  /** Reads each party's facts at most once: for the span of one check. */
  private partyFactsOnce(): PartyFactsOf {
    const loaded = new Map<string, Promise<FoldedStream<PartyFacts>>>();
    return (partyId) => {
      let facts = loaded.get(partyId);
      if (!facts) {
        facts = this.reader.partyFacts(partyId);
        loaded.set(partyId, facts);
      }
      return facts;
    };
  }

  /** No processing operator offers the step: a verdict without a party (partyId empty). */
  private noOperator(step: ProcessingStep, levelRequired: TrustLevel): SubjectVerdict {
    return {
      partyId: '',
      subjectRole: 'operator',
      levelHeld: null,
      levelRequired,
      validNow: false,
      reasons: [{ rule: 'operator.unavailable', message: `no processing operator offers the step ${step}`, subjectRole: 'operator' }],
    };
  }
}
