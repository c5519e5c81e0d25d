import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import {
  CLOCK,
  type Clock,
  type ContentPartRef,
  type CorrespondenceKind,
  DomainError,
  DRAFT_CATEGORY,
  type DraftContent,
  type DraftEvent,
  ID_GENERATOR,
  type IdGenerator,
  streamIdOf,
} from '@sigillum/contracts';
import {
  type CommandContext,
  commandHandler,
  type CommandResult,
  EVENT_STORE,
  type EventStore,
  type HandleCommand,
  requestContext,
} from '@sigillum/eventstore';
import { ContentAccessStore } from '../content/content-access.store';
import { CONTENT_STORE, type ContentStore, contentDigestOf, normalizeMediaType } from '../content/content-store.port';
import type { AuthenticatedSession } from '../session/session-credential.guard';
import { DOMICILE_SOURCE } from '../session/session.service';
import { DOMICILE_SIGNER, type DomicileSigner } from '../signing/domicile-signer';
import { DRAFT_CONFIG, type DraftConfig } from './draft.config';
import { type DraftCommand, draftDecider, DraftErrors, type DraftRules, type DraftState, type DraftViolation, draftViolations } from './draft.decider';
import type { ContentPartBody, DraftBody } from './draft.dto';
import { type ShownSpecimen, specimenOf } from './specimen';

export const draftStreamId = (draftId: string) => streamIdOf(DRAFT_CATEGORY, draftId);

export type ExistingDraft = Exclude<DraftState, { status: 'none' }>;

/** 400 in the shape of the strict ValidationPipe: every violation names its field and rule; nothing was written. */
export function violationsError(violations: readonly DraftViolation[]): BadRequestException {
  return new BadRequestException({
    statusCode: 400,
    error: 'Bad Request',
    message: 'The request does not match the expected shape; see violations.',
    violations,
  });
}

/**
 * The sender's drafts: resolves the parts against the content store, runs the draft decider against the event
 * store (fold, decide, append with optimistic concurrency), shows specimens and signs validations.
 */
@Injectable()
export class DraftService {
  readonly rules: DraftRules;
  private readonly handle: HandleCommand<DraftCommand, DraftState, DraftEvent>;
  private readonly decider;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    @Inject(DRAFT_CONFIG) readonly config: DraftConfig,
    @Inject(CONTENT_STORE) private readonly contents: ContentStore,
    private readonly access: ContentAccessStore,
    @Inject(DOMICILE_SIGNER) private readonly signer: DomicileSigner,
  ) {
    this.rules = {
      maxRecipients: config.maxRecipients,
      maxParts: config.maxParts,
      maxSubjectLength: config.maxSubjectLength,
      kindNames: config.kinds.map((k) => k.name),
    };
    this.decider = draftDecider(this.rules);
    this.handle = commandHandler(this.decider, { store, clock, ids, source: DOMICILE_SOURCE });
  }

  now(): Date {
    return this.clock.now();
  }

  /** The context of a command an HTTP request asks for (`traceparent`: the request's, so its events carry its trace). */
  newRequestContext(traceparent?: string): CommandContext {
    return requestContext(this.ids.next(), traceparent);
  }

  /** The configured kind of this name (the config was validated at start; a draft only names configured kinds). */
  kindOf(name: string): CorrespondenceKind {
    const kind = this.config.kinds.find((candidate) => candidate.name === name);
    if (!kind) {
      // The kind was removed from the configuration after the draft was written.
      throw new DomainError(DraftErrors.invalid, `The kind "${name}" is no longer configured`, 'conflict', [
        { rule: 'kind.unknown', message: `The kind "${name}" is no longer configured; edit the draft to choose another` },
      ]);
    }
    return kind;
  }

  execute(draftId: string, command: DraftCommand, context: CommandContext): Promise<CommandResult<DraftState, DraftEvent>> {
    return this.handle(draftStreamId(draftId), command, context);
  }

  async load(draftId: string): Promise<DraftState> {
    return (await this.handle.load(draftStreamId(draftId))).state;
  }

  /** The draft, if it exists (404) and is the user's (403). */
  async loadOwned(draftId: string, userId: string): Promise<ExistingDraft> {
    const state = await this.load(draftId);
    if (state.status === 'none') {
      throw new DomainError(DraftErrors.notFound, 'No such draft', 'not-found', [{ rule: 'draft.unknown', message: 'No draft has this id' }]);
    }
    if (state.senderId !== userId) {
      throw new DomainError(DraftErrors.forbidden, 'This draft is not yours', 'forbidden', [
        { rule: 'draft.not-yours', message: 'Only the sender who opened a draft may see or change it' },
      ]);
    }
    return state;
  }

  /**
   * The body as the log keeps it: digests as bare hex, media types normalised, sizes from the content store. A
   * part must be stored and uploaded by the sender itself (knowing a digest is not owning the content); any
   * problem is a 400 naming `parts[i].<field>`, checked before anything is written.
   */
  async resolveContent(senderId: string, body: DraftBody): Promise<DraftContent> {
    const violations: DraftViolation[] = [];
    const parts: ContentPartRef[] = [];
    for (const [index, part] of body.parts.entries()) parts.push(await this.resolvePart(senderId, part, index, violations));
    const content: DraftContent = { recipientIds: [...body.recipientIds], subject: body.subject, kind: body.kind, parts };
    violations.push(
      ...draftViolations(senderId, content, this.rules).filter((v) => !violations.some((seen) => seen.field === v.field && seen.rule === v.rule)),
    );
    if (violations.length > 0) throw violationsError(violations);
    return content;
  }

  private async resolvePart(senderId: string, part: ContentPartBody, index: number, violations: DraftViolation[]): Promise<ContentPartRef> {
    const hex = part.digest.startsWith('sha256:') ? part.digest.slice('sha256:'.length) : part.digest;
    let contentType = part.contentType;
    try {
      contentType = normalizeMediaType(part.contentType);
    } catch {
      violations.push({
        field: `parts[${index}].contentType`,
        rule: 'content.media-type',
        message: 'contentType must be a media type such as "application/pdf"',
      });
    }
    const digest = contentDigestOf(hex);
    const stat = this.access.grantOf(digest, senderId) ? await this.contents.stat(digest) : undefined;
    if (!stat) {
      // Unknown and not-uploaded-by-you answer alike: the answer must not tell whether someone else stored it.
      violations.push({ field: `parts[${index}].digest`, rule: 'content.unknown', message: 'no content you uploaded (PUT /contents) has this digest' });
      return { digest: hex, size: -1, contentType, name: part.name };
    }
    return { digest: hex, size: stat.size, contentType, name: part.name };
  }

  async open(session: AuthenticatedSession, body: DraftBody, traceparent?: string): Promise<ExistingDraft> {
    const content = await this.resolveContent(session.userId, body);
    const draftId = this.ids.next();
    const result = await this.execute(
      draftId,
      { type: 'OpenDraft', draftId, senderId: session.userId, sessionId: session.sessionId, content, now: this.now() },
      this.newRequestContext(traceparent),
    );
    return result.state as ExistingDraft;
  }

  async edit(session: AuthenticatedSession, draftId: string, body: DraftBody, traceparent?: string): Promise<ExistingDraft> {
    await this.loadOwned(draftId, session.userId); // 404 / 403 before the parts are looked at
    const content = await this.resolveContent(session.userId, body);
    const result = await this.execute(
      draftId,
      { type: 'EditDraft', actorId: session.userId, sessionId: session.sessionId, content, now: this.now() },
      this.newRequestContext(traceparent),
    );
    return result.state as ExistingDraft;
  }

  async discard(session: AuthenticatedSession, draftId: string, traceparent?: string): Promise<void> {
    await this.loadOwned(draftId, session.userId);
    await this.execute(draftId, { type: 'DiscardDraft', actorId: session.userId, now: this.now() }, this.newRequestContext(traceparent));
  }

  /** The specimen of the draft as it stands, under its kind's current configuration. */
  specimenOf(draft: ExistingDraft): ShownSpecimen {
    return specimenOf(draft.draftId, draft.senderId, draft.content, this.kindOf(draft.content.kind));
  }

  async showSpecimen(
    session: AuthenticatedSession,
    draftId: string,
    traceparent?: string,
  ): Promise<{ shown: ShownSpecimen; state: ExistingDraft; shownAt: string }> {
    const draft = await this.loadOwned(draftId, session.userId);
    const shown = this.specimenOf(draft);
    const now = this.now();
    const result = await this.execute(
      draftId,
      { type: 'ShowSpecimen', actorId: session.userId, specimenDigest: shown.digest, now },
      this.newRequestContext(traceparent),
    );
    const recorded = result.events.find((event) => event.type === 'SpecimenShown');
    return { shown, state: result.state as ExistingDraft, shownAt: recorded?.type === 'SpecimenShown' ? recorded.data.shownAt : now.toISOString() };
  }

  /**
   * Validation: the proof is a JWS by the domicile key over canonicalize({ draftId, sessionId, specimenDigest,
   * validatedAt }); the decider keeps it only if the digest is the specimen last shown of the current content.
   */
  async validate(session: AuthenticatedSession, draftId: string, specimenDigest: string, traceparent?: string): Promise<ExistingDraft> {
    const draft = await this.loadOwned(draftId, session.userId);
    if (draft.status === 'validated' && draft.validation.specimenDigest === specimenDigest) return draft; // retried: the first proof stands
    const currentSpecimenDigest = draft.status === 'discarded' || draft.status === 'submitted' ? '' : this.specimenOf(draft).digest;
    const validatedAt = this.now().toISOString();
    const proof = await this.signer.signAsync({ draftId, sessionId: session.sessionId, specimenDigest, validatedAt });
    const result = await this.execute(
      draftId,
      {
        type: 'ValidateDraft',
        actorId: session.userId,
        sessionId: session.sessionId,
        specimenDigest,
        currentSpecimenDigest,
        validatedAt,
        proof,
        keyId: this.signer.keyId,
      },
      this.newRequestContext(traceparent),
    );
    return result.state as ExistingDraft;
  }
}

/** The draft as its sender sees it. */
export function draftView(state: ExistingDraft) {
  const base = {
    draftId: state.draftId,
    senderId: state.senderId,
    status: state.status,
    recipientIds: state.content.recipientIds,
    subject: state.content.subject,
    kind: state.content.kind,
    parts: state.content.parts.map((part) => ({ ...part, digest: `sha256:${part.digest}` })),
    openedAt: state.openedAt,
    updatedAt: state.updatedAt,
  };
  switch (state.status) {
    case 'editing':
      return { ...base, specimenDigest: state.shownSpecimenDigest, validation: null, returned: state.returned };
    case 'validated':
      return { ...base, specimenDigest: state.shownSpecimenDigest, validation: state.validation, returned: state.returned };
    case 'submitted':
      return { ...base, specimenDigest: state.validation.specimenDigest, validation: state.validation, submission: state.submission };
    case 'discarded':
      return { ...base, discardedAt: state.discardedAt };
  }
}
