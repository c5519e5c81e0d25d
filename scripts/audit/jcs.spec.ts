import fc from 'fast-check';
import { canonicalize } from '@sigillum/crypto';
import { canonicalJson } from './jcs';

/**
 * The kit re-derives each leaf with its own RFC 8785 code, not the writer's: the two must agree byte for byte on
 * every JSON value, or a genuine record would look altered (and an altered one could never look genuine anyway).
 */
describe("the kit's canonical JSON (RFC 8785)", () => {
  it('is the writer’s canonical JSON for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const parsed = JSON.parse(JSON.stringify(value)) as unknown;
        expect(canonicalJson(parsed)).toBe(canonicalize(parsed));
      }),
      { numRuns: 500 },
    );
  });

  it('sorts keys by UTF-16 code units and writes numbers as ECMAScript does (RFC 8785 examples)', () => {
    expect(
      canonicalJson({
        '\u20ac': 'Euro Sign',
        '\r': 'Carriage Return',
        '\ufb33': 'Hebrew Letter Dalet With Dagesh',
        '1': 'One',
        '\ud83d\ude00': 'Emoji: Grinning Face',
        '\u0080': 'Control',
        '\u00f6': 'Latin Small Letter O With Diaeresis',
      }),
    ).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    expect(canonicalJson({ numbers: [333333333.33333329, 1e30, 4.5, 0.002, 1e-27], literals: [null, true, false] })).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}',
    );
    expect(() => canonicalJson('\ud800')).toThrow(/surrogate/);
    expect(() => canonicalJson(Number.NaN)).toThrow();
  });

  it('writes what the fast way leaves to the careful one the same: names starting with a digit, __proto__, many names, escapes', () => {
    const values: unknown[] = [
      { b: 1, '10': 'ten', '2': 'two', a: { '1': [1, { '0': null }] } },
      JSON.parse('{"__proto__":{"z":1,"a":2},"b":[true]}'),
      Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${(i * 17) % 40}`, i])),
      { control: '\u0001\u001f\n\t', quote: '"\\', emoji: '\ud83d\ude00', backslashU: '\\u0041' },
      [{ b: 'x', a: { d: 4, c: 3 } }, 'plain'],
    ];
    for (const value of values) expect(canonicalJson(value)).toBe(canonicalize(value));
    expect(Object.keys(JSON.parse(canonicalJson(values[0])) as object)).toEqual(['2', '10', 'a', 'b']);
    expect(canonicalJson(values[0])).toBe('{"10":"ten","2":"two","a":{"1":[1,{"0":null}]},"b":1}');
    // A lone surrogate deep inside, and one after a control character: no canonical form, found either way.
    expect(() => canonicalJson({ a: [{ b: 'x\ud800y' }] })).toThrow(/surrogate/);
    expect(() => canonicalJson({ a: '\u0001', b: '\udc00' })).toThrow(/surrogate/);
    expect(() => canonicalJson({ a: [1, Number.POSITIVE_INFINITY] })).toThrow(/non-finite/);
    expect(() => canonicalJson({ a: () => 1 })).toThrow(/function/);
    expect(() => canonicalJson([undefined])).toThrow(/undefined/);
  });
});
