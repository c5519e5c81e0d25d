import { type Data, hex64, object, oneOf, ShapeError, str, time } from '@sigillum/bus';
import { type DeliveredMessage, JOB_CATEGORY, PROCESSING_STEPS, type Reason, type StepReport, streamIdOf } from '@sigillum/contracts';
import { id } from '../message-shape';

/**
 * The commands a partner operator writes to its topic `sigillum.partner.<name>.inbound` (docs/asyncapi.yaml,
 * channel partnerInbound): binary-mode CloudEvents 1.0, key `job-<tokenId>` (so that one token's commands stay in
 * order), JSON body. Each carries a detached JWS (EdDSA, `x5c` = [operator certificate, Sigillum CA], RFC 8785
 * canonical JSON) by the operator's certified key over exactly what the job event will hold.
 */
export const PARTNER_COMMAND_TYPES = {
  acknowledge: 'sigillum.partner.AcknowledgeToken',
  return: 'sigillum.partner.ReturnToken',
  fail: 'sigillum.partner.ReportStepFailure',
} as const;

/** Who speaks, in every command: the operator, its directory key, the CA's certificate of that key, and the token. */
interface CommandBase {
  readonly tokenId: string;
  readonly correspondenceId: string;
  readonly operatorId: string;
  /** The directory id of the operator's Ed25519 public key (PublicKeyRegistered.keyId). */
  readonly keyId: string;
  /** The certificate the Sigillum CA issued for that key (CertificateIssued.certificateId): its revocation is looked up by it. */
  readonly certificateId: string;
  readonly signature: string;
}

/** Signs `{ tokenId, tokenDigest, acknowledgedAt }` (as a hosted operator's TokenAcknowledged). */
export interface AcknowledgeCommand extends CommandBase {
  readonly kind: 'acknowledge';
  readonly tokenDigest: string;
  readonly acknowledgedAt: string;
}

/** Signs the report (as a hosted operator's TokenReturned). */
export interface ReturnCommand extends CommandBase {
  readonly kind: 'return';
  readonly report: StepReport;
  readonly returnedAt: string;
}

/** Signs `{ tokenId, reasons, failedAt }`: the operator could not perform the step. */
export interface FailCommand extends CommandBase {
  readonly kind: 'fail';
  readonly reasons: readonly Reason[];
  readonly failedAt: string;
}

export type PartnerCommand = AcknowledgeCommand | ReturnCommand | FailCommand;

/** What each command's signature covers. */
export function signedPayloadOf(command: PartnerCommand): unknown {
  switch (command.kind) {
    case 'acknowledge':
      return { tokenId: command.tokenId, tokenDigest: command.tokenDigest, acknowledgedAt: command.acknowledgedAt };
    case 'return':
      return command.report;
    case 'fail':
      return { tokenId: command.tokenId, reasons: command.reasons, failedAt: command.failedAt };
  }
}

/** The fields each step's output has, no more (the documented StepOutput of sigillum.job.events). */
const OUTPUT_FIELDS: Readonly<Record<string, readonly string[]>> = {
  seal: ['step', 'sealJws', 'certificateFingerprint'],
  timestamp: ['step', 'timeStampToken', 'genTime', 'serialNumber'],
  deliver: ['step', 'recipientIds', 'deliveredAt'],
  archive: ['step', 'packageDigest', 'safes', 'location'],
  'print-and-post': ['step', 'printJobId', 'addressBlock', 'contentDigest', 'location'],
};

function closed(d: Data, what: string, allowed: readonly string[]): void {
  const extra = Object.keys(d).filter((key) => !allowed.includes(key));
  if (extra.length > 0) throw new ShapeError(`${what} has unknown field(s) ${extra.join(', ')}; allowed: ${allowed.join(', ')}`);
}

function textList(d: Data, field: string, maxItems: number, maxLength: number, allowEmpty: boolean): string[] {
  const value = d[field];
  if (!Array.isArray(value) || value.length > maxItems) throw new ShapeError(`${field} must be an array of at most ${maxItems} strings`);
  return value.map((item, index) => {
    if (typeof item !== 'string' || item.length > maxLength || (!allowEmpty && item.length === 0))
      throw new ShapeError(`${field}[${index}] must be a string of at most ${maxLength} characters`);
    return item;
  });
}

function readOutput(value: unknown): StepReport['output'] {
  const d = object(value, 'report.output');
  const step = oneOf(d, 'step', PROCESSING_STEPS);
  closed(d, 'report.output', OUTPUT_FIELDS[step]);
  switch (step) {
    case 'print-and-post':
      str(d, 'printJobId', 128);
      textList(d, 'addressBlock', 200, 500, true);
      hex64(d, 'contentDigest');
      str(d, 'location', 1_024);
      break;
    case 'deliver':
      textList(d, 'recipientIds', 1_000, 128, false);
      time(d, 'deliveredAt');
      break;
    case 'seal':
      str(d, 'sealJws', 32_768);
      hex64(d, 'certificateFingerprint');
      break;
    case 'timestamp':
      str(d, 'timeStampToken', 65_536);
      time(d, 'genTime');
      str(d, 'serialNumber', 128);
      break;
    case 'archive':
      hex64(d, 'packageDigest');
      if (!Array.isArray(d.safes)) throw new ShapeError('safes must be an array');
      str(d, 'location', 1_024);
      break;
  }
  return d as unknown as StepReport['output'];
}

function readReport(value: unknown): StepReport {
  const d = object(value, 'report');
  closed(d, 'report', ['tokenId', 'step', 'inputDigest', 'outputDigest', 'parameters', 'startedAt', 'finishedAt', 'output']);
  id(d, 'tokenId');
  oneOf(d, 'step', PROCESSING_STEPS);
  hex64(d, 'inputDigest');
  hex64(d, 'outputDigest');
  const parameters = object(d.parameters, 'report.parameters');
  for (const [name, parameter] of Object.entries(parameters)) {
    if (!['string', 'number', 'boolean'].includes(typeof parameter)) throw new ShapeError(`report.parameters.${name} must be a string, a number or a boolean`);
  }
  time(d, 'startedAt');
  time(d, 'finishedAt');
  readOutput(d.output);
  // Returned as it came: the signature covers exactly this object.
  return d as unknown as StepReport;
}

function readReasons(d: Data): Reason[] {
  const value = d.reasons;
  if (!Array.isArray(value) || value.length === 0 || value.length > 20) throw new ShapeError('reasons must be an array of 1 to 20 reasons');
  return value.map((item, index) => {
    const reason = object(item, `reasons[${index}]`);
    closed(reason, `reasons[${index}]`, ['rule', 'message']);
    const rule = str(reason, 'rule', 128);
    if (!/^[a-z0-9][a-z0-9.-]*$/.test(rule)) throw new ShapeError(`reasons[${index}].rule must be a dotted lower-case rule such as "address.undeliverable"`);
    return { rule, message: str(reason, 'message', 2_000) };
  });
}

/** The CloudEvents types of the partner commands, by short name. */
const KIND_OF_TYPE = new Map<string, PartnerCommand['kind']>(
  Object.entries(PARTNER_COMMAND_TYPES).map(([kind, type]) => [type, kind as PartnerCommand['kind']]),
);

/**
 * THE reader of a partner command: its CloudEvents type, its key (`job-<tokenId>`) and its body, closed (no field
 * that is not documented). Throws ShapeError saying which field broke which rule; the caller dead-letters it.
 */
export function readPartnerCommand(message: Pick<DeliveredMessage, 'type' | 'key' | 'data' | 'dataVersion'>): PartnerCommand {
  const kind = KIND_OF_TYPE.get(message.type);
  if (!kind) throw new ShapeError(`ce_type "${message.type}" is not a partner command; expected one of ${Object.values(PARTNER_COMMAND_TYPES).join(', ')}`);
  if (message.dataVersion !== 1) throw new ShapeError(`ce_dataversion ${message.dataVersion} of ${message.type} is not supported; expected 1`);
  const d = object(message.data, 'data');
  const base = {
    tokenId: id(d, 'tokenId'),
    correspondenceId: id(d, 'correspondenceId'),
    operatorId: id(d, 'operatorId'),
    keyId: id(d, 'keyId'),
    certificateId: id(d, 'certificateId'),
    signature: str(d, 'signature', 32_768),
  };
  const common = Object.keys(base);
  if (message.key !== streamIdOf(JOB_CATEGORY, base.tokenId))
    throw new ShapeError(`the record key must be the job stream id job-${base.tokenId}, not "${message.key}"`);
  switch (kind) {
    case 'acknowledge':
      closed(d, 'data', [...common, 'tokenDigest', 'acknowledgedAt']);
      return { kind, ...base, tokenDigest: hex64(d, 'tokenDigest'), acknowledgedAt: time(d, 'acknowledgedAt') };
    case 'return': {
      closed(d, 'data', [...common, 'report', 'returnedAt']);
      const report = readReport(d.report);
      if (report.tokenId !== base.tokenId) throw new ShapeError("report.tokenId must be the command's tokenId");
      return { kind, ...base, report, returnedAt: time(d, 'returnedAt') };
    }
    case 'fail':
      closed(d, 'data', [...common, 'reasons', 'failedAt']);
      return { kind, ...base, reasons: readReasons(d), failedAt: time(d, 'failedAt') };
  }
}
