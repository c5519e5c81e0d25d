import fc from 'fast-check';
import { parseJsonBytes } from './json-bytes';

/** What JSON.parse of the UTF-8 text gives: the value and, for a text that is not JSON, the error message. */
function plain(bytes: Buffer): { value?: string; error?: string } {
  try {
    return { value: JSON.stringify(JSON.parse(bytes.toString('utf8'))) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function mine(bytes: Buffer): { value?: string; error?: string } {
  try {
    return { value: JSON.stringify(parseJsonBytes(bytes)) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

// JSON.stringify of the results compares values and member order (a name decoded late must keep its place).
describe('parseJsonBytes: JSON.parse of UTF-8 bytes without decoding them first', () => {
  it('gives what JSON.parse of the UTF-8 text gives, for any JSON with any Unicode (names included, pretty or not)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), fc.boolean(), (value, pretty) => {
        const bytes = Buffer.from(JSON.stringify(value, null, pretty ? 2 : undefined), 'utf8');
        expect(mine(bytes)).toEqual(plain(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('gives the same for bytes that are not valid UTF-8 inside strings and names, and the same error for text that is not JSON', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 12 }), fc.uint8Array({ minLength: 0, maxLength: 6 }), (inString, inName) => {
        const clean = (bytes: Uint8Array) => Buffer.from(bytes.filter((byte) => byte !== 0x22 && byte !== 0x5c && byte >= 0x20));
        const bytes = Buffer.concat([Buffer.from('{"a":"x'), clean(inString), Buffer.from('y","'), clean(inName), Buffer.from('":["\u2014",1]}')]);
        expect(mine(bytes)).toEqual(plain(bytes));
        const broken = Buffer.concat([Buffer.from('{"a":'), Buffer.from(inString), Buffer.from('}')]);
        expect(mine(broken)).toEqual(plain(broken));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps the rules of JSON.parse: a repeated name keeps its first place, __proto__ stays a member, escapes are read', () => {
    const cases = [
      '{"\u00e9":1,"b":2,"\u00e9":3}',
      '{"\u00e9\u0301":1,"b":2}',
      '{"__proto__":{"x":"\u2014"},"y":1}',
      '{"__proto__":1,"\u00e9":2}',
      '["tab\\tquote\\"slash\\/ \u2014 \ud83d\ude00"]',
      '{"u":"\\u00e9 \u2014"}',
      '"\u2014"',
    ];
    for (const text of cases) {
      const bytes = Buffer.from(text, 'utf8');
      const parsed = parseJsonBytes(bytes) as Record<string, unknown>;
      expect(mine(bytes)).toEqual(plain(bytes));
      if (text.startsWith('{')) expect(Object.keys(parsed)).toEqual(Object.keys(JSON.parse(text) as object));
    }
    expect(Object.getPrototypeOf(parseJsonBytes(Buffer.from('{"__proto__":{"x":"\u2014"}}')))).toBe(Object.prototype);
    // Two invalid sequences that both decode to U+FFFD in a name: one member, as JSON.parse of the decoded text has it.
    const twice = Buffer.concat([Buffer.from('{"'), Buffer.from([0xc3]), Buffer.from('":1,"'), Buffer.from([0xc4]), Buffer.from('":2,"z":"\u2014"}')]);
    expect(mine(twice)).toEqual(plain(twice));
    // A backslash before a character that is not ASCII (an invalid escape; after an escaped backslash, valid), and
    // characters that are not ASCII outside strings: what JSON.parse says.
    for (const text of ['["\\\u00e9"]', '["\\\\\u00e9"]', '[1,\u00a0 2]', '{"a" \u2014 1}', '["\\\ud83d\ude00"]']) {
      const bytes = Buffer.from(text, 'utf8');
      expect(mine(bytes)).toEqual(plain(bytes));
    }
    expect(mine(Buffer.from('["\\\u00e9"]'))).toEqual({ error: expect.stringMatching(/JSON/) });
    expect(mine(Buffer.from('["\\\\\u00e9"]'))).toEqual({ value: '["\\\\\u00e9"]' });
  });
});
