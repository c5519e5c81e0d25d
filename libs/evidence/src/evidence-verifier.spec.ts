import { type EvidenceItem, verifyEvidenceChain } from './evidence-verifier';
import { evidenceChain, recordDigestOf, temporaryEvidenceSigner } from './testing-fixtures';

/** An item as the certifier serves it: every field present. */
type ServedItem = EvidenceItem & { readonly record: Record<string, unknown>; readonly recordDigest: string };

describe('offline evidence verifier', () => {
  const certifier = temporaryEvidenceSigner();
  const stranger = temporaryEvidenceSigner('Another CA'); // another CA: its signatures must not pass for the certifier's
  afterAll(() => {
    certifier.cleanup();
    stranger.cleanup();
  });
  const recordedAt = new Date().toISOString();

  function chain(signer = certifier.signer, correspondenceId = 'c-verify'): ServedItem[] {
    return evidenceChain(signer, correspondenceId, recordedAt) as ServedItem[];
  }
  const rules = (items: unknown[]) => verifyEvidenceChain(items, certifier.signer.caCertificatePem).problems.map((p) => `${p.index}:${p.rule}`);

  it('accepts the chain as served, record by record', () => {
    const items = chain();
    const verdict = verifyEvidenceChain(items, certifier.signer.caCertificatePem);
    expect(verdict).toMatchObject({ valid: true, correspondenceId: 'c-verify', problems: [] });
    expect(verdict.records).toHaveLength(items.length);
    expect(verdict.records[0]).toMatchObject({
      index: 0,
      eventName: 'sigillum:CorrespondenceValidatedBySender',
      valid: true,
      recordDigest: items[0].recordDigest,
    });
  });

  it('names the rule a changed record breaks: the payload, the digest and the next link', () => {
    const items = chain().map((item) => ({ ...item, record: { ...item.record } }));
    (items[2].record as Record<string, unknown>).EventTime = '2020-01-01T00:00:00.000Z';
    expect(rules(items)).toEqual(['2:payload.mismatch', '2:digest.mismatch', '3:chain.link']);
  });

  it('names a broken signature, a wrong digest and a wrong link', () => {
    const items = chain();
    const [h, p, s] = items[1].jws!.split('.');
    items[1] = { ...items[1], jws: `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}` };
    items[4] = { ...items[4], recordDigest: 'e'.repeat(64) };
    items[5] = { ...items[5], previousEvidenceDigest: null };
    expect(rules(items)).toEqual(['1:jws.signature.invalid', '4:digest.mismatch', '5:chain.link']);
  });

  it('names gaps and reordering', () => {
    const items = chain();
    expect(rules([items[0], items[2], items[3]])).toEqual(['1:chain.index', '1:chain.link', '2:chain.index']);
    expect(rules([items[1], items[0]])).toEqual(['0:chain.index', '0:chain.link', '1:chain.index', '1:chain.link']);
  });

  it('refuses evidence signed under another CA, and a record naming another signing certificate', () => {
    const foreign = chain(stranger.signer);
    expect(rules(foreign.slice(0, 1))).toEqual(['0:jws.chain.untrusted']);
    const items = chain();
    const record = {
      ...items[0].record,
      EvidenceIssuerDetails: { ...(items[0].record.EvidenceIssuerDetails as object), certificateFingerprint: '0'.repeat(64) },
    };
    const resigned = { ...items[0], record, recordDigest: recordDigestOf(record), jws: certifier.signer.sign(record) };
    expect(rules([resigned])).toEqual(['0:issuer.mismatch']);
  });

  it('refuses records of two correspondences in one chain', () => {
    const mine = chain();
    const other = chain(certifier.signer, 'c-other');
    expect(rules([mine[0], other[1]])).toContain('1:chain.correspondence');
  });

  it('says what is wrong with input that is not evidence', () => {
    expect(rules([{ hello: 'world' }])).toEqual(['0:record.shape']);
    expect(verifyEvidenceChain('nope' as unknown as unknown[], certifier.signer.caCertificatePem)).toMatchObject({
      valid: false,
      problems: [{ rule: 'record.shape' }],
    });
  });

  it('checks certificates when the evidence was recorded, or at a time given', () => {
    const items = chain();
    expect(verifyEvidenceChain(items, certifier.signer.caCertificatePem, { at: new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000) }).problems[0].rule).toBe(
      'jws.certificate.expired',
    );
    expect(verifyEvidenceChain(items, certifier.signer.caCertificatePem).valid).toBe(true);
  });
  it('verifies records that name their certificate by x5t#S256 when given the certificate, and says so when not', () => {
    const items = evidenceChain(certifier.signer, 'c-x5t', recordedAt, 'x5t');
    const ca = certifier.signer.caCertificatePem;
    const verdict = verifyEvidenceChain(items, ca, { certificates: [stranger.signer.certificatePem, certifier.signer.certificatePem] });
    expect(verdict).toMatchObject({ valid: true, problems: [] });
    expect(verdict.records.every((record) => record.signed)).toBe(true);
    expect(verifyEvidenceChain(items.slice(0, 1), ca).problems.map((p) => p.rule)).toEqual(['jws.x5t.unresolved']);
    expect(verifyEvidenceChain(items.slice(0, 1), ca, { certificates: [stranger.signer.certificatePem] }).problems.map((p) => p.rule)).toEqual([
      'jws.x5t.unknown',
    ]);
  });

  it('checks the chain of unsigned records (the evidence log vouches for them) and still finds an edit', () => {
    const items = evidenceChain(certifier.signer, 'c-unsigned', recordedAt, 'none') as ServedItem[];
    const verdict = verifyEvidenceChain(items, certifier.signer.caCertificatePem);
    expect(verdict).toMatchObject({ valid: true, problems: [] });
    expect(verdict.records.some((record) => record.signed)).toBe(false);
    const edited = items.map((item) => ({ ...item, record: { ...item.record } }));
    edited[3].record.EventTime = '2020-01-01T00:00:00.000Z';
    expect(rules(edited)).toEqual(['3:digest.mismatch', '4:chain.link']);
    expect(rules([{ record: items[0].record, jws: 42 }])).toEqual(['0:record.shape']);
  });
});
