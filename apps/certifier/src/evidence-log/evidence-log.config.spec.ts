import { EvidenceLogConfigError, loadEvidenceLogConfig, originIdOf } from './evidence-log.config';

describe('evidence log configuration', () => {
  it('defaults to a checkpoint every second or every 1,000 records', () => {
    expect(loadEvidenceLogConfig({})).toEqual({
      origin: 'localhost/sigillum/evidence',
      checkpointMs: 1000,
      checkpointLeaves: 1000,
      tsaPolicyOid: '1.3.6.1.4.1.32473.3161.2',
    });
    expect(
      loadEvidenceLogConfig({ EVIDENCE_LOG_ORIGIN: 'sigillum.example.org/sigillum/evidence', EVIDENCE_CHECKPOINT_MS: '250', EVIDENCE_CHECKPOINT_LEAVES: '10' }),
    ).toMatchObject({
      origin: 'sigillum.example.org/sigillum/evidence',
      checkpointMs: 250,
      checkpointLeaves: 10,
    });
  });

  it.each([
    ['EVIDENCE_LOG_ORIGIN', 'has space'],
    ['EVIDENCE_LOG_ORIGIN', 'a+b'],
    ['EVIDENCE_CHECKPOINT_MS', '10'],
    ['EVIDENCE_CHECKPOINT_MS', '1e3'],
    ['EVIDENCE_CHECKPOINT_LEAVES', '0'],
    ['EVIDENCE_LOG_TSA_POLICY_OID', 'policy'],
  ])('refuses %s=%s, naming it', (name, value) => {
    expect(() => loadEvidenceLogConfig({ [name]: value })).toThrow(EvidenceLogConfigError);
    expect(() => loadEvidenceLogConfig({ [name]: value })).toThrow(name);
  });

  it('names the checkpoint stream by the first 16 bytes of SHA-256(origin), hex', () => {
    expect(originIdOf('localhost/sigillum/evidence')).toMatch(/^[0-9a-f]{32}$/);
    expect(originIdOf('a')).not.toBe(originIdOf('b'));
  });
});
