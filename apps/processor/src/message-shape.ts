import { type Data, ShapeError, str } from '@sigillum/bus';

/** The processor's own field checks, beside the bus's shared ones (`@sigillum/bus` message-shape). */

export function id(d: Data, field: string): string {
  const value = str(d, field, 128);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value) || value.includes('..')) throw new ShapeError(`${field} must be an id (letters, digits, ".", "_", "-")`);
  return value;
}
export function pem(d: Data, field: string): string {
  const value = str(d, field, 16_384);
  if (!value.includes('-----BEGIN CERTIFICATE-----')) throw new ShapeError(`${field} must be a PEM certificate`);
  return value;
}
