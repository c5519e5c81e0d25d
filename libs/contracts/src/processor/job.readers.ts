import { Step } from '../readers/common';
import {
  anyText,
  type Check,
  eventReader,
  fields,
  Hex64,
  list,
  tagged,
  text,
  Id,
  int,
  Parameters,
  Reasons,
  record,
  readersOf,
  Signature,
  Time,
} from '../readers/shape';
import type { JobEvent, StepOutput, StepReport } from './job.events';

/**
 * Typed readers of the operators' job events (`job-<tokenId>`, processor) at the strictness of the
 * processor's job decider and of the partner commands it checks (apps/processor/src/partner/partner-commands.ts).
 */

/**
 * The report's output is only checked to be an object naming a step: the certifier's compliance rules check it
 * field by field and record a reasoned StepNonCompliant, which a dead letter here would pre-empt.
 */
const Output: Check = record({ step: Step });

export const STEP_REPORT: { readonly [K in keyof StepReport]-?: Check } = {
  tokenId: Id,
  step: Step,
  inputDigest: Hex64,
  outputDigest: Hex64,
  parameters: Parameters,
  startedAt: Time,
  finishedAt: Time,
  output: Output,
};

export const JOB_READERS = readersOf<JobEvent>({
  TokenAcknowledged: {
    tokenId: Id,
    correspondenceId: Id,
    stepIndex: int(0),
    operatorId: Id,
    tokenDigest: Hex64,
    acknowledgedAt: Time,
    keyId: Id,
    signature: Signature,
  },
  TokenReturned: {
    tokenId: Id,
    correspondenceId: Id,
    stepIndex: int(0),
    operatorId: Id,
    report: record(STEP_REPORT),
    returnedAt: Time,
    keyId: Id,
    signature: Signature,
  },
  StepFailed: { tokenId: Id, correspondenceId: Id, stepIndex: int(0), operatorId: Id, reasons: Reasons, failedAt: Time },
});

export const readTokenAcknowledged = JOB_READERS.TokenAcknowledged;
export const readTokenReturned = JOB_READERS.TokenReturned;
export const readStepFailed = JOB_READERS.StepFailed;

/**
 * A step's output checked for its step (the partner commands' rules: apps/processor/src/partner/partner-commands.ts),
 * for a reader that uses what an operator reported (the archive's safes...), once the certifier certified it.
 */
const STEP_OUTPUT: Check = tagged('step', {
  seal: { sealJws: text(32_768), certificateFingerprint: Hex64 },
  timestamp: { timeStampToken: text(65_536), genTime: Time, serialNumber: text(128) },
  deliver: { recipientIds: list(Id), deliveredAt: Time },
  archive: { packageDigest: Hex64, safes: list(record({ ownerId: Id, retainUntil: Time })), location: text(1_024) },
  'print-and-post': { printJobId: text(128), addressBlock: list(anyText(500), 0, 200), contentDigest: Hex64, location: text(1_024) },
});
export function readStepOutput(value: unknown, path = 'report.output'): StepOutput {
  STEP_OUTPUT(value, path);
  return value as StepOutput;
}
export const readJobEvent = eventReader(JOB_READERS);
