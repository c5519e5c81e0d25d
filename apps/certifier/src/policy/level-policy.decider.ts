import { assertNever, type Decider, DomainError, type LevelPolicy, type LevelPolicyPublished } from '@sigillum/contracts';
import { type LevelPolicyDraft, policyProblems } from './level-policy';

//////// Commands

/** Publishes the given policy only when none was ever published (first start); otherwise nothing happens. */
export type PublishInitialPolicy = { readonly type: 'PublishInitialPolicy'; readonly policy: LevelPolicy; readonly now: Date };
/** Publishes a new version; its version is the last one + 1 and its id `<name>@<version>`. */
export type PublishPolicy = { readonly type: 'PublishPolicy'; readonly draft: LevelPolicyDraft; readonly now: Date };
export type LevelPolicyCommand = PublishInitialPolicy | PublishPolicy;

//////// State

export type LevelPolicyState = { readonly status: 'none' } | { readonly status: 'published'; readonly current: LevelPolicy; readonly publishedAt: string };

//////// Decisions

const nameOf = (policy: LevelPolicy): string => policy.policyId.slice(0, policy.policyId.lastIndexOf('@'));

const sameContent = (policy: LevelPolicy, draft: LevelPolicyDraft): boolean =>
  nameOf(policy) === draft.name && JSON.stringify([policy.scale, policy.rules]) === JSON.stringify([draft.scale, draft.rules]);

const published = (policy: LevelPolicy, now: Date): LevelPolicyPublished => ({
  type: 'LevelPolicyPublished',
  version: 1,
  data: { policy, publishedAt: now.toISOString() },
});

function invalid(problems: readonly string[]): DomainError {
  return new DomainError(
    'CERTIFIER.POLICY_INVALID',
    `The level policy cannot be published: ${problems.join('; ')}`,
    'invalid',
    problems.map((message) => ({ rule: 'policy.invalid', message })),
  );
}

export function decide(command: LevelPolicyCommand, state: LevelPolicyState): LevelPolicyPublished[] {
  switch (command.type) {
    case 'PublishInitialPolicy': {
      if (state.status === 'published') return [];
      const { policy } = command;
      const problems = policyProblems({ name: nameOf(policy), scale: policy.scale, rules: policy.rules });
      if (problems.length > 0) throw invalid(problems);
      return [published(policy, command.now)];
    }
    case 'PublishPolicy': {
      const problems = policyProblems(command.draft);
      if (problems.length > 0) throw invalid(problems);
      // Publishing what is already in force (e.g. a retried request) changes nothing.
      if (state.status === 'published' && sameContent(state.current, command.draft)) return [];
      const version = state.status === 'published' ? state.current.version + 1 : 1;
      const { name, scale, rules } = command.draft;
      return [
        published(
          {
            policyId: `${name}@${version}`,
            version,
            scale: [...scale],
            rules: rules.map((rule) => ({ partyKind: rule.partyKind, level: rule.level, allOf: [...rule.allOf] })),
          },
          command.now,
        ),
      ];
    }
    default:
      return assertNever(command, 'level policy command');
  }
}

export function evolve(_state: LevelPolicyState, event: LevelPolicyPublished): LevelPolicyState {
  switch (event.type) {
    case 'LevelPolicyPublished':
      return { status: 'published', current: event.data.policy, publishedAt: event.data.publishedAt };
    default:
      return assertNever(event.type, 'level policy event');
  }
}

export const initialState = (): LevelPolicyState => ({ status: 'none' });

export const levelPolicyDecider: Decider<LevelPolicyCommand, LevelPolicyState, LevelPolicyPublished> = { decide, evolve, initialState };
