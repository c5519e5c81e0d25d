import { EvidenceConfigError, loadEvidenceConfig } from './evidence.config';

describe('evidence settings', () => {
  it('default: the policy URN, records proven by the evidence log without a signature each', () => {
    expect(loadEvidenceConfig({})).toEqual({ policyId: 'urn:sigillum:policy:evidence:1', recordSignatures: 'none', cachedCorrespondences: 1_000 });
  });

  it('EVIDENCE_CACHED_CORRESPONDENCES bounds the correspondences kept in memory; a value out of 16..1000000 is refused at start', () => {
    expect(loadEvidenceConfig({ EVIDENCE_CACHED_CORRESPONDENCES: ' 256 ' }).cachedCorrespondences).toBe(256);
    for (const refused of ['15', '1000001', '1e3', '-5', 'many', '10.5'])
      expect(() => loadEvidenceConfig({ EVIDENCE_CACHED_CORRESPONDENCES: refused })).toThrow(/EVIDENCE_CACHED_CORRESPONDENCES.*16 to 1000000/);
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
