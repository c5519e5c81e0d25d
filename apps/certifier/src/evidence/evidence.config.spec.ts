import { EvidenceConfigError, loadEvidenceConfig } from './evidence.config';

describe('evidence settings', () => {
  it('default: the policy URN, records proven by the evidence log without a signature each', () => {
    expect(loadEvidenceConfig({})).toEqual({ policyId: 'urn:sigillum:policy:evidence:1', recordSignatures: 'none' });
  });

  it('EVIDENCE_RECORD_SIGNATURES=jws signs every record too; anything else is refused at start, saying what is allowed', () => {
    expect(loadEvidenceConfig({ EVIDENCE_RECORD_SIGNATURES: ' jws ' }).recordSignatures).toBe('jws');
    expect(() => loadEvidenceConfig({ EVIDENCE_RECORD_SIGNATURES: 'x5c' })).toThrow(EvidenceConfigError);
    expect(() => loadEvidenceConfig({ EVIDENCE_RECORD_SIGNATURES: 'x5c' })).toThrow(/one of none, jws/);
  });

  it('refuses a policy id that is not a URI', () => {
    expect(() => loadEvidenceConfig({ EVIDENCE_POLICY_ID: 'not a uri' })).toThrow(EvidenceConfigError);
  });
});
