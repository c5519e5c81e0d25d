import { BadRequestException, HttpException, HttpStatus, PayloadTooLargeException } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ConfigError, ENVIRONMENT } from '@sigillum/config';
import { isWellFormedText } from '@sigillum/contracts';
import type { NextFunction, Request, Response } from 'express';
import type { Violation } from './violation';

/**
 * Limits every request body meets before anything else reads it (validation, guards, handlers): its size, how
 * deeply it nests, and that each string and key is well-formed UTF-16 without NUL. class-validator recurses into
 * nested values, so a body of arrays nested 5,000 deep overflowed its stack and answered 500; a lone surrogate
 * accepted in a subject broke the specimen rendering later. Both are refused here, with the field and the rule.
 */
export interface JsonLimits {
  /** Largest body accepted, in bytes (after any Content-Encoding is undone); larger answers 413. */
  readonly maxBytes: number;
  /** Most containers (objects, arrays) nested in one another; deeper answers 400. */
  readonly maxDepth: number;
}

export const KIB = 1024;
export const MIB = 1024 * KIB;
/** Bounds of the variables: a body limit above 64 MiB or a depth above 256 would bring the problems back (class-transformer recurses and overflows between 1,000 and 2,000 levels). */
export const MAX_JSON_BYTES_LIMIT = 64 * MIB;
export const MAX_JSON_DEPTH_LIMIT = 256;

const UNITS: Record<string, number> = { '': 1, b: 1, kib: KIB, mib: MIB };

/** `1048576`, `1MiB`, `512 KiB` → bytes; undefined when it is none of these. */
function parseBytes(raw: string): number | undefined {
  const match = /^(\d+)\s*(b|kib|mib)?$/i.exec(raw.trim());
  if (!match) return undefined;
  const value = Number(match[1]) * UNITS[(match[2] ?? '').toLowerCase()];
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Reads HTTP_JSON_MAX_BYTES and HTTP_JSON_MAX_DEPTH; throws ConfigError naming every problem at once. */
export function loadJsonLimits(env: Readonly<Record<string, string | undefined>>): JsonLimits {
  const problems: string[] = [];
  // Defaults and meanings are in @sigillum/config's ENVIRONMENT table, with every other variable.
  const read = (name: 'HTTP_JSON_MAX_BYTES' | 'HTTP_JSON_MAX_DEPTH') => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? ENVIRONMENT[name].default : value.trim();
  };
  const rawBytes = read('HTTP_JSON_MAX_BYTES');
  const maxBytes = parseBytes(rawBytes);
  if (maxBytes === undefined || maxBytes < KIB || maxBytes > MAX_JSON_BYTES_LIMIT) {
    problems.push(`HTTP_JSON_MAX_BYTES="${rawBytes}" must be between ${KIB} and ${MAX_JSON_BYTES_LIMIT} bytes, e.g. 1048576 or 1MiB`);
  }
  const rawDepth = read('HTTP_JSON_MAX_DEPTH');
  const maxDepth = Number(rawDepth);
  if (!/^\d+$/.test(rawDepth) || maxDepth < 1 || maxDepth > MAX_JSON_DEPTH_LIMIT) {
    problems.push(`HTTP_JSON_MAX_DEPTH="${rawDepth}" must be an integer between 1 and ${MAX_JSON_DEPTH_LIMIT}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { maxBytes: maxBytes as number, maxDepth };
}

//////// The walk

/** The field a violation of the whole body names. */
export const BODY_FIELD = '(body)';
const MAX_FIELD_LENGTH = 200;
const MAX_VIOLATIONS = 20;

/** A key as a violation may quote it: printable (lone surrogates, NUL and other controls escaped), bounded. */
function printableKey(key: string): string {
  // JSON.stringify escapes control characters and lone surrogates (ES2019 well-formed stringify).
  return JSON.stringify(key).slice(1, -1);
}

function fieldOf(parent: string, key: string): string {
  const field = parent === BODY_FIELD ? printableKey(key) : `${parent}.${printableKey(key)}`;
  return field.length > MAX_FIELD_LENGTH ? `${field.slice(0, MAX_FIELD_LENGTH - 1)}…` : field;
}

function textViolation(field: string, text: string, what: 'value' | 'key'): Violation | undefined {
  if (!isWellFormedText(text)) {
    return { field, rule: 'wellFormed', message: `the ${what} of ${field} is not well-formed Unicode (a lone UTF-16 surrogate)` };
  }
  if (text.includes('\u0000')) return { field, rule: 'noNul', message: `the ${what} of ${field} contains a NUL character (\\u0000)` };
  return undefined;
}

/**
 * Walks a parsed body without recursion (an explicit stack, so no input can overflow it) and returns what breaks
 * the limits: containers nested deeper than `maxDepth` (the walk does not go below them), strings and keys that
 * are not well-formed UTF-16 or contain NUL. At most 20 violations; empty when the body is fine.
 */
export function inputViolations(body: unknown, maxDepth: number): Violation[] {
  const violations: Violation[] = [];
  const stack: { value: unknown; field: string; depth: number }[] = [{ value: body, field: BODY_FIELD, depth: 0 }];
  while (stack.length > 0 && violations.length < MAX_VIOLATIONS) {
    const { value, field, depth } = stack.pop()!;
    if (typeof value === 'string') {
      const violation = textViolation(field, value, 'value');
      if (violation) violations.push(violation);
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth + 1 > maxDepth) {
      violations.push({ field, rule: 'maxDepth', message: `${field} nests objects and arrays more than ${maxDepth} deep` });
      continue;
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], field: fieldOf(field, String(i)), depth: depth + 1 });
      continue;
    }
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      const child = fieldOf(field, key);
      const violation = textViolation(child, key, 'key');
      if (violation) {
        violations.push(violation);
        continue;
      }
      stack.push({ value: (value as Record<string, unknown>)[key], field: child, depth: depth + 1 });
    }
  }
  return violations;
}

/**
 * How deeply the JSON text nests objects and arrays, read from its UTF-8 bytes before it is parsed (so a
 * 500,000-deep body costs one pass over the bytes, not a parse): true when it nests more than `maxDepth`.
 * Brackets inside strings do not count. UTF-8 multi-byte sequences never contain these ASCII bytes.
 */
export function jsonTooDeep(bytes: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === 0x5c)
        i++; // backslash: skip the escaped character
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (byte === 0x5d || byte === 0x7d) {
      depth--;
    }
  }
  return false;
}

//////// Express wiring

/** A violation found before the body is parsed; body-parser passes it on with its `status` and `type`. */
class BodyTooDeepError extends Error {
  readonly status = HttpStatus.BAD_REQUEST;
  readonly type = 'entity.too.deep';
}

const REFUSED = 'The request body is refused before validation; see violations.';

/** The answer refusing a body: `{statusCode, error, message, violations}`, as the validation pipe's answers are. */
export function refusedBody(status: number, violations: Violation[]): HttpException {
  if (status === HttpStatus.PAYLOAD_TOO_LARGE)
    return new PayloadTooLargeException({ statusCode: status, error: 'Payload Too Large', message: REFUSED, violations });
  if (status === HttpStatus.BAD_REQUEST) return new BadRequestException({ statusCode: status, error: 'Bad Request', message: REFUSED, violations });
  return new HttpException({ statusCode: status, message: REFUSED, violations }, status);
}

/** The rule a body-parser error (by its `type`) breaks. */
const RULE_OF_BODY_ERROR: Record<string, string> = {
  'entity.too.large': 'maxBytes',
  'entity.too.deep': 'maxDepth',
  'entity.parse.failed': 'json',
  'entity.verify.failed': 'json',
  'charset.unsupported': 'charset',
  'encoding.unsupported': 'contentEncoding',
  'request.size.invalid': 'contentLength',
  'request.aborted': 'complete',
  'parameters.too.many': 'maxParameters',
  'querystring.parse.rangeError': 'maxDepth',
};

/**
 * The answer to an error of the body parsers (malformed JSON, too large, unsupported charset...), as JSON with the
 * field and the rule; undefined for any other error. The message is body-parser's, which never quotes more than a
 * few characters of the body.
 */
export function bodyParserError(error: unknown, limits?: JsonLimits): HttpException | undefined {
  if (typeof error !== 'object' || error === null || error instanceof HttpException) return undefined;
  const { status, type, expose } = error as { status?: unknown; type?: unknown; expose?: unknown };
  // body-parser's errors carry a 4xx `status` and a `type`; a few (a corrupt gzip stream) only `expose`.
  if (typeof status !== 'number' || status < 400 || status > 499 || (typeof type !== 'string' && expose !== true)) return undefined;
  const rule = (typeof type === 'string' ? RULE_OF_BODY_ERROR[type] : undefined) ?? 'body';
  const message =
    rule === 'maxBytes' && limits
      ? `the body is larger than ${limits.maxBytes} bytes`
      : rule === 'maxDepth' && limits
        ? `the body nests objects and arrays more than ${limits.maxDepth} deep`
        : String((error as Error).message ?? 'the body cannot be read');
  return refusedBody(status, [{ field: BODY_FIELD, rule, message }]);
}

/**
 * Installs the body parsers (JSON and URL-encoded, at most `maxBytes`), then the depth, Unicode and NUL checks of
 * what they parsed, then the translation of their errors: all of it runs as express middleware, before Nest's
 * route handling (guards, pipes, handlers). Call it on an app created with `bodyParser: false`, before `init()`.
 */
export function installJsonLimits(app: NestExpressApplication, limits: JsonLimits): void {
  // Nest's typing leaves `verify` out because its rawBody option sets one; this app does not use rawBody.
  app.useBodyParser<Record<string, unknown>>('json', {
    limit: limits.maxBytes,
    verify: (_request: Request, _response: Response, bytes: Buffer, encoding: string | null) => {
      // Other encodings than UTF-8 (utf-16...) are checked by the walk after parsing.
      if ((encoding === null || encoding.toLowerCase() === 'utf-8') && jsonTooDeep(bytes, limits.maxDepth)) {
        throw new BodyTooDeepError(`the body nests objects and arrays more than ${limits.maxDepth} deep`);
      }
    },
  });
  app.useBodyParser<Record<string, unknown>>('urlencoded', { limit: limits.maxBytes, extended: true, depth: limits.maxDepth });
  app.use((request: Request, _response: Response, next: NextFunction) => {
    if (request.body === undefined) return next();
    const violations = inputViolations(request.body, limits.maxDepth);
    next(violations.length === 0 ? undefined : refusedBody(HttpStatus.BAD_REQUEST, violations));
  });
  app.use((error: unknown, _request: Request, _response: Response, next: NextFunction) => {
    next(bodyParserError(error, limits) ?? error);
  });
}
