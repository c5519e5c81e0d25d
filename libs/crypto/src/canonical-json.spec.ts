import * as fc from 'fast-check';
import { CanonicalJsonError, canonicalize, canonicalizeCarefully, canonicalizeJsonText, canonicalizeToBuffer, isCanonicalJson } from './canonical-json';

/** The double whose IEEE-754 bits are `hex`. */
function double(hex: string): number {
  return Buffer.from(hex, 'hex').readDoubleBE(0);
}

function errorOf(action: () => unknown): CanonicalJsonError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(CanonicalJsonError);
    return error as CanonicalJsonError;
  }
  throw new Error('expected a CanonicalJsonError');
}

/** A deep copy of `value` whose objects list their members in an order drawn from `seed`. */
function reorder(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((element, index) => reorder(element, seed + index));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  let state = seed >>> 0 || 1;
  const random = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  const copy: Record<string, unknown> = {};
  for (const [key, member] of entries) {
    // defineProperty, not assignment: a "__proto__" member stays a member.
    Object.defineProperty(copy, key, { value: reorder(member, seed * 31 + key.length), enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

describe('canonicalize (RFC 8785)', () => {
  it('serialises the RFC 8785 §3.2.2 example', () => {
    const input =
      '{\n  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n' +
      '  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n  "literals": [null, true, false]\n}';
    const expected = '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}';
    expect(canonicalizeJsonText(input)).toBe(expected);
    // The bytes hashed and signed are the UTF-8 of that text (RFC 8785 §3.2.4): € is e2 82 ac.
    const bytes = canonicalizeToBuffer(JSON.parse(input));
    expect(bytes.equals(Buffer.from(expected, 'utf8'))).toBe(true);
    expect(bytes.toString('hex')).toContain('22e282ac245c7530303066');
  });

  it('sorts member names by UTF-16 code units (RFC 8785 §3.2.3)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    const output = canonicalize(input);
    expect(output).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",' +
        '"\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('sorts a surrogate pair (U+1F600) before U+FB33, unlike code-point order', () => {
    expect(canonicalize({ '\ufb33': 1, '\ud83d\ude00': 2 })).toBe('{"\ud83d\ude00":2,"\ufb33":1}');
  });

  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('serialises the IEEE-754 double %s as %s (RFC 8785 Appendix B)', (bits, text) => {
    expect(canonicalize(double(bits))).toBe(text);
  });

  it('reads 333333333.33333329 and 1E30 from text the ECMAScript way', () => {
    expect(canonicalizeJsonText('[333333333.33333329,1E30,-0,0.0,1e21,1e-7,100]')).toBe('[333333333.3333333,1e+30,0,0,1e+21,1e-7,100]');
  });

  it.each([
    ['7fffffffffffffff', 'NaN'],
    ['7ff0000000000000', 'Infinity'],
    ['fff0000000000000', '-Infinity'],
  ])('refuses the non-finite double %s (%s)', (bits) => {
    const error = errorOf(() => canonicalize({ a: [double(bits)] }));
    expect(error.rule).toBe('number.finite');
    expect(error.path).toBe('$.a[0]');
    expect(error.message).toMatch(/finite number/);
  });

  it('escapes strings exactly as JSON.stringify, without Unicode normalisation', () => {
    expect(canonicalize('\u0000\u0008\t\n\u000b\f\r\u001f "\\/\u007f\u2028é\u0065\u0301')).toBe(
      '"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f \\"\\\\/\u007f\u2028é\u0065\u0301"',
    );
  });

  it('leaves out object members whose value is undefined, as JSON.stringify does, and has no whitespace', () => {
    expect(canonicalize({ b: [1, { y: null, x: true }], a: undefined, c: 'x' })).toBe('{"b":[1,{"x":true,"y":null}],"c":"x"}');
    expect(canonicalize({})).toBe('{}');
    expect(canonicalize([])).toBe('[]');
    expect(canonicalize(Object.create(null) as object)).toBe('{}');
  });

  it.each<[string, () => unknown, string, string, RegExp]>([
    ['undefined in an array', () => [1, undefined], '$[1]', 'array.undefined', /use null/],
    ['a sparse array', () => [1, , 3], '$[1]', 'array.undefined', /sparse/], // eslint-disable-line no-sparse-arrays
    ['undefined at the root', () => undefined, '$', 'type.undefined', /null/],
    ['a bigint', () => ({ n: 10n }), '$.n', 'type.bigint', /decimal string/],
    ['a Date', () => ({ when: new Date(0) }), '$.when', 'type.date', /toISOString/],
    ['a Buffer', () => ({ bytes: Buffer.from('x') }), '$.bytes', 'type.binary', /base64/],
    ['a Map', () => ({ m: new Map() }), '$.m', 'type.object', /Map is not a plain object/],
    ['a function', () => ({ f: () => 1 }), '$.f', 'type.function', /function/],
    ['a symbol', () => ({ s: Symbol('s') }), '$.s', 'type.symbol', /symbol/],
    ['a lone surrogate in a value', () => ({ s: 'a\ud800b' }), '$.s', 'string.lone-surrogate', /surrogate/],
    ['a lone surrogate in a name', () => ({ ['\udc00']: 1 }), '$["\\udc00"]', 'string.lone-surrogate', /member name/],
  ])('refuses %s with a clear error', (_name, make, path, rule, message) => {
    const error = errorOf(() => canonicalize(make()));
    expect({ path: error.path, rule: error.rule }).toEqual({ path, rule });
    expect(error.message).toMatch(message);
  });

  it('refuses a cycle but accepts a shared (acyclic) value', () => {
    const shared = { z: 1 };
    expect(canonicalize({ a: shared, b: [shared] })).toBe('{"a":{"z":1},"b":[{"z":1}]}');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { back: cyclic };
    expect(errorOf(() => canonicalize(cyclic)).path).toBe('$.self.back');
  });

  it('tells canonical text from other JSON', () => {
    expect(isCanonicalJson('{"a":1,"b":[true]}')).toBe(true);
    expect(isCanonicalJson('{"b":[true],"a":1}')).toBe(false);
    expect(isCanonicalJson('{"a": 1}')).toBe(false);
    expect(isCanonicalJson('{"a":1.0}')).toBe(false);
    expect(isCanonicalJson('{"a":"\\u0041"}')).toBe(false);
    expect(isCanonicalJson('not json')).toBe(false);
    expect(() => canonicalizeJsonText('{')).toThrow(CanonicalJsonError);
  });

  it('writes an object already in canonical order as one in any other order (the sort it skips is not needed)', () => {
    // Integer-like names come first from Object.keys in numeric order ("2" before "10"), which is not code-unit order.
    const numeric = { '2': 'two', '10': 'ten', a: 1 };
    expect(canonicalize(numeric)).toBe('{"10":"ten","2":"two","a":1}');
    // Code units, not code points: U+1F600 (a surrogate pair) before U+FB33, inserted in either order.
    const inOrder = JSON.parse('{"A":1,"a":{"b":[{"c":1,"d":2}]},"\ud83d\ude00":2,"\ufb33":3}') as unknown;
    const reversed = JSON.parse('{"\ufb33":3,"\ud83d\ude00":2,"a":{"b":[{"d":2,"c":1}]},"A":1}') as unknown;
    expect(canonicalize(inOrder)).toBe(canonicalizeCarefully(inOrder));
    expect(canonicalize(reversed)).toBe(canonicalize(inOrder));
    // Out of order only at the end, or only deep down.
    expect(canonicalize({ a: 1, b: 2, c: 3, B: 4 })).toBe('{"B":4,"a":1,"b":2,"c":3}');
    expect(canonicalize({ a: { x: [{ m: 1, n: { q: 1, p: 2 } }] } })).toBe('{"a":{"x":[{"m":1,"n":{"p":2,"q":1}}]}}');
    // Reversed, shuffled: up to 32 names sorted in place by insertion, more by Array#sort.
    for (const count of [2, 31, 32, 33, 200]) {
      const names = Array.from({ length: count }, (_, index) => `n${String(index).padStart(3, '0')}`);
      const expected = `{${names.map((name, index) => `"${name}":${index}`).join(',')}}`;
      const reversedNames = Object.fromEntries([...names].reverse().map((name) => [name, Number(name.slice(1))]));
      const shuffled = Object.fromEntries(names.map((_, index) => [names[(index * 7) % count], index])); // 7 is prime to every count
      expect(canonicalize(reversedNames)).toBe(expected);
      expect(canonicalize(shuffled)).toBe(canonicalizeCarefully(shuffled));
    }
  });

  it('quotes a string as JSON.stringify does whether or not it needs an escape', () => {
    const strings = ['', 'plain', 'a"b', 'a\\b', 'tab\there', '\u0000', '\u001f', '\u007f', '\u2028\u2029', 'é', '\ud83d\ude00', 'x\ud83d\ude00y'];
    for (const text of strings) {
      expect(canonicalize(text)).toBe(JSON.stringify(text));
      expect(canonicalize({ [text]: text })).toBe(`{${JSON.stringify(text)}:${JSON.stringify(text)}}`);
    }
  });

  it('names the member with a lone surrogate every time, and writes past the names it keeps quoted', () => {
    for (let attempt = 0; attempt < 2; attempt++) expect(errorOf(() => canonicalize({ ok: 1, ['a\ud800']: 1 })).rule).toBe('string.lone-surrogate');
    // More distinct names than are kept (4,096), some longer than the 64 characters kept: each written right.
    const many: Record<string, number> = {};
    for (let index = 0; index < 5_000; index++) many[`name-${index}-${'x'.repeat(index % 100)}`] = index;
    expect(canonicalize(many)).toBe(canonicalizeCarefully(many));
    expect(canonicalize(many)).toBe(canonicalizeCarefully(many));
  });

  describe('properties', () => {
    const json = fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' });

    /** The text, or the error's path and rule. */
    const outcome = (write: (value: unknown) => string, value: unknown): unknown => {
      try {
        return write(value);
      } catch (error) {
        return error instanceof CanonicalJsonError ? { path: error.path, rule: error.rule } : error;
      }
    };

    it('gives what the careful writer gives (same text, or the same error at the same place) on any value, JSON or not', () => {
      const anything = fc.anything({
        maxDepth: 4,
        withBigInt: true,
        withDate: true,
        withTypedArray: true,
        withSparseArray: true,
        withNullPrototype: true,
        withBoxedValues: true,
        withMap: true,
        stringUnit: 'binary',
      });
      fc.assert(
        fc.property(fc.oneof(json, anything), (value) => {
          expect(outcome(canonicalize, value)).toEqual(outcome(canonicalizeCarefully, value));
        }),
        { numRuns: 1000 },
      );
      const deep: unknown[] = [];
      let tip = deep;
      for (let level = 0; level < 1_000; level++) tip.push((tip = []));
      expect(canonicalize(deep)).toBe(canonicalizeCarefully(deep)); // past the fast writer's depth: the careful one writes it
    });

    it('is idempotent: canonical(parse(canonical(x))) === canonical(x)', () => {
      fc.assert(
        fc.property(json, (value) => {
          const once = canonicalize(value);
          expect(canonicalize(JSON.parse(once))).toBe(once);
          expect(isCanonicalJson(once)).toBe(true);
        }),
        { numRuns: 300 },
      );
    });

    it('gives the careful writer’s text for a value in canonical order (parsed from canonical text)', () => {
      fc.assert(
        fc.property(json, (value) => {
          const ordered = JSON.parse(canonicalizeCarefully(value)) as unknown;
          expect(canonicalize(ordered)).toBe(canonicalizeCarefully(ordered));
        }),
        { numRuns: 300 },
      );
    });

    it('does not depend on the order of object members', () => {
      fc.assert(
        fc.property(json, fc.integer(), (value, seed) => {
          expect(canonicalize(reorder(value, seed))).toBe(canonicalize(value));
        }),
        { numRuns: 300 },
      );
    });

    it('preserves the value: parse(canonical(x)) equals x (with -0 read as 0)', () => {
      fc.assert(
        fc.property(json, (value) => {
          const normalised = JSON.parse(JSON.stringify(value), (_key, member: unknown) => (Object.is(member, -0) ? 0 : member)) as unknown;
          expect(JSON.parse(canonicalize(value))).toEqual(normalised);
        }),
        { numRuns: 300 },
      );
    });

    it('serialises every finite double as ECMAScript does, and reads back the same double', () => {
      fc.assert(
        fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
          const text = canonicalize(value);
          expect(text).toBe(JSON.stringify(value));
          expect(Object.is(Number(text), value === 0 ? 0 : value)).toBe(true);
        }),
        { numRuns: 1000 },
      );
    });
  });
});
