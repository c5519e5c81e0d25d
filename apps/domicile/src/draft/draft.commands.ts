import type { DraftContent, Reason } from '@sigillum/contracts';

// The draft's policy and commands (see draft.decider.ts).

//////// Policy (from DraftConfig)

export interface DraftRules {
  readonly maxRecipients: number;
  readonly maxParts: number;
  readonly maxSubjectLength: number;
  /** Names of the configured kinds of correspondence. */
  readonly kindNames: readonly string[];
}

//////// Commands

export type OpenDraft = {
  readonly type: 'OpenDraft';
  readonly draftId: string;
  readonly senderId: string;
  readonly sessionId: string;
  readonly content: DraftContent;
  readonly now: Date;
};
export type EditDraft = {
  readonly type: 'EditDraft';
  readonly actorId: string;
  readonly sessionId: string;
  readonly content: DraftContent;
  readonly now: Date;
};
/** `specimenDigest`: the digest of the specimen of the current content, computed by the handler. */
export type ShowSpecimen = { readonly type: 'ShowSpecimen'; readonly actorId: string; readonly specimenDigest: string; readonly now: Date };
export type ValidateDraft = {
  readonly type: 'ValidateDraft';
  readonly actorId: string;
  readonly sessionId: string;
  /** The digest the sender says it validates. */
  readonly specimenDigest: string;
  /** The digest of the specimen of the current content under the kind's current configuration. */
  readonly currentSpecimenDigest: string;
  readonly validatedAt: string;
  /** JWS by the domicile key over canonicalize({ draftId, sessionId, specimenDigest, validatedAt }). */
  readonly proof: string;
  readonly keyId: string;
};
export type SubmitDraft = {
  readonly type: 'SubmitDraft';
  readonly actorId: string;
  readonly correspondenceId: string;
  readonly submissionKey: string;
  /** The digest of the specimen sent: the draft's current content under its kind's current configuration, computed by the handler. */
  readonly specimenDigest: string;
  readonly now: Date;
};
/** From the correspondence: the delivery gate refused the submission. */
export type ReturnForEditing = {
  readonly type: 'ReturnForEditing';
  readonly correspondenceId: string;
  readonly reasons: readonly Reason[];
  readonly now: Date;
};
export type DiscardDraft = { readonly type: 'DiscardDraft'; readonly actorId: string; readonly now: Date };

export type DraftCommand = OpenDraft | EditDraft | ShowSpecimen | ValidateDraft | SubmitDraft | ReturnForEditing | DiscardDraft;
