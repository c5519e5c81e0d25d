import { createHash } from 'node:crypto';
import { parseTimeStampToken, verifyTimeStampToken } from '@sigillum/crypto';
import { DEFAULT_TSA_POLICY_OID } from '../processor.config';
import { createTestPki, TEST_NOW, testToken, type TestPki } from '../testing-fixtures';
import { StepFailure } from './step-failure';
import { inputDigestBytes, performTimestamp, performTimestampAsync, timestampImprintOf } from './timestamp.step';

function failureOf(action: () => unknown): StepFailure {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(StepFailure);
    return error as StepFailure;
  }
  throw new Error('expected a StepFailure');
}

describe('timestamp step (RFC 3161)', () => {
  let pki: TestPki;
  beforeAll(() => (pki = createTestPki()));
  afterAll(() => pki.cleanup());

  const genTime = new Date(TEST_NOW.getTime() + 2_125);
  const token = testToken({ step: 'timestamp', stepIndex: 1 });

  it('stamps SHA-256 of the 32 raw input-digest bytes with the operator TSA certificate; our verifier accepts it', () => {
    const output = performTimestamp(token, pki.tsa, { policyOid: DEFAULT_TSA_POLICY_OID, genTime, serialNumber: 0xc0ffeen });
    expect(output).toMatchObject({ step: 'timestamp', genTime: genTime.toISOString(), serialNumber: 'c0ffee' });
    const der = Buffer.from(output.timeStampToken, 'base64');
    expect(der.toString('base64')).toBe(output.timeStampToken); // standard base64, canonical
    const data = inputDigestBytes(token.inputDigest);
    expect(data).toHaveLength(32);
    const info = verifyTimeStampToken(der, { data, trustedCaPem: pki.ca.caCertificatePem, policyOid: DEFAULT_TSA_POLICY_OID });
    expect(info).toMatchObject({ policy: DEFAULT_TSA_POLICY_OID, serialNumber: 0xc0ffeen, genTime });
    expect(info.messageImprint.hashedMessage).toEqual(createHash('sha256').update(data).digest());
    expect(info.messageImprint).toEqual(timestampImprintOf(token.inputDigest));
    expect(info.signerCertificatePem).toBe(pki.tsaCertificate.certificatePem);
    // The token carries the TSA certificate (the CA is the verifier's trust anchor).
    expect(parseTimeStampToken(der).certificatePems).toEqual([pki.tsaCertificate.certificatePem]);
    // Another input does not match the imprint.
    expect(() => verifyTimeStampToken(der, { data: Buffer.from(token.inputDigest, 'utf8'), trustedCaPem: pki.ca.caCertificatePem })).toThrow(/imprint/);
  });

  it('gives each token its own random serial', () => {
    const serials = new Set(Array.from({ length: 5 }, () => performTimestamp(token, pki.tsa, { policyOid: DEFAULT_TSA_POLICY_OID, genTime }).serialNumber));
    expect(serials.size).toBe(5);
    for (const serial of serials) expect(serial).toMatch(/^[0-9a-f]{1,32}$/);
  });

  it('fails with reasons for a certificate without timeStamping usage, a time outside its validity, a bad digest', () => {
    const signingOnly = {
      ...pki.tsa,
      certificatePem: pki.ca.issue({ subject: { commonName: 'x' }, publicKeyPem: pki.tsaKey.publicKeyPem, profile: 'signing', validityDays: 30, now: TEST_NOW })
        .certificatePem,
    };
    expect(failureOf(() => performTimestamp(token, signingOnly, { policyOid: DEFAULT_TSA_POLICY_OID, genTime })).reasons).toEqual([
      expect.objectContaining({ rule: 'tsa.certificate.purpose', partyId: token.operatorId, subjectRole: 'operator' }),
    ]);
    const late = new Date(TEST_NOW.getTime() + 400 * 86_400_000);
    expect(failureOf(() => performTimestamp(token, pki.tsa, { policyOid: DEFAULT_TSA_POLICY_OID, genTime: late })).reasons[0].rule).toBe(
      'tsa.certificate.validity',
    );
    expect(failureOf(() => performTimestamp({ ...token, inputDigest: 'ABC' }, pki.tsa, { policyOid: DEFAULT_TSA_POLICY_OID, genTime })).reasons[0].rule).toBe(
      'input.digest-invalid',
    );
  });

  it('performTimestampAsync (the RSA signature on the threadpool): the same output as performTimestamp, the same failures as rejections', async () => {
    const options = { policyOid: DEFAULT_TSA_POLICY_OID, genTime, serialNumber: 0xc0ffeen };
    expect(await performTimestampAsync(token, pki.tsa, options)).toEqual(performTimestamp(token, pki.tsa, options));
    const late = { policyOid: DEFAULT_TSA_POLICY_OID, genTime: new Date(TEST_NOW.getTime() + 400 * 86_400_000) };
    await expect(performTimestampAsync(token, pki.tsa, late)).rejects.toEqual(failureOf(() => performTimestamp(token, pki.tsa, late)));
    await expect(performTimestampAsync(token, pki.tsa, late)).rejects.toBeInstanceOf(StepFailure);
    const badDigest = { ...token, inputDigest: 'ABC' };
    await expect(performTimestampAsync(badDigest, pki.tsa, options)).rejects.toMatchObject({
      reasons: [expect.objectContaining({ rule: 'input.digest-invalid' })],
    });
  });
});
