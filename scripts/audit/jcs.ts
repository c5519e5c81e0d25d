/**
 * RFC 8785 (JCS) canonical JSON of a value parsed from JSON, written here on purpose: the auditor's verifier re-derives
 * each leaf (SHA-256(0x00 || canonical JSON of the record)) without the writer's code. Keys sorted by UTF-16 code
 * units, no whitespace, numbers and strings as ECMAScript serialises them.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('a non-finite number has no JSON form');
      return JSON.stringify(value);
    case 'string':
      if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value))
        throw new TypeError('a lone surrogate has no canonical JSON form');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      const object = value as Record<string, unknown>;
      const keys = Object.keys(object)
        .filter((key) => object[key] !== undefined)
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`).join(',')}}`;
    }
    default:
      throw new TypeError(`a ${typeof value} has no JSON form`);
  }
}
