import type { LevelPolicy, SubjectRole } from '@sigillum/contracts';
import type { CertifiedAttribute } from '../attributes/attributes.decider';
import type { PartyFacts } from '../state/party-facts';
import { attributeStatus, evaluateParty, levelHeld } from './evaluate';
import { DEFAULT_LEVEL_POLICY } from './level-policy';

const now = new Date('2026-06-01T12:00:00.000Z');
const policy = DEFAULT_LEVEL_POLICY;

const party = (kind: 'person' | 'organisation' | 'operator', operatorRole: 'processing' | 'domicile' | null = null): PartyFacts => ({
  status: 'registered',
  partyId: 'p1',
  kind,
  operatorRole,
  registeredAt: '2026-01-01T00:00:00.000Z',
  channels: [],
  specification: null,
});

let counter = 0;
const attribute = (name: string, level: string, overrides: Partial<CertifiedAttribute> = {}): CertifiedAttribute => ({
  attributeId: `a${++counter}`,
  name,
  level,
  validFrom: '2026-01-01T00:00:00.000Z',
  validUntil: '2027-01-01T00:00:00.000Z',
  evidence: { method: 'm', reference: 'r', verifiedBy: 'v' },
  certifiedAt: '2026-01-01T00:00:00.000Z',
  revoked: null,
  ...overrides,
});

const ask = (levelRequired: string, subjectRole: SubjectRole = 'user') => ({ partyId: 'p1', subjectRole, levelRequired });
const rules = (verdict: { reasons: readonly { rule: string }[] }) => verdict.reasons.map((reason) => reason.rule);

describe('attributeStatus', () => {
  it('is valid in [validFrom, validUntil), not yet valid before, expired from validUntil, revoked whatever the dates', () => {
    const a = attribute('email', 'low');
    expect(attributeStatus(a, now)).toBe('valid');
    expect(attributeStatus(a, new Date(a.validFrom))).toBe('valid');
    expect(attributeStatus(a, new Date(a.validUntil))).toBe('expired');
    expect(attributeStatus(a, new Date('2025-12-31T23:59:59.999Z'))).toBe('not-yet-valid');
    expect(attributeStatus({ ...a, revoked: { reason: 'x', revokedAt: '2026-02-01T00:00:00.000Z' } }, now)).toBe('revoked');
  });
});

describe('evaluateParty under eidas-default@1', () => {
  it('a person with legalName and dateOfBirth at substantial holds substantial and passes substantial', () => {
    const verdict = evaluateParty(party('person'), [attribute('legalName', 'substantial'), attribute('dateOfBirth', 'high')], policy, now, ask('substantial'));
    expect(verdict).toEqual({ partyId: 'p1', subjectRole: 'user', levelHeld: 'substantial', levelRequired: 'substantial', validNow: true, reasons: [] });
  });

  it('a higher level held meets a lower level required', () => {
    const attributes = [
      attribute('email', 'high'),
      attribute('legalName', 'high'),
      attribute('dateOfBirth', 'high'),
      attribute('qualifiedCertificate', 'high'),
    ];
    const verdict = evaluateParty(party('person'), attributes, policy, now, ask('low'));
    expect(verdict.levelHeld).toBe('high');
    expect(verdict.validNow).toBe(true);
  });

  it('an unknown party fails with party.unknown and holds no level', () => {
    const verdict = evaluateParty({ status: 'unknown' }, [], policy, now, ask('low', 'counterpart'));
    expect(verdict).toEqual({
      partyId: 'p1',
      subjectRole: 'counterpart',
      levelHeld: null,
      levelRequired: 'low',
      validNow: false,
      reasons: [{ rule: 'party.unknown', message: 'party p1 is not in the directory', partyId: 'p1', subjectRole: 'counterpart' }],
    });
  });

  it('a missing attribute: level.insufficient and attribute.missing naming the attribute', () => {
    const verdict = evaluateParty(party('person'), [attribute('legalName', 'substantial')], policy, now, ask('substantial'));
    expect(verdict.validNow).toBe(false);
    expect(verdict.levelHeld).toBeNull();
    expect(rules(verdict)).toEqual(['level.insufficient', 'attribute.missing']);
    expect(verdict.reasons[1]).toEqual({ rule: 'attribute.missing', message: 'attribute dateOfBirth is not certified', partyId: 'p1', subjectRole: 'user' });
  });

  it('an expired attribute: attribute.expired', () => {
    const verdict = evaluateParty(
      party('person'),
      [attribute('legalName', 'substantial'), attribute('dateOfBirth', 'substantial', { validUntil: '2026-05-01T00:00:00.000Z' })],
      policy,
      now,
      ask('substantial'),
    );
    expect(rules(verdict)).toEqual(['level.insufficient', 'attribute.expired']);
    expect(verdict.reasons[1].message).toBe('attribute dateOfBirth expired at 2026-05-01T00:00:00.000Z');
  });

  it('a revoked attribute: attribute.revoked', () => {
    const verdict = evaluateParty(
      party('person'),
      [attribute('email', 'low', { revoked: { reason: 'bounced', revokedAt: '2026-03-01T00:00:00.000Z' } })],
      policy,
      now,
      ask('low'),
    );
    expect(verdict.levelHeld).toBeNull();
    expect(rules(verdict)).toEqual(['level.insufficient', 'attribute.revoked']);
  });

  it('an attribute not yet valid: attribute.not-yet-valid', () => {
    const verdict = evaluateParty(party('person'), [attribute('email', 'low', { validFrom: '2026-07-01T00:00:00.000Z' })], policy, now, ask('low'));
    expect(rules(verdict)).toEqual(['level.insufficient', 'attribute.not-yet-valid']);
  });

  it('an attribute certified below the level required: level.insufficient naming the attribute', () => {
    const verdict = evaluateParty(
      party('person'),
      [attribute('email', 'low'), attribute('legalName', 'low'), attribute('dateOfBirth', 'substantial')],
      policy,
      now,
      ask('substantial'),
    );
    expect(verdict.levelHeld).toBe('low');
    expect(rules(verdict)).toEqual(['level.insufficient', 'level.insufficient']);
    expect(verdict.reasons[0].message).toBe('party p1 holds low, substantial is required');
    expect(verdict.reasons[1].message).toBe('attribute legalName is certified at low, below substantial');
  });

  it('a valid certification counts even when an older one of the same attribute was revoked', () => {
    const attributes = [attribute('email', 'low', { revoked: { reason: 'x', revokedAt: '2026-02-01T00:00:00.000Z' } }), attribute('email', 'low')];
    expect(evaluateParty(party('organisation'), attributes, policy, now, ask('low')).validNow).toBe(true);
  });

  it('the rules are those of the party kind: an organisation needs registrationNumber, not dateOfBirth', () => {
    const verdict = evaluateParty(
      party('organisation'),
      [attribute('legalName', 'substantial'), attribute('dateOfBirth', 'substantial')],
      policy,
      now,
      ask('substantial'),
    );
    expect(rules(verdict)).toEqual(['level.insufficient', 'attribute.missing']);
    expect(verdict.reasons[1].message).toBe('attribute registrationNumber is not certified');
  });

  describe('operators', () => {
    const accredited = [attribute('legalName', 'substantial'), attribute('operatorAccreditation', 'substantial')];

    it('a processing operator with legalName and operatorAccreditation holds substantial', () => {
      const verdict = evaluateParty(party('operator', 'processing'), accredited, policy, now, ask('substantial', 'operator'));
      expect(verdict).toMatchObject({ levelHeld: 'substantial', validNow: true, subjectRole: 'operator' });
    });

    it('a processing operator with only legalName holds low, and lacks operatorAccreditation for substantial', () => {
      const verdict = evaluateParty(party('operator', 'processing'), [attribute('legalName', 'high')], policy, now, ask('substantial', 'operator'));
      expect(verdict.levelHeld).toBe('low');
      expect(rules(verdict)).toEqual(['level.insufficient', 'attribute.missing']);
    });

    it('a party checked as a chain operator that is not a processing operator fails with operator.unavailable', () => {
      expect(rules(evaluateParty(party('operator', 'domicile'), accredited, policy, now, ask('low', 'operator')))).toEqual(['operator.unavailable']);
      expect(rules(evaluateParty(party('person'), [attribute('email', 'low')], policy, now, ask('low', 'operator')))).toEqual(['operator.unavailable']);
    });
  });

  it('a level required that is not on the scale fails with level.unknown', () => {
    expect(rules(evaluateParty(party('person'), [attribute('email', 'low')], policy, now, ask('extreme')))).toEqual(['level.unknown']);
  });

  it('follows the policy given: another scale, other rules', () => {
    const custom: LevelPolicy = {
      policyId: 'two@2',
      version: 2,
      scale: ['basic', 'strong'],
      rules: [
        { partyKind: 'person', level: 'basic', allOf: ['email'] },
        { partyKind: 'person', level: 'strong', allOf: ['qualifiedCertificate'] },
        { partyKind: 'organisation', level: 'basic', allOf: ['email'] },
        { partyKind: 'operator', level: 'basic', allOf: ['legalName'] },
      ],
    };
    const attributes = [attribute('email', 'basic'), attribute('qualifiedCertificate', 'strong')];
    expect(levelHeld(party('person'), attributes, custom, now)).toBe('strong');
    expect(levelHeld(party('person'), attributes, policy, now)).toBeNull();
  });
});
