/**
 * RFC 8785 (JCS) canonical JSON of a value parsed from JSON, written here on purpose: the auditor's verifier re-derives
 * each leaf (SHA-256(0x00 || canonical JSON of the record)) without the writer's code. Keys sorted by UTF-16 code
 * units (what `Array#sort` does with strings by default, and what `<` compares), no whitespace, numbers and strings as
 * ECMAScript serialises them.
 *
 * Two ways to the same text. The fast one copies the value with each object's names in canonical order and lets
 * JSON.stringify write the copy (native: ~25 % less CPU than writing it here, on `bench:verify`'s records); it gives up,
 * for the careful one, on what JSON.stringify would order or write otherwise: a name that starts with a digit (an
 * array index comes first in an object whatever its place), `__proto__`, anything but null, booleans, finite numbers,
 * strings, arrays and objects. The careful one writes member by member and throws on what has no canonical form. A
 * lone surrogate has none: JSON.stringify escapes it as `\uXXXX`, and writes `\u` otherwise only for control
 * characters (a backslash of the value itself comes out doubled), so a fast text holding `\u` is written again carefully.
 */
export function canonicalJson(value: unknown): string {
  let text: string | null;
  try {
    text = JSON.stringify(ordered(value));
  } catch (error) {
    if (error !== GIVE_UP) throw error;
    text = null;
  }
  return text === null || text.includes('\\u') ? write(value, '') : text;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const GIVE_UP = new Error('not for the fast path');

/** The names of an object in UTF-16 code unit order: insertion sort in place for the few names of a record's objects. */
function sortedKeys(object: Record<string, unknown>): string[] {
  const keys = Object.keys(object);
  if (keys.length > 32) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i];
    let j = i - 1;
    while (j >= 0 && keys[j] > key) {
      keys[j + 1] = keys[j];
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

/** A copy of `value` whose objects list their names in canonical order, for JSON.stringify; GIVE_UP otherwise. */
function ordered(value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw GIVE_UP;
    return value;
  }
  if (typeof value !== 'object') throw GIVE_UP;
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = ordered(value[i]);
    return copy;
  }
  const object = value as Record<string, unknown>;
  const keys = sortedKeys(object);
  const copy: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const first = key.charCodeAt(0);
    if ((first >= 48 && first <= 57) || key === '__proto__') throw GIVE_UP;
    const member = object[key];
    if (member !== undefined) copy[key] = ordered(member);
  }
  return copy;
}

function write(value: unknown, text: string): string {
  if (value === null) return text + 'null';
  switch (typeof value) {
    case 'boolean':
      return text + (value ? 'true' : 'false');
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('a non-finite number has no JSON form');
      return text + JSON.stringify(value);
    case 'string':
      if (LONE_SURROGATE.test(value)) throw new TypeError('a lone surrogate has no canonical JSON form');
      return text + JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        text += '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) text += ',';
          text = write(value[i], text);
        }
        return text + ']';
      }
      const object = value as Record<string, unknown>;
      const keys = sortedKeys(object);
      text += '{';
      let first = true;
      for (const key of keys) {
        const member = object[key];
        if (member === undefined) continue;
        text += first ? JSON.stringify(key) + ':' : ',' + JSON.stringify(key) + ':';
        first = false;
        text = write(member, text);
      }
      return text + '}';
    }
    default:
      throw new TypeError(`a ${typeof value} has no JSON form`);
  }
}
