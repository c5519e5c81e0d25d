import { createPrivateKey, createPublicKey, createVerify, generateKeyPairSync, type KeyObject, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import * as fc from 'fast-check';
import { canonicalize } from './canonical-json';
import {
  base64UrlDecode,
  JwsError,
  signJws,
  signJwsAsync,
  signJwsDetached,
  signJwsDetachedAsync,
  verifyJws,
  verifyJwsDetached,
  type JwsAlgorithm,
} from './jws';

const ed = generateKeyPairSync('ed25519');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keys: Record<JwsAlgorithm, { privateKey: KeyObject; publicKey: KeyObject }> = { EdDSA: ed, RS256: rsa, ES256: ec };

const evidence = {
  EvidenceIdentifier: '01JD3Q1ZC6M1S7Y0X9B4H2N8KD',
  ERDSEventId: 'http://uri.etsi.org/19522/Event/SubmissionAcceptance',
  EventTime: '2026-11-25T08:00:00.250Z',
  amount: 1e21,
  names: ['Zoë', 'Ådne', '😀'],
};

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(JwsError);
    return (error as JwsError).code;
  }
  throw new Error('expected a JwsError');
}

/** An independent verifier from node:crypto primitives only (no code from jws.ts). */
function independentVerify(token: string, publicKey: KeyObject): { header: unknown; payload: unknown } | false {
  const [h, p, s] = token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg: string };
  const input = Buffer.from(`${h}.${p}`, 'ascii');
  const signature = Buffer.from(s, 'base64url');
  let ok: boolean;
  if (header.alg === 'EdDSA') ok = cryptoVerify(null, input, publicKey, signature);
  else if (header.alg === 'RS256') ok = createVerify('RSA-SHA256').update(input).verify(publicKey, signature);
  else if (header.alg === 'ES256') ok = createVerify('SHA256').update(input).verify({ key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  else return false;
  return ok && { header, payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) };
}

describe('JWS (RFC 7515) over canonical JSON', () => {
  it.each<JwsAlgorithm>(['EdDSA', 'RS256', 'ES256'])('signs and verifies %s; an independent node:crypto verifier agrees', (alg) => {
    const { privateKey, publicKey } = keys[alg];
    const token = signJws(evidence, { privateKey, alg, kid: 'evidence-signer#1', typ: 'JOSE' });
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const verified = verifyJws(token, { publicKey, expectedAlg: alg });
    expect(verified.header).toEqual({ alg, kid: 'evidence-signer#1', typ: 'JOSE' });
    expect(verified.payload).toEqual(evidence);
    expect(verified.payloadText).toBe(canonicalize(evidence));
    expect(verified.signerCertificatePem).toBeUndefined();
    expect(independentVerify(token, publicKey)).toEqual({ header: { alg, kid: 'evidence-signer#1', typ: 'JOSE' }, payload: evidence });
    // Header and payload segments are the base64url of canonical JSON.
    const [h, p] = token.split('.');
    expect(Buffer.from(h, 'base64url').toString()).toBe(`{"alg":"${alg}","kid":"evidence-signer#1","typ":"JOSE"}`);
    expect(Buffer.from(p, 'base64url').toString()).toBe(canonicalize(evidence));
  });

  it('is deterministic for EdDSA and RS256 and independent of member order', () => {
    const reordered = {
      names: evidence.names,
      amount: evidence.amount,
      EventTime: evidence.EventTime,
      ERDSEventId: evidence.ERDSEventId,
      EvidenceIdentifier: evidence.EvidenceIdentifier,
    };
    for (const alg of ['EdDSA', 'RS256'] as const) {
      expect(signJws(reordered, { privateKey: keys[alg].privateKey, alg })).toBe(signJws(evidence, { privateKey: keys[alg].privateKey, alg }));
    }
  });

  it('verifies the RFC 8037 §A.4 Ed25519 example signature (then refuses its non-JSON payload)', () => {
    const jwk = { kty: 'OKP', crv: 'Ed25519', d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
    const publicKey = createPublicKey(createPrivateKey({ key: jwk, format: 'jwk' }));
    const token =
      'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg';
    // Past the signature check: only the payload ("Example of Ed25519 signing", not JSON) is refused.
    expect(codeOf(() => verifyJws(token, { publicKey }))).toBe('jws.payload.invalid');
    const flipped = token.replace('.hgyY', '.hgyZ');
    expect(flipped).not.toBe(token);
    expect(codeOf(() => verifyJws(flipped, { publicKey }))).toBe('jws.signature.invalid');
  });

  it('signs and verifies a detached payload', () => {
    const token = signJwsDetached(evidence, { privateKey: ed.privateKey, alg: 'EdDSA' });
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/);
    expect(verifyJwsDetached(token, { ...evidence }, { publicKey: ed.publicKey }).payload).toEqual(evidence);
    expect(codeOf(() => verifyJwsDetached(token, { ...evidence, amount: 2 }, { publicKey: ed.publicKey }))).toBe('jws.signature.invalid');
    expect(codeOf(() => verifyJws(token, { publicKey: ed.publicKey }))).toBe('jws.format');
    const attached = signJws(evidence, { privateKey: ed.privateKey, alg: 'EdDSA' });
    expect(codeOf(() => verifyJwsDetached(attached, evidence, { publicKey: ed.publicKey }))).toBe('jws.format');
    // The detached signature is the attached one.
    expect(token.split('.')[2]).toBe(attached.split('.')[2]);
  });

  it('refuses a key that does not fit the algorithm, both when signing and verifying', () => {
    expect(codeOf(() => signJws(evidence, { privateKey: rsa.privateKey, alg: 'EdDSA' }))).toBe('jws.key.alg-mismatch');
    expect(codeOf(() => signJws(evidence, { privateKey: ed.privateKey, alg: 'ES256' }))).toBe('jws.key.alg-mismatch');
    expect(codeOf(() => signJws(evidence, { privateKey: ed.publicKey, alg: 'EdDSA' }))).toBe('jws.key.not-private');
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(codeOf(() => signJws(evidence, { privateKey: small.privateKey, alg: 'RS256' }))).toBe('jws.key.alg-mismatch');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(codeOf(() => signJws(evidence, { privateKey: p384.privateKey, alg: 'ES256' }))).toBe('jws.key.alg-mismatch');
    expect(codeOf(() => signJws(evidence, { privateKey: ed.privateKey, alg: 'none' as JwsAlgorithm }))).toBe('jws.alg.unsupported');
    const token = signJws(evidence, { privateKey: ed.privateKey, alg: 'EdDSA' });
    expect(codeOf(() => verifyJws(token, { publicKey: rsa.publicKey }))).toBe('jws.key.alg-mismatch');
    expect(codeOf(() => verifyJws(token, { publicKey: generateKeyPairSync('ed25519').publicKey }))).toBe('jws.signature.invalid');
    expect(codeOf(() => verifyJws(token, { publicKey: ed.publicKey, expectedAlg: 'RS256' }))).toBe('jws.alg.unexpected');
    expect(codeOf(() => verifyJws(token, {}))).toBe('jws.key.missing');
  });

  it('refuses alg "none", crit, b64 and malformed tokens', () => {
    const payload = Buffer.from(canonicalize(evidence)).toString('base64url');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    expect(codeOf(() => verifyJws(none, { publicKey: ed.publicKey }))).toBe('jws.alg.unsupported');
    const hs = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${payload}.AAAA`;
    expect(codeOf(() => verifyJws(hs, { publicKey: ed.publicKey }))).toBe('jws.alg.unsupported');
    const crit = `${Buffer.from('{"alg":"EdDSA","crit":["exp"],"exp":1}').toString('base64url')}.${payload}.AAAA`;
    expect(codeOf(() => verifyJws(crit, { publicKey: ed.publicKey }))).toBe('jws.header.crit');
    const b64 = `${Buffer.from('{"alg":"EdDSA","b64":false}').toString('base64url')}.${payload}.AAAA`;
    expect(codeOf(() => verifyJws(b64, { publicKey: ed.publicKey }))).toBe('jws.header.b64');
    expect(codeOf(() => verifyJws('a.b', { publicKey: ed.publicKey }))).toBe('jws.format');
    expect(codeOf(() => verifyJws('a.b.c.d', { publicKey: ed.publicKey }))).toBe('jws.format');
    expect(codeOf(() => verifyJws('e30=.e30.AAAA', { publicKey: ed.publicKey }))).toBe('jws.encoding');
    expect(codeOf(() => verifyJws(`${Buffer.from('[1]').toString('base64url')}.e30.AAAA`, { publicKey: ed.publicKey }))).toBe('jws.header.invalid');
  });

  it('refuses a validly signed payload that is not canonical JSON, unless asked not to', () => {
    const header = Buffer.from('{"alg":"EdDSA"}').toString('base64url');
    const payload = Buffer.from('{"b":1, "a":2}').toString('base64url');
    const signature = cryptoSign(null, Buffer.from(`${header}.${payload}`), ed.privateKey).toString('base64url');
    const token = `${header}.${payload}.${signature}`;
    expect(codeOf(() => verifyJws(token, { publicKey: ed.publicKey }))).toBe('jws.payload.not-canonical');
    expect(verifyJws(token, { publicKey: ed.publicKey, requireCanonicalPayload: false }).payload).toEqual({ a: 2, b: 1 });
  });

  it('decodes base64url strictly', () => {
    expect(base64UrlDecode('AQID').equals(Buffer.from([1, 2, 3]))).toBe(true);
    expect(() => base64UrlDecode('AQI=')).toThrow(/not base64url/);
    expect(() => base64UrlDecode('AQ+D')).toThrow(/not base64url/);
    expect(() => base64UrlDecode('AR')).toThrow(/canonical/); // stray low bits
  });

  describe('properties', () => {
    const payloads = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' });

    it('any JSON payload round-trips (EdDSA, ES256)', () => {
      fc.assert(
        fc.property(payloads, fc.constantFrom<JwsAlgorithm>('EdDSA', 'ES256'), (payload, alg) => {
          const token = signJws(payload, { privateKey: keys[alg].privateKey, alg });
          const verified = verifyJws(token, { publicKey: keys[alg].publicKey, expectedAlg: alg });
          expect(verified.payloadText).toBe(canonicalize(payload));
          expect(verified.payload).toEqual(JSON.parse(canonicalize(payload)));
        }),
        { numRuns: 200 },
      );
    });

    it('flipping any bit of the signature, payload or header makes verification fail', () => {
      const token = signJws(evidence, { privateKey: ed.privateKey, alg: 'EdDSA' });
      const parts = token.split('.').map((part) => Buffer.from(part, 'base64url'));
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (part, offset, bit) => {
          const bytes = Buffer.from(parts[part]);
          bytes[offset % bytes.length] ^= 1 << bit;
          const altered = parts.map((original, index) => (index === part ? bytes : original).toString('base64url')).join('.');
          expect(() => verifyJws(altered, { publicKey: ed.publicKey })).toThrow(JwsError);
        }),
        { numRuns: 500 },
      );
    });

    it('altering any character of the compact token makes verification fail (RS256)', () => {
      const token = signJws(evidence, { privateKey: rsa.privateKey, alg: 'RS256' });
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      fc.assert(
        fc.property(fc.nat({ max: token.length - 1 }), fc.integer({ min: 1, max: 63 }), (index, shift) => {
          if (token[index] === '.') return;
          const replacement = alphabet[(alphabet.indexOf(token[index]) + shift) % 64];
          const altered = `${token.slice(0, index)}${replacement}${token.slice(index + 1)}`;
          expect(() => verifyJws(altered, { publicKey: rsa.publicKey })).toThrow(JwsError);
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe("signJwsAsync and signJwsDetachedAsync (the signature on libuv's threadpool)", () => {
  it('make the very JWS of signJws and signJwsDetached for EdDSA and RS256 (deterministic), and a valid one for ES256', async () => {
    for (const alg of ['EdDSA', 'RS256'] as const) {
      const options = { privateKey: keys[alg].privateKey, alg, kid: 'k-1', typ: 'JOSE' };
      expect(await signJwsAsync(evidence, options)).toBe(signJws(evidence, options));
      expect(await signJwsDetachedAsync(evidence, options)).toBe(signJwsDetached(evidence, options));
    }
    const es = { privateKey: ec.privateKey, alg: 'ES256' as const };
    expect(verifyJws(await signJwsAsync(evidence, es), { publicKey: ec.publicKey }).payload).toEqual(evidence);
    expect(verifyJwsDetached(await signJwsDetachedAsync(evidence, es), evidence, { publicKey: ec.publicKey }).header.alg).toBe('ES256');
  });

  it('reject with the JwsError signJws throws (a public key, a key of another algorithm)', async () => {
    for (const options of [
      { privateKey: ed.publicKey, alg: 'EdDSA' as const },
      { privateKey: rsa.privateKey, alg: 'EdDSA' as const },
    ]) {
      const code = codeOf(() => signJws(evidence, options));
      await expect(signJwsAsync(evidence, options)).rejects.toMatchObject({ code });
      await expect(signJwsDetachedAsync(evidence, options)).rejects.toMatchObject({ code });
    }
  });
});
