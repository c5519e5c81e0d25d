import {
  IDENTITY_ATTRIBUTES,
  MAX_STEP_DURATION_SECONDS,
  type OperatorSpecification,
  type PartyKind,
  PROCESSING_STEPS,
  type Reason,
  type SecondChannelKind,
} from '@sigillum/contracts';

/** A refusal reason that names the offending field, e.g. `steps[1].step`, like a validation violation. */
export interface FieldReason extends Reason {
  readonly field: string;
}

export const fieldReason = (field: string, rule: string, message: string): FieldReason => ({ field, rule, message });

//////// Second channels

const EMAIL = /^[^\s@<>()[\],;:"]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
/** E.164: a plus, a country code not starting with 0, at most 15 digits in all. */
export const E164 = /^\+[1-9]\d{6,14}$/;
export const MAX_EMAIL_LENGTH = 254;

/** The canonical form of a second-channel address (e-mail lower-cased, spaces trimmed). */
export function normaliseAddress(kind: SecondChannelKind, address: string): string {
  const trimmed = address.trim();
  return kind === 'email' ? trimmed.toLowerCase() : trimmed;
}

/** Why an address cannot serve as a second channel of this kind, or undefined when it can. */
export function addressViolation(kind: SecondChannelKind, address: string): FieldReason | undefined {
  if (kind === 'email') {
    if (address.length > MAX_EMAIL_LENGTH || !EMAIL.test(address)) {
      return fieldReason('address', 'address.email', 'address must be an e-mail address such as name@example.org');
    }
    return undefined;
  }
  if (!E164.test(address)) return fieldReason('address', 'address.e164', 'address must be an E.164 phone number such as +33612345678');
  return undefined;
}

//////// Identity attributes

export const MAX_ATTRIBUTE_LENGTH = 256;
export const MAX_ADDRESS_ATTRIBUTE_LENGTH = 500;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00.000Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

/** Why `name = value` cannot be declared by a party of `kind` (empty when it can); fields named under `prefix`. */
export function attributeViolations(kind: PartyKind, name: string, value: string, now: Date, prefix = ''): FieldReason[] {
  const nameField = `${prefix}name`;
  const field = `${prefix}value`;
  if (!IDENTITY_ATTRIBUTES[kind].includes(name)) {
    return [fieldReason(nameField, 'attribute.unknown', `a ${kind} declares one of ${IDENTITY_ATTRIBUTES[kind].join(', ')}; not "${name}"`)];
  }
  const limit = name === 'address' ? MAX_ADDRESS_ATTRIBUTE_LENGTH : MAX_ATTRIBUTE_LENGTH;
  if (value.trim().length === 0) return [fieldReason(field, 'attribute.empty', `${name} must not be empty`)];
  if (value.length > limit) return [fieldReason(field, 'attribute.too-long', `${name} must be at most ${limit} characters`)];
  if (value !== value.trim() || CONTROL.test(value)) {
    return [fieldReason(field, 'attribute.format', `${name} must not start or end with spaces nor contain control characters`)];
  }
  switch (name) {
    case 'dateOfBirth':
      if (!isCalendarDate(value)) return [fieldReason(field, 'attribute.format', 'dateOfBirth must be a calendar date YYYY-MM-DD')];
      if (value > now.toISOString().slice(0, 10) || value < '1900-01-01') {
        return [fieldReason(field, 'attribute.range', 'dateOfBirth must be between 1900-01-01 and today')];
      }
      return [];
    case 'country':
      return /^[A-Z]{2}$/.test(value) ? [] : [fieldReason(field, 'attribute.format', 'country must be an ISO 3166-1 alpha-2 code such as FR')];
    case 'email':
      return addressViolation('email', value) ? [fieldReason(field, 'attribute.format', 'email must be an e-mail address')] : [];
    case 'phone':
      return E164.test(value) ? [] : [fieldReason(field, 'attribute.format', 'phone must be an E.164 number such as +33612345678')];
    default:
      return [];
  }
}

//////// Processing operators' specifications

export const MAX_SPEC_PARAMETERS = 32;
const PARAMETER_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const PARAMETER_FIELDS = ['type', 'allowed', 'min', 'max', 'required'];
const PARAMETER_TYPES = ['string', 'number', 'boolean'];

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function parameterViolations(path: string, name: string, spec: unknown): FieldReason[] {
  const at = `${path}.${name}`;
  if (!PARAMETER_NAME.test(name)) {
    return [fieldReason(at, 'parameter.name', 'a parameter name starts with a letter and has at most 64 letters, digits, _ . -')];
  }
  if (!isPlainObject(spec)) return [fieldReason(at, 'parameter.shape', 'a parameter is specified by an object {type, allowed?, min?, max?, required?}')];
  const reasons: FieldReason[] = [];
  for (const key of Object.keys(spec)) {
    if (!PARAMETER_FIELDS.includes(key))
      reasons.push(fieldReason(`${at}.${key}`, 'parameter.unknown-field', `unknown field "${key}"; allowed: ${PARAMETER_FIELDS.join(', ')}`));
  }
  const type = spec.type;
  if (typeof type !== 'string' || !PARAMETER_TYPES.includes(type)) {
    reasons.push(fieldReason(`${at}.type`, 'parameter.type', `type must be one of ${PARAMETER_TYPES.join(', ')}`));
  }
  if (spec.allowed !== undefined) {
    const allowed = spec.allowed;
    if (type !== 'string') reasons.push(fieldReason(`${at}.allowed`, 'parameter.allowed', 'allowed values apply to string parameters only'));
    else if (
      !Array.isArray(allowed) ||
      allowed.length === 0 ||
      allowed.length > 64 ||
      !allowed.every((v) => typeof v === 'string' && v.length > 0 && v.length <= 128) ||
      new Set(allowed).size !== allowed.length
    ) {
      reasons.push(fieldReason(`${at}.allowed`, 'parameter.allowed', 'allowed must be 1 to 64 distinct non-empty strings of at most 128 characters'));
    }
  }
  for (const bound of ['min', 'max'] as const) {
    const value = spec[bound];
    if (value === undefined) continue;
    if (type !== 'number') reasons.push(fieldReason(`${at}.${bound}`, 'parameter.range', `${bound} applies to number parameters only`));
    else if (typeof value !== 'number' || !Number.isFinite(value))
      reasons.push(fieldReason(`${at}.${bound}`, 'parameter.range', `${bound} must be a finite number`));
  }
  if (type === 'number' && typeof spec.min === 'number' && typeof spec.max === 'number' && spec.min > spec.max) {
    reasons.push(fieldReason(`${at}.min`, 'parameter.range', 'min must not exceed max'));
  }
  if (spec.required !== undefined && typeof spec.required !== 'boolean') {
    reasons.push(fieldReason(`${at}.required`, 'parameter.required', 'required must be true or false'));
  }
  return reasons;
}

/** Every reason why `specification` is not a well-formed processing operator's specification. */
export function specificationViolations(specification: OperatorSpecification): FieldReason[] {
  const reasons: FieldReason[] = [];
  if (!Number.isInteger(specification.version) || specification.version < 1) {
    reasons.push(fieldReason('version', 'version.invalid', 'version must be an integer ≥ 1'));
  }
  if (!Array.isArray(specification.steps) || specification.steps.length === 0) {
    reasons.push(fieldReason('steps', 'steps.empty', 'a specification offers at least one step'));
    return reasons;
  }
  const seen = new Set<string>();
  specification.steps.forEach((step, index) => {
    const at = `steps[${index}]`;
    if (!PROCESSING_STEPS.includes(step.step)) {
      reasons.push(fieldReason(`${at}.step`, 'step.unknown', `step must be one of ${PROCESSING_STEPS.join(', ')}`));
    } else if (seen.has(step.step)) {
      reasons.push(fieldReason(`${at}.step`, 'step.duplicate', `step "${step.step}" is specified more than once`));
    }
    seen.add(step.step);
    if (!Number.isInteger(step.maxDurationSeconds) || step.maxDurationSeconds < 1 || step.maxDurationSeconds > MAX_STEP_DURATION_SECONDS) {
      reasons.push(
        fieldReason(`${at}.maxDurationSeconds`, 'maxDuration.range', `maxDurationSeconds must be an integer from 1 to ${MAX_STEP_DURATION_SECONDS} (30 days)`),
      );
    }
    if (!isPlainObject(step.parameters)) {
      reasons.push(fieldReason(`${at}.parameters`, 'parameters.shape', 'parameters must be an object of parameter specifications'));
      return;
    }
    const entries = Object.entries(step.parameters);
    if (entries.length > MAX_SPEC_PARAMETERS) {
      reasons.push(fieldReason(`${at}.parameters`, 'parameters.too-many', `at most ${MAX_SPEC_PARAMETERS} parameters per step`));
    }
    for (const [name, spec] of entries) reasons.push(...parameterViolations(`${at}.parameters`, name, spec));
  });
  return reasons;
}

/** Structural equality of JSON values (key order ignored), for idempotent re-registrations. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameJson(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a).filter((k) => a[k] !== undefined);
    const otherKeys = Object.keys(b).filter((k) => b[k] !== undefined);
    return keys.length === otherKeys.length && keys.every((key) => sameJson(a[key], b[key]));
  }
  return false;
}
