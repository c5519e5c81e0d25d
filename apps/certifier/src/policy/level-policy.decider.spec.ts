import { DomainError, type LevelPolicyPublished } from '@sigillum/contracts';
import { deciderSpecification } from '@sigillum/testing/decider-specification';
import { DEFAULT_LEVEL_POLICY, type LevelPolicyDraft, policyProblems } from './level-policy';
import { levelPolicyDecider } from './level-policy.decider';

const now = new Date('2026-11-25T08:00:00.000Z');
const spec = deciderSpecification(levelPolicyDecider);

const defaultPublished: LevelPolicyPublished = {
  type: 'LevelPolicyPublished',
  version: 1,
  data: { policy: DEFAULT_LEVEL_POLICY, publishedAt: now.toISOString() },
};

const draft: LevelPolicyDraft = {
  name: 'strict',
  scale: ['basic', 'strong'],
  rules: [
    { partyKind: 'person', level: 'basic', allOf: ['email'] },
    { partyKind: 'person', level: 'strong', allOf: ['legalName', 'qualifiedCertificate'] },
    { partyKind: 'organisation', level: 'strong', allOf: ['registrationNumber'] },
    { partyKind: 'operator', level: 'strong', allOf: ['operatorAccreditation'] },
  ],
};

describe('level policy decider', () => {
  describe('given no policy', () => {
    it('when the initial policy is published, then eidas-default@1 is published', () => {
      spec.given([]).when({ type: 'PublishInitialPolicy', policy: DEFAULT_LEVEL_POLICY, now }).then([defaultPublished]);
    });

    it('when a new policy is published, then it is version 1', () => {
      spec
        .given([])
        .when({ type: 'PublishPolicy', draft, now })
        .then([
          {
            type: 'LevelPolicyPublished',
            version: 1,
            data: { policy: { policyId: 'strict@1', version: 1, scale: draft.scale, rules: draft.rules }, publishedAt: now.toISOString() },
          },
        ]);
    });
  });

  describe('given eidas-default@1', () => {
    it('when the initial policy is published again (a restart), then nothing happens', () => {
      spec.given([defaultPublished]).when({ type: 'PublishInitialPolicy', policy: DEFAULT_LEVEL_POLICY, now }).thenNothingHappens();
    });

    it('when a new policy is published, then it takes the next version', () => {
      spec
        .given([defaultPublished])
        .when({ type: 'PublishPolicy', draft, now })
        .then([
          {
            type: 'LevelPolicyPublished',
            version: 1,
            data: { policy: { policyId: 'strict@2', version: 2, scale: draft.scale, rules: draft.rules }, publishedAt: now.toISOString() },
          },
        ]);
    });

    it('when the policy in force is published again, then nothing happens', () => {
      spec
        .given([defaultPublished])
        .when({ type: 'PublishPolicy', draft: { name: 'eidas-default', scale: DEFAULT_LEVEL_POLICY.scale, rules: DEFAULT_LEVEL_POLICY.rules }, now })
        .thenNothingHappens();
    });

    it('when an invalid policy is published, then every problem is a reason', () => {
      spec
        .given([defaultPublished])
        .when({
          type: 'PublishPolicy',
          draft: { name: 'bad', scale: ['low', 'low'], rules: [{ partyKind: 'person', level: 'mid', allOf: ['email'] }] },
          now,
        })
        .thenThrows((error) => {
          expect((error as DomainError).code).toBe('CERTIFIER.POLICY_INVALID');
          expect((error as DomainError).kind).toBe('invalid');
          expect((error as DomainError).reasons.map((reason) => (reason as { message: string }).message)).toEqual([
            'scale[1] "low" appears twice; level names must be unique',
            'rules[0].level "mid" is not on the scale',
            'rules must cover partyKind "organisation" (no rule gives it any level)',
            'rules must cover partyKind "operator" (no rule gives it any level)',
          ]);
        });
    });
  });
});

describe('policyProblems', () => {
  it('accepts the default policy and the draft', () => {
    expect(policyProblems({ name: 'eidas-default', scale: DEFAULT_LEVEL_POLICY.scale, rules: DEFAULT_LEVEL_POLICY.rules })).toEqual([]);
    expect(policyProblems(draft)).toEqual([]);
  });

  it('names bad names, empty lists and duplicated attributes', () => {
    expect(
      policyProblems({
        name: 'Not OK',
        scale: [],
        rules: [
          { partyKind: 'robot' as never, level: 'low', allOf: [] },
          { partyKind: 'person', level: 'low', allOf: ['email', 'email'] },
        ],
      }),
    ).toEqual([
      'name "Not OK" must match /^[a-z0-9][a-z0-9-]{0,62}$/',
      'scale must list at least one level, lowest first',
      'rules[0].partyKind "robot" must be one of person, organisation, operator',
      'rules[0].level "low" is not on the scale',
      'rules[0].allOf must name at least one attribute',
      'rules[1].level "low" is not on the scale',
      'rules[1].allOf[1] "email" appears twice',
      'rules must cover partyKind "organisation" (no rule gives it any level)',
      'rules must cover partyKind "operator" (no rule gives it any level)',
    ]);
  });
});
