import { PoisonMessageError } from '@sigillum/bus';
import type { DeliveredMessage } from '@sigillum/contracts';

/** Shape checks of consumed events: a message that does not have the documented shape is poison (dead-lettered with why). */

export type Data = Record<string, unknown>;

export class ShapeError extends Error {}

export function parseMessage<T>(message: DeliveredMessage, read: (data: Data) => T): T {
  try {
    return read(object(message.data, 'data'));
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
export function str(d: Data, field: string, max = 512): string {
  const value = d[field];
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw new ShapeError(`${field} must be a non-empty string of at most ${max} characters`);
  return value;
}
export function id(d: Data, field: string): string {
  const value = str(d, field, 128);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value) || value.includes('..')) throw new ShapeError(`${field} must be an id (letters, digits, ".", "_", "-")`);
  return value;
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
export function int(d: Data, field: string, min: number): number {
  const value = d[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw new ShapeError(`${field} must be an integer >= ${min}`);
  return value;
}
export function oneOf<T extends string>(d: Data, field: string, allowed: readonly T[]): T {
  const value = d[field];
  if (typeof value !== 'string' || !allowed.includes(value as T)) throw new ShapeError(`${field} must be one of ${allowed.join(', ')}`);
  return value as T;
}
export function pem(d: Data, field: string): string {
  const value = str(d, field, 16_384);
  if (!value.includes('-----BEGIN CERTIFICATE-----')) throw new ShapeError(`${field} must be a PEM certificate`);
  return value;
}
