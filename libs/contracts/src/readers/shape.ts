import type { DomainEvent } from '../event';
import type { Reason, SubjectRole } from '../trust/levels';

/**
 * Shape checks of event data, shared by every reader of another role's events (bus consumers and store reads
 * alike): data that does not have its documented shape is refused with which field broke which rule, never
 * half-applied. On the bus, `parseData` (`@sigillum/bus`) turns a ShapeError into a poison message.
 *
 * Two forms of the same rules:
 * - field readers (`str(d, 'field')`, `time(d, 'field')`...) read one field of an object and return it;
 * - checks (`Id`, `Time`, `list(Reason)`...) are the cells of the per-event tables (`fields({...})`) the typed
 *   readers beside each `*.events.ts` are built from (`chain.readers.ts`...).
 */
export type Data = Record<string, unknown>;

/** The data does not have its documented shape: which field, which rule. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

//////// Field readers

export function object(value: unknown, what: string): Data {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ShapeError(`${what} must be an object`);
  return value as Data;
}
export function objectField(d: Data, field: string): Data {
  return object(d[field], field);
}
export function str(d: Data, field: string, max = 512): string {
  const value = d[field];
  if (typeof value !== 'string' || value.length === 0 || value.length > max)
    throw new ShapeError(`${field} must be a non-empty string of at most ${max} characters`);
  return value;
}
export function optionalStr(d: Data, field: string): string | null {
  return d[field] === null || d[field] === undefined ? null : str(d, field);
}
export function hex64(d: Data, field: string): string {
  const value = str(d, field);
  if (!/^[0-9a-f]{64}$/.test(value)) throw new ShapeError(`${field} must be 64 lowercase hex digits`);
  return value;
}
export function time(d: Data, field: string): string {
  const value = str(d, field, 64);
  if (Number.isNaN(Date.parse(value))) throw new ShapeError(`${field} must be an ISO-8601 time`);
  return value;
}
export function bool(d: Data, field: string): boolean {
  if (typeof d[field] !== 'boolean') throw new ShapeError(`${field} must be a boolean`);
  return d[field] as boolean;
}
export function integer(d: Data, field: string, min = 0): number {
  const value = d[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw new ShapeError(`${field} must be an integer >= ${min}`);
  return value;
}
export function oneOf<T extends string>(d: Data, field: string, allowed: readonly T[]): T {
  const value = d[field];
  if (typeof value !== 'string' || !allowed.includes(value as T)) throw new ShapeError(`${field} must be one of ${allowed.join(', ')}`);
  return value as T;
}
/** An array of objects. */
export function objects(d: Data, field: string): Data[] {
  const value = d[field];
  if (!Array.isArray(value)) throw new ShapeError(`${field} must be an array`);
  return value.map((item, i) => object(item, `${field}[${i}]`));
}
/** An array of non-empty strings (ids). */
export function strings(d: Data, field: string): string[] {
  const value = d[field];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item.length > 0)) throw new ShapeError(`${field} must be an array of ids`);
  return value as string[];
}
/** An id safe to use in a file name or a path: letters, digits, ".", "_", "-", never "..". */
export function id(d: Data, field: string): string {
  const value = str(d, field, 128);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value) || value.includes('..')) throw new ShapeError(`${field} must be an id (letters, digits, ".", "_", "-")`);
  return value;
}
/** A PEM certificate. */
export function pem(d: Data, field: string): string {
  const value = str(d, field, 16_384);
  if (!value.includes('-----BEGIN CERTIFICATE-----')) throw new ShapeError(`${field} must be a PEM certificate`);
  return value;
}

export const SUBJECT_ROLES: readonly SubjectRole[] = ['user', 'counterpart', 'operator', 'sender', 'recipient'];

/** A refusal's reason: rule and message, the party (never an empty id) and its role when given. */
export function reason(d: Data): Reason {
  const partyId = d.partyId === undefined || d.partyId === '' ? undefined : str(d, 'partyId');
  const subjectRole = d.subjectRole === undefined ? undefined : oneOf(d, 'subjectRole', SUBJECT_ROLES);
  return { rule: str(d, 'rule'), message: str(d, 'message', 2_000), ...(partyId ? { partyId } : {}), ...(subjectRole ? { subjectRole } : {}) };
}

/**
 * Reasons as a role records them again in its own events: rule, message, and the party and its role only when
 * given (a verdict without a party, e.g. `operator.unavailable`, may carry an empty partyId; it is dropped).
 */
export function recordableReasons(reasons: readonly Reason[]): Reason[] {
  return reasons.map(({ rule, message, partyId, subjectRole }) => ({
    rule,
    message,
    ...(partyId ? { partyId } : {}),
    ...(subjectRole ? { subjectRole } : {}),
  }));
}

//////// Checks: the cells of the per-event tables

/** Checks one value at `path`; throws a ShapeError naming the path and the rule it broke. */
export type Check = (value: unknown, path: string) => void;

const fail = (path: string, rule: string): never => {
  throw new ShapeError(`${path} must be ${rule}`);
};
const isObject = (value: unknown): value is Data => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A non-empty string of at most `max` characters. */
export const text =
  (max = 512): Check =>
  (v, p) =>
    typeof v === 'string' && v.length > 0 && v.length <= max ? undefined : fail(p, `a non-empty string of at most ${max} characters`);
/** A string, empty allowed (free text such as a subject line). */
export const anyText =
  (max = 16_384): Check =>
  (v, p) =>
    typeof v === 'string' && v.length <= max ? undefined : fail(p, `a string of at most ${max} characters`);
/** An identifier issued by Sigillum (a UUID in practice): the AsyncAPI `Id`. */
export const Id: Check = text(128);
/** An ISO-8601 / RFC 3339 instant: the AsyncAPI `Timestamp`. */
export const Time: Check = (v, p) => (typeof v === 'string' && v.length <= 64 && !Number.isNaN(Date.parse(v)) ? undefined : fail(p, 'an ISO-8601 time'));
/** SHA-256 in lower-case hex: the AsyncAPI `Sha256Hex`. */
export const Hex64: Check = (v, p) => (typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? undefined : fail(p, '64 lowercase hex digits'));
export const Bool: Check = (v, p) => (typeof v === 'boolean' ? undefined : fail(p, 'a boolean'));
/** A JWS (compact or detached) or another signature, as the writers produce it. */
export const Signature: Check = text(16_384);
/** A PEM block of `label` (`CERTIFICATE`, `PUBLIC KEY`) of at most `max` characters. */
export const pemOf =
  (label: string, max = 16_384): Check =>
  (v, p) =>
    typeof v === 'string' && v.length <= max && v.includes(`-----BEGIN ${label}-----`)
      ? undefined
      : fail(p, `a PEM ${label.toLowerCase()} of at most ${max} characters`);
/** A PEM certificate: the AsyncAPI `PemCertificate`. */
export const Pem: Check = pemOf('CERTIFICATE');
/** An integer ≥ `min` (and ≤ `max`). */
export const int =
  (min = 0, max = Number.MAX_SAFE_INTEGER): Check =>
  (v, p) =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max
      ? undefined
      : fail(p, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`);
export const nullable =
  (check: Check): Check =>
  (v, p) =>
    v === null ? undefined : check(v, p);
/** Absent, or what `check` accepts. */
export const optional =
  (check: Check): Check =>
  (v, p) =>
    v === undefined ? undefined : check(v, p);
export const among =
  (allowed: readonly string[]): Check =>
  (v, p) =>
    typeof v === 'string' && allowed.includes(v) ? undefined : fail(p, `one of ${allowed.join(', ')}`);
export const matching =
  (pattern: RegExp, rule: string, max = 512): Check =>
  (v, p) =>
    typeof v === 'string' && v.length <= max && pattern.test(v) ? undefined : fail(p, rule);
export const list =
  (item: Check, min = 0, max = 10_000): Check =>
  (v, p) => {
    if (!Array.isArray(v) || v.length < min || v.length > max) return fail(p, `an array of ${min} to ${max} items`);
    v.forEach((entry, index) => item(entry, `${p}[${index}]`));
  };
/** A finite number. */
export const Num: Check = (v, p) => (typeof v === 'number' && Number.isFinite(v) ? undefined : fail(p, 'a number'));
/** An object whose every value passes `check` (a map by name). */
export const mapOf =
  (check: Check): Check =>
  (v, p) => {
    if (!isObject(v)) return fail(p, 'an object');
    for (const [name, item] of Object.entries(v)) check(item, `${p}.${name}`);
  };
/** Any object (open: its fields are another contract's, e.g. an evidence record). */
export const AnyObject: Check = (v, p) => (isObject(v) ? undefined : fail(p, 'an object'));
/** Parameters by name: strings, numbers or booleans (the AsyncAPI `StepParameters`). */
export const Parameters: Check = (v, p) => {
  if (!isObject(v)) return fail(p, 'an object');
  for (const [name, item] of Object.entries(v)) {
    if (!['string', 'number', 'boolean'].includes(typeof item)) fail(`${p}.${name}`, 'a string, a number or a boolean');
  }
};
/** An object whose listed fields pass their checks (fields it does not list are let through, as written). */
export const record =
  (table: Readonly<Record<string, Check>>): Check =>
  (v, p) => {
    if (!isObject(v)) return fail(p, 'an object');
    for (const [name, check] of Object.entries(table)) check(v[name], p ? `${p}.${name}` : name);
  };
/** One of several object shapes, chosen by the value of `tag`. */
export const tagged =
  (tag: string, shapes: Readonly<Record<string, Readonly<Record<string, Check>>>>): Check =>
  (v, p) => {
    if (!isObject(v)) return fail(p, 'an object');
    const shape = typeof v[tag] === 'string' ? shapes[v[tag] as string] : undefined;
    if (!shape) return fail(`${p}.${tag}`, `one of ${Object.keys(shapes).join(', ')}`);
    record(shape)(v, p);
  };
/** A refusal's reason: the AsyncAPI `Reason`. */
export const ReasonShape: Check = record({
  rule: text(512),
  message: text(2_000),
  partyId: optional((v, p) => (v === '' ? undefined : Id(v, p))),
  subjectRole: optional(among(SUBJECT_ROLES)),
});
/** One reason or more. */
export const Reasons: Check = list(ReasonShape, 1);

//////// Typed readers

/** Every field of `T`, each with its check: a field added to the type and not to the table fails to compile. */
export type Shape<T> = { readonly [K in keyof T]-?: Check };

/**
 * The reader of one event's data: checks every field of its table and returns the data as it came, typed
 * (fields it does not know are kept: a signed object must stay exactly as signed). Throws ShapeError.
 */
export function fields<T>(shape: Shape<T>): (data: unknown) => T {
  const check = record(shape as Record<string, Check>);
  return (data) => {
    if (!isObject(data)) throw new ShapeError('data is not an object');
    check(data, '');
    return data as T;
  };
}

/** The table of a category: each event type's fields with their checks (compile-time complete). */
export type ShapesOf<E extends DomainEvent> = { readonly [K in E['type']]: Shape<Extract<E, { type: K }>['data']> };

/** The readers of a category's events, by type. */
export type ReadersOf<E extends DomainEvent> = { readonly [K in E['type']]: (data: unknown) => Extract<E, { type: K }>['data'] };

/** One reader per event type, from the category's table. */
export function readersOf<E extends DomainEvent>(shapes: ShapesOf<E>): ReadersOf<E> {
  const readers: Record<string, (data: unknown) => unknown> = {};
  for (const [type, shape] of Object.entries(shapes as Record<string, Shape<unknown>>)) readers[type] = fields(shape);
  return Object.freeze(readers) as unknown as ReadersOf<E>;
}

/**
 * `read<Category>Event(type, version, data)`: the typed event, or null for a type the category's table does not
 * have (an event added after this code); throws ShapeError naming the field that does not fit.
 */
export function eventReader<E extends DomainEvent>(readers: ReadersOf<E>): (type: string, version: number, data: unknown) => E | null {
  return (type, version, data) => {
    if (!Object.prototype.hasOwnProperty.call(readers, type)) return null;
    const read = (readers as Record<string, (data: unknown) => unknown>)[type];
    return { type, version, data: read(data) } as E;
  };
}
