import { DEFAULT_TRUST_LEVELS, type LevelPolicy, type LevelRule, PARTY_KINDS, type PartyKind, type TrustLevel } from '@sigillum/contracts';

/** Every version of the level policy lives in this one stream; the last LevelPolicyPublished is in force. */
export const LEVEL_POLICY_STREAM_ID = 'levelpolicy-current';

export const DEFAULT_POLICY_NAME = 'eidas-default';

const rule = (partyKind: PartyKind, level: TrustLevel, allOf: readonly string[]): LevelRule => ({ partyKind, level, allOf });

/** `eidas-default@1`: the policy published at first start (docs/design/trust-core.md, "Trust evaluation"). */
export const DEFAULT_LEVEL_POLICY: LevelPolicy = {
  policyId: `${DEFAULT_POLICY_NAME}@1`,
  version: 1,
  scale: DEFAULT_TRUST_LEVELS,
  rules: [
    rule('person', 'low', ['email']),
    rule('person', 'substantial', ['legalName', 'dateOfBirth']),
    rule('person', 'high', ['legalName', 'dateOfBirth', 'qualifiedCertificate']),
    rule('organisation', 'low', ['email']),
    rule('organisation', 'substantial', ['legalName', 'registrationNumber']),
    rule('organisation', 'high', ['legalName', 'registrationNumber', 'qualifiedCertificate']),
    rule('operator', 'low', ['legalName']),
    rule('operator', 'substantial', ['legalName', 'operatorAccreditation']),
    rule('operator', 'high', ['legalName', 'operatorAccreditation', 'qualifiedCertificate']),
  ],
};

/** What a publisher gives; the version and id are assigned on publication (`<name>@<version>`). */
export interface LevelPolicyDraft {
  readonly name: string;
  readonly scale: readonly TrustLevel[];
  readonly rules: readonly LevelRule[];
}

export const POLICY_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const LEVEL_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
export const ATTRIBUTE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** Every problem of a draft at once, each naming the field; empty when the draft can be published. */
export function policyProblems(draft: LevelPolicyDraft): string[] {
  const problems: string[] = [];
  if (!POLICY_NAME_PATTERN.test(draft.name)) problems.push(`name "${draft.name}" must match ${POLICY_NAME_PATTERN}`);
  if (draft.scale.length === 0) problems.push('scale must list at least one level, lowest first');
  const seen = new Set<string>();
  draft.scale.forEach((level, index) => {
    if (!LEVEL_NAME_PATTERN.test(level)) problems.push(`scale[${index}] "${level}" must match ${LEVEL_NAME_PATTERN}`);
    if (seen.has(level)) problems.push(`scale[${index}] "${level}" appears twice; level names must be unique`);
    seen.add(level);
  });
  if (draft.rules.length === 0) problems.push('rules must hold at least one rule');
  draft.rules.forEach((candidate, index) => {
    if (!PARTY_KINDS.includes(candidate.partyKind)) {
      problems.push(`rules[${index}].partyKind "${candidate.partyKind}" must be one of ${PARTY_KINDS.join(', ')}`);
    }
    if (!seen.has(candidate.level)) problems.push(`rules[${index}].level "${candidate.level}" is not on the scale`);
    if (candidate.allOf.length === 0) problems.push(`rules[${index}].allOf must name at least one attribute`);
    const names = new Set<string>();
    candidate.allOf.forEach((name, nameIndex) => {
      if (!ATTRIBUTE_NAME_PATTERN.test(name)) problems.push(`rules[${index}].allOf[${nameIndex}] "${name}" must match ${ATTRIBUTE_NAME_PATTERN}`);
      if (names.has(name)) problems.push(`rules[${index}].allOf[${nameIndex}] "${name}" appears twice`);
      names.add(name);
    });
  });
  for (const kind of PARTY_KINDS) {
    if (!draft.rules.some((candidate) => candidate.partyKind === kind)) {
      problems.push(`rules must cover partyKind "${kind}" (no rule gives it any level)`);
    }
  }
  return problems;
}
