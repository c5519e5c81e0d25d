import { Consignment, KindName, Step, TrustLevelName } from '../readers/common';
import {
  among,
  AnyObject,
  eventReader,
  fields,
  Hex64,
  Id,
  int,
  list,
  nullable,
  optional,
  Parameters,
  Reasons,
  record,
  readersOf,
  type Shape,
  Signature,
  text,
  Time,
} from '../readers/shape';
import type { CertificationToken, ChainEvent, EvidenceEvent, PlannedStep } from './chain.events';

/**
 * Typed readers of the chain's events (`chain-<correspondenceId>`, certifier) and of evidence: one table per
 * category, at the strictness of the chain decider that writes them and of docs/asyncapi.yaml. Each reader returns
 * the data as it came (a token must stay exactly as the certifier signed it, fields added later included).
 */

export const PLANNED_STEP: Shape<PlannedStep> = { step: Step, operatorId: Id, parameters: Parameters };

export const CERTIFICATION_TOKEN: Shape<CertificationToken> = {
  tokenId: Id,
  correspondenceId: Id,
  stepIndex: int(0),
  step: Step,
  attempt: int(1),
  operatorId: Id,
  specificationVersion: int(1),
  inputDigest: Hex64,
  parameters: Parameters,
  issuedAt: Time,
  acknowledgeBy: Time,
  returnBy: Time,
};

export const CHAIN_READERS = readersOf<ChainEvent>({
  ChainStarted: {
    correspondenceId: Id,
    senderId: Id,
    recipientIds: list(Id, 1),
    kind: KindName,
    requiredLevel: TrustLevelName,
    consignment: Consignment,
    checkId: Id,
    policyId: text(),
    steps: list(record(PLANNED_STEP), 1),
    specimenDigest: Hex64,
    submittedAt: Time,
    startedAt: Time,
  },
  ChainRefused: { correspondenceId: Id, checkId: nullable(Id), policyId: nullable(text()), reasons: Reasons, refusedAt: Time },
  StepTokenIssued: { token: record(CERTIFICATION_TOKEN), signature: Signature },
  StepCertified: {
    tokenId: Id,
    correspondenceId: Id,
    stepIndex: int(0),
    step: Step,
    operatorId: Id,
    inputDigest: Hex64,
    outputDigest: Hex64,
    acknowledgedAt: Time,
    returnedAt: Time,
    certifiedAt: Time,
  },
  StepNonCompliant: { tokenId: Id, correspondenceId: Id, stepIndex: int(0), step: Step, operatorId: Id, reasons: Reasons, recordedAt: Time },
  StepDeadlineMissed: {
    tokenId: Id,
    correspondenceId: Id,
    stepIndex: int(0),
    step: Step,
    operatorId: Id,
    missing: among(['acknowledgement', 'return']),
    deadline: Time,
    recordedAt: Time,
  },
  ChainCompleted: { correspondenceId: Id, finalDigest: Hex64, completedAt: Time },
  ChainFailed: { correspondenceId: Id, stepIndex: int(0), step: Step, reasons: Reasons, failedAt: Time },
  ChainRetried: { correspondenceId: Id, stepIndex: int(0), attempt: int(2), requestedBy: text(), reason: text(500), retriedAt: Time },
});

export const EVIDENCE_READERS = readersOf<EvidenceEvent>({
  EvidenceRecorded: {
    evidenceId: Id,
    correspondenceId: Id,
    chainIndex: int(0),
    eventName: text(256),
    record: AnyObject,
    recordDigest: Hex64,
    previousEvidenceDigest: nullable(Hex64),
    jws: optional(text(1_048_576)),
    recordedAt: Time,
  },
});

export const readChainStarted = CHAIN_READERS.ChainStarted;
export const readChainRefused = CHAIN_READERS.ChainRefused;
export const readStepTokenIssued = CHAIN_READERS.StepTokenIssued;
export const readStepCertified = CHAIN_READERS.StepCertified;
export const readStepNonCompliant = CHAIN_READERS.StepNonCompliant;
export const readStepDeadlineMissed = CHAIN_READERS.StepDeadlineMissed;
export const readChainCompleted = CHAIN_READERS.ChainCompleted;
export const readChainFailed = CHAIN_READERS.ChainFailed;
export const readChainRetried = CHAIN_READERS.ChainRetried;
export const readEvidenceRecorded = EVIDENCE_READERS.EvidenceRecorded;

/** A chain event, typed; null for a type this code does not know; ShapeError naming the field. */
export const readChainEvent = eventReader(CHAIN_READERS);
export const readEvidenceEvent = eventReader(EVIDENCE_READERS);
