import { PoisonMessageError } from '@sigillum/bus';
import type { DeliveredMessage, Reason } from '@sigillum/contracts';

/**
 * Shape checks of the messages the private office consumes: a message whose data does not have the documented
 * shape is poison (dead-lettered with the reason), never half-applied.
 */
export type Data = Record<string, unknown>;

export class ShapeError extends Error {}

export function parseData<T>(message: DeliveredMessage, read: (data: Data) => T): T {
  try {
    if (typeof message.data !== 'object' || message.data === null || Array.isArray(message.data)) throw new ShapeError('data is not an object');
    return read(message.data as Data);
  } catch (error) {
    if (error instanceof ShapeError) {
      throw new PoisonMessageError(`${message.type} ${message.id} (dataversion ${message.dataVersion}) has an unexpected shape: ${error.message}`);
    }
    throw error;
  }
}

export function str(d: Data, field: string): string {
  const value = d[field];
  if (typeof value !== 'string' || value.length === 0 || value.length > 512) throw new ShapeError(`${field} must be a non-empty string`);
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
  const value = str(d, field);
  if (Number.isNaN(Date.parse(value))) throw new ShapeError(`${field} must be an ISO-8601 time`);
  return value;
}
export function obj(d: Data, field: string): Data {
  const value = d[field];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ShapeError(`${field} must be an object`);
  return value as Data;
}
export function arr(d: Data, field: string): Data[] {
  const value = d[field];
  if (!Array.isArray(value)) throw new ShapeError(`${field} must be an array`);
  return value.map((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new ShapeError(`${field}[${i}] must be an object`);
    return item as Data;
  });
}
export function strings(d: Data, field: string): string[] {
  const value = d[field];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item.length > 0)) throw new ShapeError(`${field} must be an array of ids`);
  return value as string[];
}
export function oneOf<T extends string>(d: Data, field: string, allowed: readonly T[]): T {
  const value = d[field];
  if (typeof value !== 'string' || !allowed.includes(value as T)) throw new ShapeError(`${field} must be one of ${allowed.join(', ')}`);
  return value as T;
}
export function integer(d: Data, field: string, min = 0): number {
  const value = d[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw new ShapeError(`${field} must be an integer >= ${min}`);
  return value;
}

const SUBJECT_ROLES = ['user', 'counterpart', 'operator', 'sender', 'recipient'] as const;

export function reason(d: Data): Reason {
  const partyId = d.partyId === undefined || d.partyId === '' ? undefined : str(d, 'partyId');
  const subjectRole = d.subjectRole === undefined ? undefined : oneOf(d, 'subjectRole', SUBJECT_ROLES);
  return { rule: str(d, 'rule'), message: str(d, 'message'), ...(partyId ? { partyId } : {}), ...(subjectRole ? { subjectRole } : {}) };
}
