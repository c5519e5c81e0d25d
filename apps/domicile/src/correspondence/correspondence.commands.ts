import type { Reason, SubmissionRequested } from '@sigillum/contracts';

// The commands of a correspondence stream (see correspondence.decider.ts).

//////// Commands

export type RequestSubmission = { readonly type: 'RequestSubmission'; readonly submission: SubmissionRequested['data'] };
/** From the certifier's ChainStarted: the delivery gate passed. */
export type RecordGatePassed = { readonly type: 'RecordGatePassed'; readonly checkId: string; readonly acceptedAt: string };
/** From the certifier's ChainRefused. */
export type RecordGateRefused = {
  readonly type: 'RecordGateRefused';
  readonly checkId: string | null;
  readonly reasons: readonly Reason[];
  readonly rejectedAt: string;
};
/** From StepCertified of the `deliver` (or `print-and-post`) step. */
export type RecordDelivery = { readonly type: 'RecordDelivery'; readonly tokenId: string; readonly deliveredAt: string; readonly windowSeconds: number };
/** From StepCertified of the `archive` step and the operator's report. */
export type RecordArchive = {
  readonly type: 'RecordArchive';
  readonly tokenId: string;
  readonly safes: readonly { readonly ownerId: string; readonly retainUntil: string }[];
  readonly packageDigest: string;
  readonly archivedAt: string;
};
/** From the certifier's ChainFailed. */
export type RecordChainFailure = { readonly type: 'RecordChainFailure'; readonly reasons: readonly Reason[]; readonly failedAt: string };
export type Accept = { readonly type: 'Accept'; readonly recipientId: string; readonly sessionId: string; readonly now: Date };
export type Refuse = { readonly type: 'Refuse'; readonly recipientId: string; readonly sessionId: string; readonly reason: string | null; readonly now: Date };
/** From the durable timer due at `acceptBy`. */
export type ExpireWindow = { readonly type: 'ExpireWindow'; readonly recipientId: string; readonly now: Date };
/** The recipient asks for the content: allowed or refused here, recorded the first time. */
export type HandOverContent = { readonly type: 'HandOverContent'; readonly recipientId: string; readonly sessionId: string; readonly now: Date };

export type CorrespondenceCommand =
  | RequestSubmission
  | RecordGatePassed
  | RecordGateRefused
  | RecordDelivery
  | RecordArchive
  | RecordChainFailure
  | Accept
  | Refuse
  | ExpireWindow
  | HandOverContent;
