import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type Reason } from '@sigillum/contracts';
import { nameBasedId } from '@sigillum/runtime';
import { DRAFT_CONFIG, type DraftConfig } from '../draft/draft.config';
import { sendableValidation } from '../draft/draft.decider';
import { DraftService, type ExistingDraft } from '../draft/draft.service';
import type { AuthenticatedSession } from '../session/session-credential.guard';
import { CorrespondenceErrors, publicStatus, type CorrespondenceState } from './correspondence.decider';
import { CorrespondenceService } from './correspondence.service';

/** The correspondence a submission key names: the same sender and key always give the same id. */
export const correspondenceIdFor = (senderId: string, submissionKey: string) => nameBasedId(`submission:${senderId}:${submissionKey}`);

export interface SendingAnswer {
  /** false: the key had already been used for this draft; the answer is that first sending's current state. */
  readonly created: boolean;
  readonly correspondenceId: string;
  readonly status: 'submitted' | 'accepted' | 'rejected' | 'failed';
  readonly reasons?: readonly Reason[];
}

function answerOf(state: CorrespondenceState, created: boolean, correspondenceId: string): SendingAnswer {
  if (state.status === 'none') return { created, correspondenceId, status: 'submitted' };
  const status = publicStatus(state);
  if (state.status === 'rejected' || state.status === 'failed') return { created, correspondenceId, status, reasons: state.reasons };
  return { created, correspondenceId, status };
}

/**
 * Sending a validated draft, idempotently: the correspondence id is derived from (sender, submission key), so a
 * retried request finds the stream its first attempt created and answers its state — never a second correspondence.
 *
 * Order of writes: DraftSubmitted first, with the draft's revision as expected version (two different keys racing
 * on one draft: one wins, the other is refused), then SubmissionRequested on a new stream (`no-stream`). A crash
 * between the two is healed by the retry with the same key (the draft says which correspondence it went to).
 */
@Injectable()
export class SendingService {
  constructor(
    private readonly drafts: DraftService,
    private readonly correspondences: CorrespondenceService,
    @Inject(DRAFT_CONFIG) private readonly config: DraftConfig,
  ) {}

  async send(session: AuthenticatedSession, draftId: string, submissionKey: string, traceparent?: string): Promise<SendingAnswer> {
    const senderId = session.userId;
    const correspondenceId = correspondenceIdFor(senderId, submissionKey);
    const draft = await this.drafts.loadOwned(draftId, senderId);

    const existing = await this.correspondences.load(correspondenceId);
    if (existing.state.status !== 'none') {
      if (existing.state.draftId !== draftId) return reused();
      await this.healDraft(draft, existing.state.specimenDigest, correspondenceId, submissionKey, session, traceparent);
      return answerOf(existing.state, false, correspondenceId);
    }

    const context = this.drafts.newRequestContext(traceparent);
    // Sendability is the draft decider's (checkSendable): refused here before the kind and the specimen are looked
    // at, and decided whole by SubmitDraft before anything is written.
    const validation = sendableValidation(draft, correspondenceId);
    const kind = this.drafts.kindOf(draft.content.kind);
    const specimenDigest = this.drafts.specimenOf(draft).digest;
    await this.drafts.execute(
      draftId,
      { type: 'SubmitDraft', actorId: senderId, correspondenceId, submissionKey, specimenDigest, now: this.drafts.now() },
      context,
    );
    const result = await this.correspondences.execute(
      correspondenceId,
      {
        type: 'RequestSubmission',
        submission: {
          correspondenceId,
          draftId,
          submissionKey,
          senderId,
          sessionId: session.sessionId,
          recipientIds: [...draft.content.recipientIds],
          subject: draft.content.subject,
          kind: draft.content.kind,
          requiredLevel: kind.requiredLevel,
          consignment: kind.consignment,
          parts: draft.content.parts.map((part) => ({ ...part })),
          specimenDigest: validation.specimenDigest,
          validationProof: validation.proof,
          requestedAt: this.correspondences.now().toISOString(),
        },
      },
      context,
    );
    const created = result.events.length > 0;
    const state = await this.correspondences.awaitGate(correspondenceId, this.config.sendAwaitMs);
    return answerOf(state, created, correspondenceId);
  }

  /** A first attempt wrote the submission but not DraftSubmitted (crash in between): record it now. */
  private async healDraft(
    draft: ExistingDraft,
    specimenDigest: string,
    correspondenceId: string,
    submissionKey: string,
    session: AuthenticatedSession,
    traceparent: string | undefined,
  ): Promise<void> {
    if (draft.status !== 'validated' || draft.validation.specimenDigest !== specimenDigest) return;
    await this.drafts.execute(
      draft.draftId,
      { type: 'SubmitDraft', actorId: session.userId, correspondenceId, submissionKey, specimenDigest, now: this.drafts.now() },
      this.drafts.newRequestContext(traceparent),
    );
  }
}

function reused(): never {
  throw new DomainError(CorrespondenceErrors.submissionKeyReused, 'This submission key was already used for another draft', 'conflict', [
    { rule: 'submission-key.reused', message: 'Each sending needs its own submission key; this one already sent another draft' },
  ]);
}
