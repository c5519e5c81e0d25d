import {
  type CertificationToken,
  type ContentPartRef,
  PROCESSING_STEPS,
  type ProcessingStep,
  type Reason,
  type StepFailed,
  type StepReport,
  type SubjectRole,
  type SubmissionRequested,
  type TokenAcknowledged,
  type TokenReturned,
} from '@sigillum/contracts';

/** The data of an event does not have its documented shape: which field, which rule. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

type Data = Record<string, unknown>;

export function asObject(value: unknown, field: string): Data {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ShapeError(`${field} must be an object`);
  return value as Data;
}
function text(d: Data, field: string, max = 512): string {
  const value = d[field];
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw new ShapeError(`${field} must be a non-empty string of at most ${max} characters`);
  return value;
}
function anyText(d: Data, field: string, max = 16_384): string {
  const value = d[field];
  if (typeof value !== 'string' || value.length > max) throw new ShapeError(`${field} must be a string of at most ${max} characters`);
  return value;
}
function hex64(d: Data, field: string): string {
  const value = text(d, field);
  if (!/^[0-9a-f]{64}$/.test(value)) throw new ShapeError(`${field} must be 64 lowercase hex digits (SHA-256)`);
  return value;
}
function time(d: Data, field: string): string {
  const value = text(d, field, 64);
  if (Number.isNaN(Date.parse(value))) throw new ShapeError(`${field} must be an ISO-8601 time`);
  return value;
}
function integer(d: Data, field: string, min: number): number {
  const value = d[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw new ShapeError(`${field} must be an integer >= ${min}`);
  return value;
}
function oneOf<T extends string>(d: Data, field: string, allowed: readonly T[]): T {
  const value = d[field];
  if (typeof value !== 'string' || !allowed.includes(value as T)) throw new ShapeError(`${field} must be one of ${allowed.join(', ')}`);
  return value as T;
}
function list(d: Data, field: string, max = 1_000): unknown[] {
  const value = d[field];
  if (!Array.isArray(value) || value.length > max) throw new ShapeError(`${field} must be an array of at most ${max} items`);
  return value;
}
function texts(d: Data, field: string, min = 0): string[] {
  const values = list(d, field);
  if (values.length < min) throw new ShapeError(`${field} must hold at least ${min} item(s)`);
  return values.map((value, index) => {
    if (typeof value !== 'string' || value.length === 0 || value.length > 512) throw new ShapeError(`${field}[${index}] must be a non-empty string`);
    return value;
  });
}
function parameters(d: Data, field: string): Record<string, string | number | boolean> {
  const value = asObject(d[field], field);
  for (const [name, item] of Object.entries(value)) {
    if (!['string', 'number', 'boolean'].includes(typeof item)) throw new ShapeError(`${field}.${name} must be a string, a number or a boolean`);
  }
  return value as Record<string, string | number | boolean>;
}

const SUBJECT_ROLES: readonly SubjectRole[] = ['user', 'counterpart', 'operator', 'sender', 'recipient'];

export function readReason(value: unknown, field: string): Reason {
  const d = asObject(value, field);
  const partyId = d.partyId === undefined ? undefined : text(d, 'partyId');
  const subjectRole = d.subjectRole === undefined ? undefined : oneOf(d, 'subjectRole', SUBJECT_ROLES);
  return { rule: text(d, 'rule', 128), message: text(d, 'message', 2_000), ...(partyId ? { partyId } : {}), ...(subjectRole ? { subjectRole } : {}) };
}

function readPart(value: unknown, field: string): ContentPartRef {
  const d = asObject(value, field);
  return { digest: hex64(d, 'digest'), size: integer(d, 'size', 0), contentType: text(d, 'contentType', 255), name: text(d, 'name', 255) };
}

export function readSubmissionRequested(data: unknown): SubmissionRequested['data'] {
  const d = asObject(data, 'data');
  return {
    correspondenceId: text(d, 'correspondenceId', 128),
    draftId: text(d, 'draftId', 128),
    submissionKey: text(d, 'submissionKey', 256),
    senderId: text(d, 'senderId', 128),
    sessionId: text(d, 'sessionId', 128),
    recipientIds: texts(d, 'recipientIds', 1),
    subject: anyText(d, 'subject', 2_000),
    kind: text(d, 'kind', 64),
    requiredLevel: text(d, 'requiredLevel', 64),
    consignment: oneOf(d, 'consignment', ['basic', 'consent'] as const),
    parts: list(d, 'parts').map((part, index) => readPart(part, `parts[${index}]`)),
    specimenDigest: hex64(d, 'specimenDigest'),
    validationProof: text(d, 'validationProof', 16_384),
    requestedAt: time(d, 'requestedAt'),
  };
}

export function readTokenAcknowledged(data: unknown): TokenAcknowledged['data'] {
  const d = asObject(data, 'data');
  return {
    tokenId: text(d, 'tokenId', 128),
    correspondenceId: text(d, 'correspondenceId', 128),
    stepIndex: integer(d, 'stepIndex', 0),
    operatorId: text(d, 'operatorId', 128),
    tokenDigest: text(d, 'tokenDigest', 128),
    acknowledgedAt: time(d, 'acknowledgedAt'),
    keyId: text(d, 'keyId', 128),
    signature: text(d, 'signature', 16_384),
  };
}

function readReport(value: unknown): StepReport {
  const d = asObject(value, 'report');
  const output = asObject(d.output, 'report.output');
  oneOf(output, 'step', PROCESSING_STEPS);
  return {
    tokenId: text(d, 'tokenId', 128),
    step: oneOf(d, 'step', PROCESSING_STEPS),
    inputDigest: text(d, 'inputDigest', 128),
    outputDigest: text(d, 'outputDigest', 128),
    parameters: parameters(d, 'parameters'),
    startedAt: text(d, 'startedAt', 64),
    finishedAt: text(d, 'finishedAt', 64),
    // Checked field by field by the compliance rules; its digest covers it whole.
    output: output as unknown as StepReport['output'],
  };
}

export function readTokenReturned(data: unknown): TokenReturned['data'] {
  const d = asObject(data, 'data');
  return {
    tokenId: text(d, 'tokenId', 128),
    correspondenceId: text(d, 'correspondenceId', 128),
    stepIndex: integer(d, 'stepIndex', 0),
    operatorId: text(d, 'operatorId', 128),
    report: readReport(d.report),
    returnedAt: time(d, 'returnedAt'),
    keyId: text(d, 'keyId', 128),
    signature: text(d, 'signature', 16_384),
  };
}

export function readStepFailed(data: unknown): StepFailed['data'] {
  const d = asObject(data, 'data');
  return {
    tokenId: text(d, 'tokenId', 128),
    correspondenceId: text(d, 'correspondenceId', 128),
    stepIndex: integer(d, 'stepIndex', 0),
    operatorId: text(d, 'operatorId', 128),
    reasons: list(d, 'reasons', 100).map((reason, index) => readReason(reason, `reasons[${index}]`)),
    failedAt: time(d, 'failedAt'),
  };
}

/** The fields of an issued token the deadlines need (own events: a bad shape is a bug, still dead-lettered). */
export function readIssuedTokenDeadlines(data: unknown): Pick<CertificationToken, 'tokenId' | 'correspondenceId' | 'acknowledgeBy' | 'returnBy'> & { step: ProcessingStep } {
  const token = asObject(asObject(data, 'data').token, 'token');
  return {
    tokenId: text(token, 'tokenId', 128),
    correspondenceId: text(token, 'correspondenceId', 128),
    step: oneOf(token, 'step', PROCESSING_STEPS),
    acknowledgeBy: time(token, 'acknowledgeBy'),
    returnBy: time(token, 'returnBy'),
  };
}

export function readTokenId(data: unknown): string {
  return text(asObject(data, 'data'), 'tokenId', 128);
}
