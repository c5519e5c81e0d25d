import {
  type LevelPolicy,
  type LevelRule,
  levelRank,
  meetsLevel,
  type Reason,
  type SubjectRole,
  type SubjectVerdict,
  type TrustLevel,
} from '@sigillum/contracts';
import type { CertifiedAttribute } from '../attributes/attributes.decider';
import type { PartyFacts } from '../state/party-facts';

export type AttributeStatus = 'valid' | 'revoked' | 'expired' | 'not-yet-valid';

/** Where a certification stands at `now`: revoked first, then its validity period `[validFrom, validUntil)`. */
export function attributeStatus(attribute: CertifiedAttribute, now: Date): AttributeStatus {
  if (attribute.revoked) return 'revoked';
  const at = now.getTime();
  if (at < Date.parse(attribute.validFrom)) return 'not-yet-valid';
  if (at >= Date.parse(attribute.validUntil)) return 'expired';
  return 'valid';
}

/** Why one attribute named by a rule does not support `level` now; null when it does. */
function attributeShortfall(
  name: string,
  level: TrustLevel,
  attributes: readonly CertifiedAttribute[],
  scale: readonly TrustLevel[],
  now: Date,
): { rule: string; message: string } | null {
  const candidates = attributes.filter((attribute) => attribute.name === name);
  if (candidates.length === 0) return { rule: 'attribute.missing', message: `attribute ${name} is not certified` };
  const valid = candidates.filter((attribute) => attributeStatus(attribute, now) === 'valid');
  if (valid.some((attribute) => meetsLevel(scale, attribute.level, level))) return null;
  if (valid.length > 0) {
    const best = valid.reduce((a, b) => (levelRank(scale, b.level) > levelRank(scale, a.level) ? b : a));
    return { rule: 'level.insufficient', message: `attribute ${name} is certified at ${best.level}, below ${level}` };
  }
  // None valid: say what became of the most recent certification.
  const latest = candidates[candidates.length - 1];
  switch (attributeStatus(latest, now)) {
    case 'revoked':
      return { rule: 'attribute.revoked', message: `attribute ${name} was revoked at ${latest.revoked?.revokedAt}` };
    case 'expired':
      return { rule: 'attribute.expired', message: `attribute ${name} expired at ${latest.validUntil}` };
    case 'not-yet-valid':
      return { rule: 'attribute.not-yet-valid', message: `attribute ${name} is valid only from ${latest.validFrom}` };
    case 'valid':
      return null; // unreachable: valid ones were handled above
  }
}

const ruleHolds = (rule: LevelRule, attributes: readonly CertifiedAttribute[], scale: readonly TrustLevel[], now: Date): boolean =>
  rule.allOf.every((name) => attributeShortfall(name, rule.level, attributes, scale, now) === null);

/** The highest level of the policy the party's valid certified attributes support now; null when none. */
export function levelHeld(facts: PartyFacts, attributes: readonly CertifiedAttribute[], policy: LevelPolicy, now: Date): TrustLevel | null {
  if (facts.status !== 'registered') return null;
  let held: TrustLevel | null = null;
  for (const rule of policy.rules) {
    if (rule.partyKind !== facts.kind || levelRank(policy.scale, rule.level) < 0) continue;
    if (levelRank(policy.scale, rule.level) <= levelRank(policy.scale, held)) continue;
    if (ruleHolds(rule, attributes, policy.scale, now)) held = rule.level;
  }
  return held;
}

export interface TrustSubject {
  readonly partyId: string;
  readonly subjectRole: SubjectRole;
  readonly levelRequired: TrustLevel;
}

/**
 * The verdict on one subject: its level now under `policy`, and when short of `levelRequired` every reason
 * (party unknown, not a processing operator, each attribute missing / expired / revoked / not yet valid /
 * certified below the level). Reasons name the party by id and attributes by name, never their values.
 */
export function evaluateParty(
  facts: PartyFacts,
  attributes: readonly CertifiedAttribute[],
  policy: LevelPolicy,
  now: Date,
  subject: TrustSubject,
): SubjectVerdict {
  const { partyId, subjectRole, levelRequired } = subject;
  const reason = (rule: string, message: string): Reason => ({ rule, message, partyId, subjectRole });
  if (facts.status !== 'registered') {
    return {
      partyId,
      subjectRole,
      levelHeld: null,
      levelRequired,
      validNow: false,
      reasons: [reason('party.unknown', `party ${partyId} is not in the directory`)],
    };
  }
  const reasons: Reason[] = [];
  if (subjectRole === 'operator' && !(facts.kind === 'operator' && facts.operatorRole === 'processing')) {
    reasons.push(reason('operator.unavailable', `party ${partyId} is not a processing operator`));
  }
  const held = levelHeld(facts, attributes, policy, now);
  if (levelRank(policy.scale, levelRequired) < 0) {
    reasons.push(reason('level.unknown', `level ${levelRequired} is not on the scale of policy ${policy.policyId}`));
  } else if (!meetsLevel(policy.scale, held, levelRequired)) {
    reasons.push(reason('level.insufficient', `party ${partyId} holds ${held ?? 'no level'}, ${levelRequired} is required`));
    const rules = policy.rules.filter((rule) => rule.partyKind === facts.kind && rule.level === levelRequired);
    if (rules.length === 0) {
      reasons.push(reason('level.insufficient', `policy ${policy.policyId} gives a ${facts.kind} no rule for ${levelRequired}`));
    }
    const seen = new Set<string>();
    for (const rule of rules) {
      for (const name of rule.allOf) {
        const shortfall = attributeShortfall(name, levelRequired, attributes, policy.scale, now);
        if (!shortfall || seen.has(shortfall.message)) continue;
        seen.add(shortfall.message);
        reasons.push(reason(shortfall.rule, shortfall.message));
      }
    }
  }
  return { partyId, subjectRole, levelHeld: held, levelRequired, validNow: reasons.length === 0, reasons };
}
