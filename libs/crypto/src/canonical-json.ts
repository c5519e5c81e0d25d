/**
 * RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * - objects: members sorted by their names compared as arrays of UTF-16 code units (§3.2.3), recursively;
 * - numbers: the ECMAScript Number-to-String serialisation (§3.2.2.3): `-0` → `0`, `1e21` → `1e+21`, …;
 * - strings: escaped as ECMAScript's JSON.stringify does (§3.2.2.2), with no Unicode normalisation;
 * - no insignificant whitespace.
 *
 * Only the I-JSON (RFC 7493) data model is accepted: plain objects, arrays, strings, finite numbers, booleans and
 * null. Anything else (NaN, ±Infinity, bigint, Date, Buffer, Map, class instances, functions, symbols, `undefined`
 * in an array, strings with lone surrogates, cycles) is refused with a {@link CanonicalJsonError} naming the place
 * (`$.a[2].b`) and what to do instead. As with JSON.stringify, an object member whose value is `undefined` is left out.
 */

/** The JSON values JCS canonicalises. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The canonicalization identifier carried beside signed evidence (`canonicalization` field). */
export const JCS_CANONICALIZATION_ID = 'urn:ietf:rfc:8785';

/** A value that has no canonical JSON form; `path` is where it sits (`$` is the root), `rule` which rule it breaks. */
export class CanonicalJsonError extends Error {
  constructor(
    readonly path: string,
    readonly rule: string,
    message: string,
  ) {
    super(`${message} (at ${path})`);
    this.name = 'CanonicalJsonError';
  }
}

/** RFC 8785 canonical JSON text of `value`. Throws CanonicalJsonError for anything outside the I-JSON data model. */
export function canonicalize(value: unknown): string {
  try {
    return writeFast(value, '', 0);
  } catch (error) {
    if (error !== SLOW_PATH) throw error;
  }
  // Something outside the fast path's plain cases: the careful writer says exactly what and where (or writes it).
  return canonicalizeCarefully(value);
}

/** @internal The careful writer alone (paths, cycle detection): what `canonicalize` falls back to; tests compare the two. */
export function canonicalizeCarefully(value: unknown): string {
  const parts: string[] = [];
  write(value, '$', parts, new Set<object>());
  return parts.join('');
}

/** Thrown by `writeFast` when a value needs the careful writer (an error to name, a cycle to find). Never escapes. */
const SLOW_PATH = Symbol('canonical JSON: take the careful path');
/** Deeper than this, the fast writer hands over (the careful one tracks ancestors and finds cycles). */
const MAX_FAST_DEPTH = 256;

/**
 * The canonical text of well-formed I-JSON, without the bookkeeping the careful writer needs only to report an error
 * (a path string per member, the set of ancestors): evidence digests, the evidence log's leaves and the audit
 * projection canonicalise every record, and that bookkeeping was most of what they allocated. Anything it does not
 * accept as plainly valid throws SLOW_PATH, and `canonicalize` runs the careful writer, which gives the same text or
 * the precise error: the two writers agree on every input (canonical-json.spec.ts checks them against each other).
 *
 * One pass appending to one string (`text`, returned): no string per value or member joined afterwards. Member names
 * are quoted once and kept (`quotedName`), strings that need no escape are quoted without a copy (`quoted`), and the
 * member names of an object already in canonical order (parsed from canonical text, or built in that order) are not
 * sorted again (`namesInOrder`).
 */
function writeFast(value: unknown, text: string, depth: number): string {
  switch (typeof value) {
    case 'string':
      return text + quoted(value);
    case 'boolean':
      return text + (value ? 'true' : 'false');
    case 'number':
      if (!Number.isFinite(value)) throw SLOW_PATH;
      return text + String(value);
    case 'object':
      break;
    default:
      throw SLOW_PATH;
  }
  if (value === null) return text + 'null';
  if (depth > MAX_FAST_DEPTH) throw SLOW_PATH;
  if (Array.isArray(value)) {
    text += '[';
    for (let index = 0; index < value.length; index++) {
      const element: unknown = value[index];
      if (element === undefined) throw SLOW_PATH;
      if (index > 0) text += ',';
      text = writeFast(element, text, depth + 1);
    }
    return text + ']';
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if ((prototype !== Object.prototype && prototype !== null) || Object.getOwnPropertySymbols(value).length > 0) throw SLOW_PATH;
  const record = value as Record<string, unknown>;
  const names = namesInOrder(record);
  text += '{';
  let first = true;
  for (let index = 0; index < names.length; index++) {
    const name = names[index];
    const member = record[name];
    if (member === undefined) continue;
    text += first ? quotedName(name) + ':' : ',' + quotedName(name) + ':';
    first = false;
    text = writeFast(member, text, depth + 1);
  }
  return text + '}';
}

/**
 * The object's own enumerable names sorted by UTF-16 code units (RFC 8785 §3.2.3; what `<` on strings and the default
 * `sort` compare): one pass to see whether they already are, and a sort only when they are not — in place by insertion
 * for the few names of an ordinary object (Array#sort copies the array into a work array first), by `sort` beyond.
 */
function namesInOrder(record: Record<string, unknown>): string[] {
  const names = Object.keys(record);
  for (let index = 1; index < names.length; index++) {
    const name = names[index];
    if (names[index - 1] < name) continue;
    if (names.length > INSERTION_SORT_MAX) return names.sort();
    let at = index - 1;
    for (; at >= 0 && names[at] > name; at--) names[at + 1] = names[at];
    names[at + 1] = name;
  }
  return names;
}

/** Up to this many names an object's are sorted by insertion (at most 496 comparisons), more by Array#sort. */
const INSERTION_SORT_MAX = 32;

/**
 * A string that holds no `"`, `\`, control character (< U+0020) or surrogate: JSON.stringify would only put quotes
 * around it. Any other string goes through isWellFormed and JSON.stringify (a surrogate pair is fine, a lone one is not).
 */
const NEEDS_STRINGIFY = /["\\\u0000-\u001f\ud800-\udfff]/;

/** The string's JSON text, exactly JSON.stringify's (RFC 8785 §3.2.2.2); SLOW_PATH for a lone surrogate. */
function quoted(text: string): string {
  if (!NEEDS_STRINGIFY.test(text)) return '"' + text + '"';
  if (!isWellFormed(text)) throw SLOW_PATH;
  return JSON.stringify(text);
}

/**
 * Member names recur (every record has the same few dozen): their JSON text is kept, up to QUOTED_NAMES_MAX names of
 * at most QUOTED_NAME_MAX_LENGTH characters; when full it is emptied and fills again with the names in use. A name
 * with a lone surrogate is never kept (it throws SLOW_PATH each time).
 */
const QUOTED_NAMES_MAX = 4_096;
const QUOTED_NAME_MAX_LENGTH = 64;
const quotedNames = new Map<string, string>();

function quotedName(name: string): string {
  let text = quotedNames.get(name);
  if (text === undefined) {
    text = quoted(name);
    if (name.length <= QUOTED_NAME_MAX_LENGTH) {
      if (quotedNames.size >= QUOTED_NAMES_MAX) quotedNames.clear();
      quotedNames.set(name, text);
    }
  }
  return text;
}

/** No lone surrogate (String.prototype.isWellFormed where the runtime has it: Node 20 does). */
const isWellFormed: (text: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (text) => (text as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (text) => !LONE_SURROGATE.test(text);

/** The UTF-8 bytes of the canonical JSON of `value`: what is hashed and signed. */
export function canonicalizeToBuffer(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}

/** Whether `text` is JSON that is already in RFC 8785 canonical form (byte for byte). */
export function isCanonicalJson(text: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  try {
    return canonicalize(parsed) === text;
  } catch {
    return false;
  }
}

/**
 * Parses JSON text and returns its canonical form; throws CanonicalJsonError when the text is not JSON or holds
 * values I-JSON forbids (e.g. lone surrogates).
 */
export function canonicalizeJsonText(text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CanonicalJsonError('$', 'json.syntax', `Not JSON: ${(error as Error).message}`);
  }
  return canonicalize(parsed);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function serialiseString(text: string, path: string, what: string): string {
  if (LONE_SURROGATE.test(text)) {
    throw new CanonicalJsonError(
      path,
      'string.lone-surrogate',
      `The ${what} holds a lone UTF-16 surrogate, which I-JSON forbids; encode binary data as base64`,
    );
  }
  // ES2019 well-formed JSON.stringify: exactly the RFC 8785 §3.2.2.2 escaping for well-formed strings.
  return JSON.stringify(text);
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function describe(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name.length > 0 ? name : 'object';
}

function write(value: unknown, path: string, out: string[], ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
      out.push(serialiseString(value, path, 'string'));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isFinite(value)) {
        throw new CanonicalJsonError(path, 'number.finite', `${String(value)} has no JSON form; use a finite number, null or a string`);
      }
      // Number.prototype.toString is the ECMAScript serialisation RFC 8785 §3.2.2.3 mandates; String(-0) is "0".
      out.push(String(value));
      return;
    case 'bigint':
      throw new CanonicalJsonError(path, 'type.bigint', 'A bigint has no I-JSON form; pass it as a decimal string (or a number when it is within ±2^53)');
    case 'undefined':
      throw new CanonicalJsonError(path, 'type.undefined', 'undefined has no JSON form; use null or leave the member out');
    case 'function':
      throw new CanonicalJsonError(path, 'type.function', 'A function has no JSON form');
    case 'symbol':
      throw new CanonicalJsonError(path, 'type.symbol', 'A symbol has no JSON form');
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(path, 'type.unknown', `A ${typeof value} has no JSON form`);
  }
  if (value === null) {
    out.push('null');
    return;
  }
  if (ancestors.has(value)) throw new CanonicalJsonError(path, 'structure.cycle', 'The value refers to itself (a cycle) and has no JSON form');
  if (Array.isArray(value)) {
    ancestors.add(value);
    out.push('[');
    for (let index = 0; index < value.length; index++) {
      if (index > 0) out.push(',');
      const element: unknown = value[index];
      const elementPath = `${path}[${index}]`;
      if (element === undefined) {
        throw new CanonicalJsonError(
          elementPath,
          'array.undefined',
          index in value ? 'undefined in an array has no JSON form; use null' : 'A hole in a sparse array has no JSON form; use null',
        );
      }
      write(element, elementPath, out, ancestors);
    }
    out.push(']');
    ancestors.delete(value);
    return;
  }
  if (value instanceof Date) {
    throw new CanonicalJsonError(path, 'type.date', 'A Date is not JSON; pass date.toISOString() (an ISO-8601 UTC string) instead');
  }
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    throw new CanonicalJsonError(path, 'type.binary', 'Binary data is not JSON; encode it as a base64 or hex string');
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) {
    throw new CanonicalJsonError(
      path,
      'type.object',
      `A ${describe(value)} is not a plain object; convert it to plain objects, arrays, strings, numbers, booleans and null first`,
    );
  }
  if (Object.getOwnPropertySymbols(value).some((symbol) => Object.prototype.propertyIsEnumerable.call(value, symbol))) {
    throw new CanonicalJsonError(path, 'key.symbol', 'An object with symbol keys has no JSON form');
  }
  ancestors.add(value);
  const record = value as Record<string, unknown>;
  // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort();
  out.push('{');
  keys.forEach((key, index) => {
    const memberPath = childPath(path, key);
    if (index > 0) out.push(',');
    out.push(serialiseString(key, memberPath, 'member name'), ':');
    write(record[key], memberPath, out, ancestors);
  });
  out.push('}');
  ancestors.delete(value);
}
