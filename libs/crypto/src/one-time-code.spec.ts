import { randomBytes } from 'node:crypto';
import { codeVerifier, generateNumericCode, maskAddress, verifyCode } from './one-time-code';

describe('generateNumericCode', () => {
  it.each([6, 8, 12])('has exactly %i digits, digits only', (length) => {
    for (let i = 0; i < 50; i++) expect(generateNumericCode(length)).toMatch(new RegExp(`^[0-9]{${length}}$`));
  });

  it.each([0, 5, 13, 6.5, Number.NaN])('refuses a length of %p', (length) => {
    expect(() => generateNumericCode(length)).toThrow(RangeError);
  });

  it('uses every digit in every position (no fixed or missing digit)', () => {
    // 2000 codes × 6 positions: the chance that a given digit never shows in a given position is 0.9^2000 ≈ 1e-92.
    const seen = Array.from({ length: 6 }, () => new Set<string>());
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const code = generateNumericCode(6);
      [...code].forEach((digit, position) => {
        seen[position].add(digit);
        counts.set(digit, (counts.get(digit) ?? 0) + 1);
      });
    }
    for (const digits of seen) expect(digits.size).toBe(10);
    // 12000 digits, 1200 expected per digit, σ ≈ 33: 600 is ~18σ away, never reached by a uniform draw.
    for (const count of counts.values()) expect(count).toBeGreaterThan(600);
  });

  it('does not repeat itself', () => {
    const codes = new Set(Array.from({ length: 200 }, () => generateNumericCode(12)));
    expect(codes.size).toBeGreaterThan(195);
  });
});

describe('codeVerifier / verifyCode', () => {
  const key = randomBytes(32);

  it('is HMAC-SHA256 hex, deterministic for one key, id and code', () => {
    const verifier = codeVerifier(key, 'session-1', '123456');
    expect(verifier).toMatch(/^[0-9a-f]{64}$/);
    expect(codeVerifier(key, 'session-1', '123456')).toBe(verifier);
  });

  it('binds the id: the same code for another session gives another verifier', () => {
    expect(codeVerifier(key, 'session-1', '123456')).not.toBe(codeVerifier(key, 'session-2', '123456'));
  });

  it('depends on the key', () => {
    expect(codeVerifier(key, 'session-1', '123456')).not.toBe(codeVerifier(randomBytes(32), 'session-1', '123456'));
  });

  it('verifies the right code for the right id', () => {
    const verifier = codeVerifier(key, 'session-1', '123456');
    expect(verifyCode(key, 'session-1', '123456', verifier)).toBe(true);
  });

  it('refuses another code, another id or another key', () => {
    const verifier = codeVerifier(key, 'session-1', '123456');
    expect(verifyCode(key, 'session-1', '123457', verifier)).toBe(false);
    expect(verifyCode(key, 'session-2', '123456', verifier)).toBe(false);
    expect(verifyCode(randomBytes(32), 'session-1', '123456', verifier)).toBe(false);
  });

  it.each(['', 'not-hex', 'abcd', 'zz'.repeat(32), 'a'.repeat(63), 'a'.repeat(66)])('returns false (never throws) on a garbage verifier %p', (garbage) => {
    expect(verifyCode(key, 'session-1', '123456', garbage)).toBe(false);
  });
});

describe('maskAddress', () => {
  it('keeps the first letter and the domain of an e-mail address', () => {
    expect(maskAddress('email', 'jeanne@example.org')).toBe('j***@example.org');
  });

  it('hides an address with no local part', () => {
    expect(maskAddress('email', '@example.org')).toBe('***');
    expect(maskAddress('email', 'no-at-sign')).toBe('***');
  });

  it('keeps the prefix and the last two digits of a phone number', () => {
    expect(maskAddress('sms', '+33612345678')).toBe('+33*******78');
  });

  it('masks a very short number entirely', () => {
    expect(maskAddress('sms', '12345')).toBe('*****');
  });

  it('never returns the full address', () => {
    for (const [kind, address] of [
      ['email', 'a@b.c'],
      ['email', 'someone.long@example.com'],
      ['sms', '+447700900123'],
    ] as const) {
      expect(maskAddress(kind, address)).not.toBe(address);
    }
  });
});
