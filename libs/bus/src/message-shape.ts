import type { DeliveredMessage, Reason, SubjectRole } from '@sigillum/contracts';
import { PoisonMessageError } from './event-bus.port';

/**
 * Shape checks of consumed event data, shared by every consumer: a message whose data does not have its documented
 * shape is poison — dead-lettered with which field broke which rule — never half-applied.
 */
export type Data = Record<string, unknown>;

/** The data does not have its documented shape: which field, which rule. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

/** Reads the message's data with `read`; a ShapeError becomes a PoisonMessageError naming the message. */
export function parseData<T>(message: DeliveredMessage, read: (data: Data) => T): T {
  try {
    const data = message.data;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ShapeError('data is not an object');
    return read(data as Data);
  } catch (error) {
    if (error instanceof ShapeError) {
      throw new PoisonMessageError(`${message.type} ${message.id} (dataversion ${message.dataVersion}) has an unexpected shape: ${error.message}`);
    }
    throw error;
  }
}

export function object(value: unknown, what: string): Data {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ShapeError(`${what} must be an object`);
  return value as Data;
}
export function objectField(d: Data, field: string): Data {
  return object(d[field], field);
}
export function str(d: Data, field: string, max = 512): string {
  const value = d[field];
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw new ShapeError(`${field} must be a non-empty string of at most ${max} characters`);
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

export const SUBJECT_ROLES: readonly SubjectRole[] = ['user', 'counterpart', 'operator', 'sender', 'recipient'];

/** A refusal's reason: rule and message, the party (never an empty id) and its role when given. */
export function reason(d: Data): Reason {
  const partyId = d.partyId === undefined || d.partyId === '' ? undefined : str(d, 'partyId');
  const subjectRole = d.subjectRole === undefined ? undefined : oneOf(d, 'subjectRole', SUBJECT_ROLES);
  return { rule: str(d, 'rule'), message: str(d, 'message', 2_000), ...(partyId ? { partyId } : {}), ...(subjectRole ? { subjectRole } : {}) };
}
