import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { CertificateAuthority } from '../ca';
import { generateKeyPair, type GeneratedKeyPair } from '../keys';
import { FileKeyStore } from '../keystore';
import {
  createTimeStampRejection,
  createTimeStampResponse,
  createTimeStampToken,
  createTimeStampTokenAsync,
  parseTimeStampRequest,
  parseTimeStampResponse,
  parseTimeStampToken,
  respondToTimeStampRequest,
  sha256Imprint,
  TimeStampError,
  type TimeStampAuthorityCredentials,
  verifyTimeStampToken,
} from './tsa';

const OPENSSL = '/usr/bin/openssl';
const PASSPHRASE = 'correct horse battery staple';
const now = new Date('2026-11-25T08:00:00.000Z');
const genTime = new Date('2026-11-26T10:15:30.125Z');
const POLICY = '1.3.6.1.4.1.99999.1.1';
/** openssl verifies certificates at this time (an hour after genTime). */
const ATTIME = ['-attime', String(Math.floor(genTime.getTime() / 1000) + 3600)];

/** Runs openssl: `stdout` alone, and `out` = stdout + stderr (openssl ts prints notices on stderr). */
function openssl(args: string[]): { status: number; stdout: string; out: string } {
  const result = spawnSync(OPENSSL, args, { encoding: 'utf8' });
  return { status: result.status ?? -1, stdout: result.stdout, out: `${result.stdout}${result.stderr}` };
}

function verified(args: string[]): { status: number; stdout: string } {
  const { status, stdout } = openssl(['ts', '-verify', ...ATTIME, ...args]);
  return { status, stdout };
}

function errorOf(action: () => unknown): TimeStampError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(TimeStampError);
    return error as TimeStampError;
  }
  throw new Error('expected a TimeStampError');
}

describe('RFC 3161 time-stamp authority, checked by openssl ts', () => {
  let dir: string;
  let ca: CertificateAuthority;
  let caFile: string;
  let tsaKey: GeneratedKeyPair;
  let tsa: TimeStampAuthorityCredentials;
  let tsaFile: string;
  let dataFile: string;
  const data = Buffer.from('Registered delivery evidence #1: SubmissionAcceptance\n', 'utf8');

  function write(name: string, content: string | Buffer): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  }

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-tsa-'));
    const keystore = FileKeyStore.open({ directory: path.join(dir, 'keys'), passphrase: PASSPHRASE });
    ca = CertificateAuthority.loadOrCreate(keystore, { commonName: 'Sigillum Test CA', organisation: 'Sigillum', validityDays: 3650, now }).ca;
    caFile = write('ca.pem', ca.caCertificatePem);
    tsaKey = generateKeyPair('RSA');
    const issued = ca.issue({
      subject: { commonName: 'Sigillum TSA', organisation: 'Sigillum' },
      publicKeyPem: tsaKey.publicKeyPem,
      profile: 'tsa',
      validityDays: 365,
      now,
    });
    tsa = { certificatePem: issued.certificatePem, privateKey: tsaKey.privateKey };
    tsaFile = write('tsa.pem', issued.certificatePem);
    dataFile = write('data.bin', data);
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('makes a token that openssl ts -verify accepts for the data (token_in)', () => {
    const token = createTimeStampToken({ messageImprint: sha256Imprint(data), policyOid: POLICY, serialNumber: 42n, genTime, tsa, nonce: 0x1234567890abcdefn });
    const tokenFile = write('token.tsr', token);
    expect(verified(['-data', dataFile, '-in', tokenFile, '-token_in', '-CAfile', caFile, '-untrusted', tsaFile])).toEqual({
      status: 0,
      stdout: 'Verification: OK\n',
    });
    // The CMS structure reads as a PKCS#7 SignedData with our certificate in it.
    const printed = openssl(['pkcs7', '-inform', 'DER', '-in', tokenFile, '-print_certs', '-noout']);
    expect(printed.out).toMatch(/subject=O = Sigillum, CN = Sigillum TSA/);
    // Our own verifier agrees.
    const info = verifyTimeStampToken(token, { data, trustedCaPem: ca.caCertificatePem, nonce: 0x1234567890abcdefn, policyOid: POLICY });
    expect(info).toMatchObject({ policy: POLICY, serialNumber: 42n, genTime, nonce: 0x1234567890abcdefn, ordering: false });
    expect(info.signerCertificatePem).toBe(tsa.certificatePem);
  });

  it('makes a granted TimeStampResp that openssl verifies and prints with its policy, time, serial and nonce', () => {
    const response = createTimeStampResponse({
      messageImprint: sha256Imprint(data),
      policyOid: POLICY,
      serialNumber: 0xabcdefn,
      genTime,
      accuracy: { seconds: 1, millis: 500 },
      nonce: 7n,
      includeTsaName: true,
      tsa,
    });
    const responseFile = write('resp.tsr', response);
    expect(verified(['-data', dataFile, '-in', responseFile, '-CAfile', caFile])).toEqual({ status: 0, stdout: 'Verification: OK\n' });
    const text = openssl(['ts', '-reply', '-in', responseFile, '-text']);
    expect(text.status).toBe(0);
    expect(text.out).toMatch(/Status: Granted\./);
    expect(text.out).toMatch(new RegExp(`Policy OID: ${POLICY.replace(/\./g, '\\.')}`));
    expect(text.out).toMatch(/Hash Algorithm: sha256/);
    expect(text.out).toMatch(/Serial number: 0xABCDEF/);
    expect(text.out).toMatch(/Time stamp: Nov 26 10:15:30\.125 2026 GMT/);
    expect(text.out).toMatch(/Accuracy: 0x01 seconds, 0x01F4 millis, unspecified micros/);
    expect(text.out).toMatch(/Nonce: 0x07/);
    expect(text.out).toMatch(/TSA: DirName:\/O=Sigillum\/CN=Sigillum TSA/);
    const digest = createHash('sha256').update(data).digest();
    expect(text.out).toContain(`0000 - ${[...digest.subarray(0, 8)].map((byte) => byte.toString(16).padStart(2, '0')).join(' ')}-`);
    const parsed = parseTimeStampResponse(response);
    expect(parsed.status).toBe(0);
    expect(parseTimeStampToken(parsed.token!)).toMatchObject({
      policy: POLICY,
      serialNumber: 0xabcdefn,
      genTime,
      accuracy: { seconds: 1, millis: 500 },
      nonce: 7n,
    });
  });

  it('answers an openssl ts -query (sha256, nonce, cert) with a response openssl accepts for that query', () => {
    const requestFile = path.join(dir, 'req.tsq');
    expect(openssl(['ts', '-query', '-data', dataFile, '-sha256', '-cert', '-out', requestFile]).status).toBe(0);
    const request = parseTimeStampRequest(fs.readFileSync(requestFile));
    expect(request.messageImprint).toEqual(sha256Imprint(data));
    expect(request.certReq).toBe(true);
    expect(typeof request.nonce).toBe('bigint');
    expect(request.reqPolicy).toBeUndefined();
    const answer = respondToTimeStampRequest(fs.readFileSync(requestFile), { tsa, policyOid: POLICY, serialNumber: 1001n, genTime });
    expect(answer.granted).toBe(true);
    const responseFile = write('query-resp.tsr', answer.der);
    expect(verified(['-queryfile', requestFile, '-in', responseFile, '-CAfile', caFile, '-untrusted', tsaFile])).toEqual({
      status: 0,
      stdout: 'Verification: OK\n',
    });
    // A response to another query (other nonce) is refused by openssl.
    const otherRequest = path.join(dir, 'req2.tsq');
    openssl(['ts', '-query', '-data', dataFile, '-sha256', '-cert', '-out', otherRequest]);
    const mismatch = openssl(['ts', '-verify', ...ATTIME, '-queryfile', otherRequest, '-in', responseFile, '-CAfile', caFile, '-untrusted', tsaFile]);
    expect(mismatch.status).not.toBe(0);
    expect(mismatch.out).toMatch(/nonce mismatch/);
  });

  it('honours a policy named in the request, and rejects one it does not offer', () => {
    const requestFile = path.join(dir, 'req-policy.tsq');
    expect(openssl(['ts', '-query', '-data', dataFile, '-sha512', '-tspolicy', '1.2.3.4.5', '-no_nonce', '-out', requestFile]).status).toBe(0);
    const request = parseTimeStampRequest(fs.readFileSync(requestFile));
    expect(request).toMatchObject({ reqPolicy: '1.2.3.4.5', certReq: false, messageImprint: { hashAlgorithm: 'sha512' } });
    expect(request.nonce).toBeUndefined();
    const granted = respondToTimeStampRequest(fs.readFileSync(requestFile), {
      tsa,
      policyOid: POLICY,
      acceptedPolicyOids: [POLICY, '1.2.3.4.5'],
      serialNumber: 5n,
      genTime,
    });
    const responseFile = write('policy-resp.tsr', granted.der);
    // certReq was false: the token carries no certificate, so openssl needs -untrusted.
    expect(parseTimeStampToken(parseTimeStampResponse(granted.der).token!).certificatePems).toEqual([]);
    expect(verified(['-queryfile', requestFile, '-in', responseFile, '-CAfile', caFile, '-untrusted', tsaFile])).toEqual({
      status: 0,
      stdout: 'Verification: OK\n',
    });
    const rejected = respondToTimeStampRequest(fs.readFileSync(requestFile), { tsa, policyOid: POLICY, serialNumber: 6n, genTime });
    expect(rejected).toMatchObject({ granted: false, failure: 'unacceptedPolicy' });
    const text = openssl(['ts', '-reply', '-in', write('rejected.tsr', rejected.der), '-text']);
    expect(text.out).toMatch(/Status: Rejected\./);
    expect(text.out).toMatch(/Failure info: the requested TSA policy is not supported by the TSA/);
    expect(parseTimeStampResponse(rejected.der)).toMatchObject({ status: 2, failure: ['unacceptedPolicy'] });
  });

  it('rejects a SHA-1 query with badAlg and garbage with badDataFormat', () => {
    const sha1Request = path.join(dir, 'req-sha1.tsq');
    expect(openssl(['ts', '-query', '-data', dataFile, '-sha1', '-out', sha1Request]).status).toBe(0);
    expect(errorOf(() => parseTimeStampRequest(fs.readFileSync(sha1Request))).failure).toBe('badAlg');
    const answer = respondToTimeStampRequest(fs.readFileSync(sha1Request), { tsa, policyOid: POLICY, serialNumber: 7n, genTime });
    expect(answer).toMatchObject({ granted: false, failure: 'badAlg' });
    expect(openssl(['ts', '-reply', '-in', write('badalg.tsr', answer.der), '-text']).out).toMatch(/unrecognized or unsupported algorithm identifier/);
    expect(errorOf(() => parseTimeStampRequest(Buffer.from('not a request'))).failure).toBe('badDataFormat');
    expect(respondToTimeStampRequest(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]), { tsa, policyOid: POLICY, serialNumber: 8n, genTime }).failure).toBe(
      'badDataFormat',
    );
    expect(parseTimeStampResponse(createTimeStampRejection('systemFailure', 'clock unavailable'))).toEqual({
      status: 2,
      statusText: ['clock unavailable'],
      failure: ['systemFailure'],
    });
  });

  it('fails verification for tampered data, a tampered token and another CA', () => {
    const token = createTimeStampToken({ messageImprint: sha256Imprint(data), policyOid: POLICY, serialNumber: 43n, genTime, tsa });
    const tokenFile = write('token-43.tsr', token);
    const tamperedData = write('data-tampered.bin', Buffer.concat([data, Buffer.from('!')]));
    const badData = openssl(['ts', '-verify', ...ATTIME, '-data', tamperedData, '-in', tokenFile, '-token_in', '-CAfile', caFile, '-untrusted', tsaFile]);
    expect(badData.status).not.toBe(0);
    expect(badData.out).toMatch(/message imprint mismatch/);
    expect(errorOf(() => verifyTimeStampToken(token, { data: Buffer.concat([data, Buffer.from('!')]), trustedCaPem: ca.caCertificatePem })).code).toBe(
      'token.imprint.mismatch',
    );

    // One byte of the TSTInfo's serial changed: the messageDigest no longer matches.
    const altered = Buffer.from(token);
    const tstInfoAt = altered.indexOf(createHash('sha256').update(data).digest());
    altered[tstInfoAt + 32 + 2] ^= 0x01; // the serial INTEGER's content byte right after the imprint
    const alteredFile = write('token-altered.tsr', altered);
    expect(openssl(['ts', '-verify', ...ATTIME, '-data', dataFile, '-in', alteredFile, '-token_in', '-CAfile', caFile, '-untrusted', tsaFile]).status).not.toBe(
      0,
    );
    expect(errorOf(() => verifyTimeStampToken(altered, { data, trustedCaPem: ca.caCertificatePem })).code).toBe('token.digest.mismatch');

    const otherStore = FileKeyStore.open({ directory: path.join(dir, 'other-keys'), passphrase: PASSPHRASE });
    const other = CertificateAuthority.loadOrCreate(otherStore, { commonName: 'Sigillum Test CA', organisation: 'Sigillum', validityDays: 3650, now }).ca;
    const otherFile = write('other-ca.pem', other.caCertificatePem);
    expect(
      openssl(['ts', '-verify', ...ATTIME, '-data', dataFile, '-in', tokenFile, '-token_in', '-CAfile', otherFile, '-untrusted', tsaFile]).status,
    ).not.toBe(0);
    expect(errorOf(() => verifyTimeStampToken(token, { data, trustedCaPem: other.caCertificatePem })).code).toBe('token.chain.untrusted');
  });

  it('refuses to stamp with a certificate that is not a TSA certificate, a foreign key, or outside its validity', () => {
    const signing = ca.issue({ subject: { commonName: 'Not a TSA' }, publicKeyPem: tsaKey.publicKeyPem, profile: 'signing', validityDays: 365, now });
    const base = { messageImprint: sha256Imprint(data), policyOid: POLICY, serialNumber: 1n, genTime };
    expect(errorOf(() => createTimeStampToken({ ...base, tsa: { certificatePem: signing.certificatePem, privateKey: tsaKey.privateKey } })).code).toBe(
      'tsa.certificate.purpose',
    );
    expect(errorOf(() => createTimeStampToken({ ...base, tsa: { ...tsa, privateKey: generateKeyPair('RSA').privateKey } })).code).toBe('tsa.certificate.key');
    expect(errorOf(() => createTimeStampToken({ ...base, genTime: new Date('2030-01-01T00:00:00Z'), tsa })).failure).toBe('timeNotAvailable');
    expect(errorOf(() => createTimeStampToken({ ...base, policyOid: 'policy', tsa })).code).toBe('policy.oid');
    expect(errorOf(() => createTimeStampToken({ ...base, serialNumber: -1n, tsa })).code).toBe('serialNumber.range');
    expect(errorOf(() => createTimeStampToken({ ...base, messageImprint: { hashAlgorithm: 'sha256', hashedMessage: Buffer.alloc(20) }, tsa })).code).toBe(
      'imprint.length',
    );
  });

  it('stamps with an Ed25519 TSA key (RFC 8419): our verifier accepts it', () => {
    const edKey = generateKeyPair('Ed25519');
    const issued = ca.issue({
      subject: { commonName: 'Sigillum TSA Ed25519', organisation: 'Sigillum' },
      publicKeyPem: edKey.publicKeyPem,
      profile: 'tsa',
      validityDays: 365,
      now,
    });
    const edTsa = { certificatePem: issued.certificatePem, privateKey: edKey.privateKey };
    const token = createTimeStampToken({ messageImprint: sha256Imprint(data), policyOid: POLICY, serialNumber: 99n, genTime, tsa: edTsa });
    expect(verifyTimeStampToken(token, { data, trustedCaPem: ca.caCertificatePem }).serialNumber).toBe(99n);
    expect(errorOf(() => verifyTimeStampToken(token, { data: Buffer.from('other'), trustedCaPem: ca.caCertificatePem })).code).toBe('token.imprint.mismatch');
    // Note: OpenSSL 3.0's CMS/PKCS7 code cannot verify Ed25519 SignedData at all ("eddsa_digest_signverify_init:
    // invalid digest", even for its own `openssl cms -sign`), so RSA is the TSA key to use for openssl interop.
  });

  it('createTimeStampTokenAsync (the signature on the threadpool): the same DER as createTimeStampToken, RSA and Ed25519, and openssl accepts it', async () => {
    const options = { messageImprint: sha256Imprint(data), policyOid: POLICY, serialNumber: 0xfeedn, genTime, nonce: 3n };
    const rsaToken = await createTimeStampTokenAsync({ ...options, tsa });
    expect(rsaToken.equals(createTimeStampToken({ ...options, tsa }))).toBe(true);
    expect(verified(['-data', dataFile, '-in', write('async.tsr', rsaToken), '-token_in', '-CAfile', caFile, '-untrusted', tsaFile])).toEqual({
      status: 0,
      stdout: 'Verification: OK\n',
    });
    const edKey = generateKeyPair('Ed25519');
    const edCertificate = ca.issue({
      subject: { commonName: 'Sigillum TSA Ed25519 async' },
      publicKeyPem: edKey.publicKeyPem,
      profile: 'tsa',
      validityDays: 365,
      now,
    });
    const edTsa = { certificatePem: edCertificate.certificatePem, privateKey: edKey.privateKey, chainPems: [ca.caCertificatePem] };
    const edToken = await createTimeStampTokenAsync({ ...options, tsa: edTsa, includeTsaName: true });
    expect(edToken.equals(createTimeStampToken({ ...options, tsa: edTsa, includeTsaName: true }))).toBe(true);
    expect(verifyTimeStampToken(edToken, { data, trustedCaPem: ca.caCertificatePem, nonce: 3n }).serialNumber).toBe(0xfeedn);
  });

  it('createTimeStampTokenAsync refuses what createTimeStampToken refuses, as a rejected promise with the same TimeStampError', async () => {
    const signing = ca.issue({ subject: { commonName: 'Not a TSA either' }, publicKeyPem: tsaKey.publicKeyPem, profile: 'signing', validityDays: 365, now });
    const base = { messageImprint: sha256Imprint(data), policyOid: POLICY, serialNumber: 1n, genTime };
    const refusals: [string, Parameters<typeof createTimeStampToken>[0]][] = [
      ['tsa.certificate.purpose', { ...base, tsa: { certificatePem: signing.certificatePem, privateKey: tsaKey.privateKey } }],
      ['tsa.certificate.key', { ...base, tsa: { ...tsa, privateKey: generateKeyPair('RSA').privateKey } }],
      ['tsa.certificate.validity', { ...base, genTime: new Date('2030-01-01T00:00:00Z'), tsa }],
      ['genTime.invalid', { ...base, genTime: new Date(Number.NaN), tsa }],
      ['serialNumber.range', { ...base, serialNumber: -1n, tsa }],
    ];
    for (const [code, options] of refusals) {
      expect(errorOf(() => createTimeStampToken(options)).code).toBe(code);
      await expect(createTimeStampTokenAsync(options)).rejects.toMatchObject({ name: 'TimeStampError', code });
    }
  });

  it('our verifier refuses a token with any one byte changed', () => {
    const token = createTimeStampToken({ messageImprint: sha256Imprint(data), policyOid: POLICY, serialNumber: 77n, genTime, tsa, nonce: 5n });
    expect(verifyTimeStampToken(token, { data, trustedCaPem: ca.caCertificatePem }).serialNumber).toBe(77n);
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), fc.integer({ min: 1, max: 255 }), (offset, mask) => {
        const altered = Buffer.from(token);
        altered[offset] ^= mask;
        expect(() => verifyTimeStampToken(altered, { data, trustedCaPem: ca.caCertificatePem, nonce: 5n })).toThrow(TimeStampError);
      }),
      { numRuns: 1000 },
    );
  });
});
