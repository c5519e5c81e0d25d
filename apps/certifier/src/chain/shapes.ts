import {
  type CertificationToken,
  type ContentPartRef,
  PROCESSING_STEPS,
  type ProcessingStep,
  type Reason,
  type StepFailed,
  type StepReport,
  type SubmissionRequested,
  type TokenAcknowledged,
  type TokenReturned,
} from '@sigillum/contracts';
import { type Data, hex64, integer, object, oneOf, ShapeError, str, SUBJECT_ROLES, time } from '@sigillum/bus';

// Field checks are the bus's shared ones; these are the chain's own.
export { ShapeError };

function anyText(d: Data, field: string, max = 16_384): string {
  const value = d[field];
  if (typeof value !== 'string' || value.length > max) throw new ShapeError(`${field} must be a string of at most ${max} characters`);
  return value;
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
  const value = object(d[field], field);
  for (const [name, item] of Object.entries(value)) {
    if (!['string', 'number', 'boolean'].includes(typeof item)) throw new ShapeError(`${field}.${name} must be a string, a number or a boolean`);
  }
  return value as Record<string, string | number | boolean>;
}

export function readReason(value: unknown, field: string): Reason {
  const d = object(value, field);
  const partyId = d.partyId === undefined ? undefined : str(d, 'partyId');
  const subjectRole = d.subjectRole === undefined ? undefined : oneOf(d, 'subjectRole', SUBJECT_ROLES);
  return { rule: str(d, 'rule', 128), message: str(d, 'message', 2_000), ...(partyId ? { partyId } : {}), ...(subjectRole ? { subjectRole } : {}) };
}

function readPart(value: unknown, field: string): ContentPartRef {
  const d = object(value, field);
  return { digest: hex64(d, 'digest'), size: integer(d, 'size', 0), contentType: str(d, 'contentType', 255), name: str(d, 'name', 255) };
}

export function readSubmissionRequested(data: unknown): SubmissionRequested['data'] {
  const d = object(data, 'data');
  return {
    correspondenceId: str(d, 'correspondenceId', 128),
    draftId: str(d, 'draftId', 128),
    submissionKey: str(d, 'submissionKey', 256),
    senderId: str(d, 'senderId', 128),
    sessionId: str(d, 'sessionId', 128),
    recipientIds: texts(d, 'recipientIds', 1),
    subject: anyText(d, 'subject', 2_000),
    kind: str(d, 'kind', 64),
    requiredLevel: str(d, 'requiredLevel', 64),
    consignment: oneOf(d, 'consignment', ['basic', 'consent'] as const),
    parts: list(d, 'parts').map((part, index) => readPart(part, `parts[${index}]`)),
    specimenDigest: hex64(d, 'specimenDigest'),
    validationProof: str(d, 'validationProof', 16_384),
    requestedAt: time(d, 'requestedAt'),
  };
}

export function readTokenAcknowledged(data: unknown): TokenAcknowledged['data'] {
  const d = object(data, 'data');
  return {
    tokenId: str(d, 'tokenId', 128),
    correspondenceId: str(d, 'correspondenceId', 128),
    stepIndex: integer(d, 'stepIndex', 0),
    operatorId: str(d, 'operatorId', 128),
    tokenDigest: str(d, 'tokenDigest', 128),
    acknowledgedAt: time(d, 'acknowledgedAt'),
    keyId: str(d, 'keyId', 128),
    signature: str(d, 'signature', 16_384),
  };
}

function readReport(value: unknown): StepReport {
  const d = object(value, 'report');
  const output = object(d.output, 'report.output');
  oneOf(output, 'step', PROCESSING_STEPS);
  return {
    tokenId: str(d, 'tokenId', 128),
    step: oneOf(d, 'step', PROCESSING_STEPS),
    inputDigest: str(d, 'inputDigest', 128),
    outputDigest: str(d, 'outputDigest', 128),
    parameters: parameters(d, 'parameters'),
    startedAt: str(d, 'startedAt', 64),
    finishedAt: str(d, 'finishedAt', 64),
    // Checked field by field by the compliance rules; its digest covers it whole.
    output: output as unknown as StepReport['output'],
  };
}

export function readTokenReturned(data: unknown): TokenReturned['data'] {
  const d = object(data, 'data');
  return {
    tokenId: str(d, 'tokenId', 128),
    correspondenceId: str(d, 'correspondenceId', 128),
    stepIndex: integer(d, 'stepIndex', 0),
    operatorId: str(d, 'operatorId', 128),
    report: readReport(d.report),
    returnedAt: time(d, 'returnedAt'),
    keyId: str(d, 'keyId', 128),
    signature: str(d, 'signature', 16_384),
  };
}

export function readStepFailed(data: unknown): StepFailed['data'] {
  const d = object(data, 'data');
  return {
    tokenId: str(d, 'tokenId', 128),
    correspondenceId: str(d, 'correspondenceId', 128),
    stepIndex: integer(d, 'stepIndex', 0),
    operatorId: str(d, 'operatorId', 128),
    reasons: list(d, 'reasons', 100).map((reason, index) => readReason(reason, `reasons[${index}]`)),
    failedAt: time(d, 'failedAt'),
  };
}

/** The fields of an issued token the deadlines need (own events: a bad shape is a bug, still dead-lettered). */
export function readIssuedTokenDeadlines(data: unknown): Pick<CertificationToken, 'tokenId' | 'correspondenceId' | 'acknowledgeBy' | 'returnBy'> & { step: ProcessingStep } {
  const token = object(object(data, 'data').token, 'token');
  return {
    tokenId: str(token, 'tokenId', 128),
    correspondenceId: str(token, 'correspondenceId', 128),
    step: oneOf(token, 'step', PROCESSING_STEPS),
    acknowledgeBy: time(token, 'acknowledgeBy'),
    returnBy: time(token, 'returnBy'),
  };
}

export function readTokenId(data: unknown): string {
  return str(object(data, 'data'), 'tokenId', 128);
}
