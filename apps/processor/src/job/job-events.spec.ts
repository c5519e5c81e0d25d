import { createHash, X509Certificate } from 'node:crypto';
import { canonicalize, verifyJwsDetached } from '@sigillum/crypto';
import { performSeal, performSealAsync } from '../steps/seal.step';
import { createTestPki, SIGNING_KEY_ID, TEST_NOW, testToken, type TestPki } from '../testing-fixtures';
import { stepFailed, stepReport, tokenAcknowledged, tokenAcknowledgedAsync, tokenReturned, tokenReturnedAsync } from './job-events';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('job events: acknowledgement, signed report, failure', () => {
  let pki: TestPki;
  beforeAll(() => (pki = createTestPki()));
  afterAll(() => pki.cleanup());

  const token = testToken({ stepIndex: 0, step: 'seal', parameters: { level: 'substantial', copies: 2 } });
  const at = new Date(TEST_NOW.getTime() + 1_000);
  const later = new Date(TEST_NOW.getTime() + 1_250);

  it('acknowledges with the digest of the canonical token, signed detached by the operator key (certificate by x5t#S256, directory key id)', () => {
    const event = tokenAcknowledged(token, pki.signer, at);
    expect(event).toMatchObject({
      type: 'TokenAcknowledged',
      version: 1,
      data: {
        tokenId: token.tokenId,
        correspondenceId: token.correspondenceId,
        stepIndex: 0,
        operatorId: token.operatorId,
        tokenDigest: sha256(canonicalize(token)),
        acknowledgedAt: at.toISOString(),
        keyId: SIGNING_KEY_ID,
      },
    });
    const payload = { tokenId: token.tokenId, tokenDigest: event.data.tokenDigest, acknowledgedAt: event.data.acknowledgedAt };
    const verified = verifyJwsDetached(event.data.signature, payload, {
      trustedCaPem: pki.ca.caCertificatePem,
      certificates: pki.signingCertificate.certificatePem,
      expectedAlg: 'EdDSA',
      at,
    });
    expect(verified.header.kid).toBe(SIGNING_KEY_ID);
    expect(verified.header).not.toHaveProperty('x5c');
    expect(verified.signerCertificatePem).toBe(new X509Certificate(pki.signingCertificate.certificatePem).toString());
    expect(() =>
      verifyJwsDetached(
        event.data.signature,
        { ...payload, acknowledgedAt: later.toISOString() },
        { trustedCaPem: pki.ca.caCertificatePem, certificates: pki.signingCertificate.certificatePem, at },
      ),
    ).toThrow(/signature/);
  });

  it('the async builders (signatures on the threadpool) make the very events of the synchronous ones', async () => {
    expect(await tokenAcknowledgedAsync(token, pki.signer, at)).toEqual(tokenAcknowledged(token, pki.signer, at));
    const output = await performSealAsync(token, pki.signer, at);
    expect(output).toEqual(performSeal(token, pki.signer, at));
    const report = stepReport(token, output, at, later);
    expect(await tokenReturnedAsync(token, report, pki.signer, later)).toEqual(tokenReturned(token, report, pki.signer, later));
    expect(await pki.signer.signAsync(report)).toBe(pki.signer.sign(report));
  });

  it('returns the token with a report whose output digest is SHA-256 of the canonical output, signed detached', () => {
    const output = performSeal(token, pki.signer, at);
    const report = stepReport(token, output, at, later);
    expect(report).toEqual({
      tokenId: token.tokenId,
      step: 'seal',
      inputDigest: token.inputDigest,
      outputDigest: sha256(canonicalize(output)),
      parameters: { level: 'substantial', copies: 2 },
      startedAt: at.toISOString(),
      finishedAt: later.toISOString(),
      output,
    });
    const event = tokenReturned(token, report, pki.signer, later);
    expect(event.data).toMatchObject({
      tokenId: token.tokenId,
      stepIndex: 0,
      operatorId: token.operatorId,
      returnedAt: later.toISOString(),
      keyId: SIGNING_KEY_ID,
      report,
    });
    expect(
      verifyJwsDetached(event.data.signature, report, {
        trustedCaPem: pki.ca.caCertificatePem,
        certificates: pki.signingCertificate.certificatePem,
        expectedAlg: 'EdDSA',
        at: later,
      }).payload,
    ).toEqual(report);
    expect(() =>
      verifyJwsDetached(
        event.data.signature,
        { ...report, outputDigest: '0'.repeat(64) },
        { trustedCaPem: pki.ca.caCertificatePem, certificates: pki.signingCertificate.certificatePem, at: later },
      ),
    ).toThrow(/signature/);
  });

  it('records a failure with its reasons', () => {
    const reasons = [{ rule: 'certificate.missing', message: 'no certificate', partyId: token.operatorId }];
    expect(stepFailed(token, reasons, at)).toEqual({
      type: 'StepFailed',
      version: 1,
      data: {
        tokenId: token.tokenId,
        correspondenceId: token.correspondenceId,
        stepIndex: 0,
        operatorId: token.operatorId,
        reasons,
        failedAt: at.toISOString(),
      },
    });
  });
});
