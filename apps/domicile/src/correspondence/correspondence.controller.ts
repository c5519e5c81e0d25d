import { Access, party } from '@sigillum/auth';
import { RequestTraceparent } from '@sigillum/runtime';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Body, Controller, Get, HttpCode, HttpStatus, Inject, Logger, Param, ParseUUIDPipe, Post, Res } from '@nestjs/common';
import { ApiPropertyOptional, ApiOperation } from '@nestjs/swagger';
import { type CorrespondenceEvent, DomainError, type RecordedEvent } from '@sigillum/contracts';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { IsPlainText } from '@sigillum/runtime/text-rules';
import type { Response } from 'express';
import { CONTENT_STORE, type ContentStore, contentDigestOf, ContentNotFoundError } from '../content/content-store.port';
import { violationsError } from '../draft/draft.service';
import { type AuthenticatedSession, CurrentSession } from '../session/session-credential.guard';
import { CorrespondenceErrors, type CorrespondenceState, publicStatus, type RecipientState } from './correspondence.decider';
import { CorrespondenceService } from './correspondence.service';

export class RefusalBody {
  @ApiPropertyOptional({ maxLength: 1000, description: "the recipient's reason, recorded with the refusal" })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  @IsPlainText()
  reason?: string;
}

type Existing = Exclude<CorrespondenceState, { status: 'none' }>;
type Viewer = { readonly role: 'sender' } | { readonly role: 'recipient'; readonly recipientId: string };

function notFound(): never {
  throw new DomainError(CorrespondenceErrors.notFound, 'No such correspondence', 'not-found', [
    { rule: 'correspondence.unknown', message: 'No correspondence has this id' },
  ]);
}

function recipientStateOf(state: Existing, recipientId: string): RecipientState {
  return state.status === 'in-progress' || state.status === 'failed'
    ? (state.recipients[recipientId] ?? { status: 'awaiting-delivery' })
    : { status: 'awaiting-delivery' };
}

/** Sender: always; a recipient: once the correspondence was delivered to it; anyone else: 403. */
function viewerOf(state: Existing, userId: string): Viewer {
  if (state.senderId === userId) return { role: 'sender' };
  if (!state.recipientIds.includes(userId)) {
    throw new DomainError(CorrespondenceErrors.notRecipient, 'This correspondence is not yours', 'forbidden', [
      { rule: 'correspondence.not-party', message: 'Only the sender and the recipients of a correspondence may see it' },
    ]);
  }
  if (recipientStateOf(state, userId).status === 'awaiting-delivery') {
    throw new DomainError(CorrespondenceErrors.notDelivered, 'The correspondence has not been delivered to you yet', 'forbidden', [
      { rule: 'not-delivered', message: 'A recipient sees a correspondence once it is delivered to its inbox' },
    ]);
  }
  return { role: 'recipient', recipientId: userId };
}

function recipientView(recipient: RecipientState) {
  if (recipient.status === 'awaiting-delivery') return { status: recipient.status };
  const answeredAt =
    recipient.status === 'accepted'
      ? recipient.acceptedAt
      : recipient.status === 'refused'
        ? recipient.refusedAt
        : recipient.status === 'expired'
          ? recipient.expiredAt
          : null;
  return {
    status: recipient.status,
    deliveredAt: recipient.deliveredAt,
    acceptBy: recipient.acceptBy,
    answeredAt,
    handedOverAt: recipient.handedOverAt,
    ...(recipient.status === 'refused' ? { reason: recipient.reason } : {}),
  };
}

/** What a viewer may read of each event: a recipient sees the common steps and its own, never the sender's session or keys. */
interface HistoryEntry {
  readonly revision: number;
  readonly type: CorrespondenceEvent['type'];
  readonly occurredAt: string;
  readonly data: unknown;
}

function historyFor(history: readonly RecordedEvent<CorrespondenceEvent>[], viewer: Viewer): HistoryEntry[] {
  return history.flatMap(({ event, streamRevision, metadata }): HistoryEntry[] => {
    const entry = { revision: streamRevision, type: event.type, occurredAt: metadata.occurredAt };
    if (viewer.role === 'sender') return [{ ...entry, data: event.data }];
    const data = event.data as { recipientId?: string };
    if (data.recipientId !== undefined && data.recipientId !== viewer.recipientId) return [];
    switch (event.type) {
      case 'SubmissionRequested': {
        const { correspondenceId, senderId, recipientIds, subject, kind, requiredLevel, consignment, parts, specimenDigest, validationProof, requestedAt } =
          event.data;
        return [
          {
            ...entry,
            data: { correspondenceId, senderId, recipientIds, subject, kind, requiredLevel, consignment, parts, specimenDigest, validationProof, requestedAt },
          },
        ];
      }
      case 'SubmissionRejected':
        return []; // never seen by a recipient: nothing was delivered
      default:
        return [{ ...entry, data: event.data }];
    }
  });
}

export function correspondenceView(state: Existing, history: readonly RecordedEvent<CorrespondenceEvent>[], viewer: Viewer) {
  const processing = state.status === 'in-progress' || state.status === 'failed';
  const recipients =
    viewer.role === 'sender'
      ? Object.fromEntries(state.recipientIds.map((id) => [id, recipientView(recipientStateOf(state, id))]))
      : { [viewer.recipientId]: recipientView(recipientStateOf(state, viewer.recipientId)) };
  return {
    correspondenceId: state.correspondenceId,
    status: publicStatus(state),
    senderId: state.senderId,
    recipientIds: state.recipientIds,
    subject: state.subject,
    kind: state.kind,
    requiredLevel: state.requiredLevel,
    consignment: state.consignment,
    parts: state.parts.map((part) => ({ ...part, digest: `sha256:${part.digest}` })),
    specimenDigest: state.specimenDigest,
    validationProof: state.validationProof,
    requestedAt: state.requestedAt,
    ...(viewer.role === 'sender' ? { draftId: state.draftId, submissionKey: state.submissionKey } : {}),
    ...(processing ? { checkId: state.checkId, acceptedAt: state.acceptedAt, archive: state.archive } : {}),
    ...(state.status === 'rejected' ? { reasons: state.reasons, rejectedAt: state.rejectedAt } : {}),
    ...(state.status === 'failed' ? { reasons: state.reasons, failedAt: state.failedAt } : {}),
    recipients,
    history: historyFor(history, viewer),
  };
}

/**
 * A correspondence for its parties: status with full history, the recipient's answer, and the content parts.
 * Every route needs the party's own open session (claim 1); the route parameter is `:correspondenceId`.
 */
@Controller('correspondences')
@Access(party())
export class CorrespondenceController {
  private readonly log = new Logger('Correspondences');

  constructor(
    private readonly correspondences: CorrespondenceService,
    @Inject(CONTENT_STORE) private readonly contents: ContentStore,
  ) {}

  @Get(':correspondenceId')
  @ApiOperation({ summary: 'One correspondence the caller sent or received' })
  async view(@Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string, @CurrentSession() session: AuthenticatedSession) {
    const { state, history } = await this.correspondences.load(correspondenceId);
    if (state.status === 'none') return notFound();
    return correspondenceView(state, history, viewerOf(state, session.userId));
  }

  /** The recipient accepts: 200; 409 `not-delivered`, `window.expired`, `already-answered`; the same answer again is a 200. */
  @Post(':correspondenceId/acceptance')
  @ApiOperation({ summary: 'The recipient accepts the correspondence (consent mode)' })
  @HttpCode(HttpStatus.OK)
  async accept(
    @Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string,
    @CurrentSession() session: AuthenticatedSession,
    @RequestTraceparent() traceparent: string | undefined,
  ) {
    const result = await this.correspondences.execute(
      correspondenceId,
      { type: 'Accept', recipientId: session.userId, sessionId: session.sessionId, now: this.correspondences.now() },
      this.correspondences.newRequestContext(traceparent),
    );
    return { correspondenceId, recipientId: session.userId, ...recipientView(recipientStateOf(result.state as Existing, session.userId)) };
  }

  /** The recipient refuses (optionally saying why): same rules as acceptance. */
  @Post(':correspondenceId/refusal')
  @ApiOperation({ summary: 'The recipient refuses the correspondence' })
  @HttpCode(HttpStatus.OK)
  async refuse(
    @Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string,
    @Body() body: RefusalBody,
    @CurrentSession() session: AuthenticatedSession,
    @RequestTraceparent() traceparent: string | undefined,
  ) {
    const result = await this.correspondences.execute(
      correspondenceId,
      { type: 'Refuse', recipientId: session.userId, sessionId: session.sessionId, reason: body.reason ?? null, now: this.correspondences.now() },
      this.correspondences.newRequestContext(traceparent),
    );
    return { correspondenceId, recipientId: session.userId, ...recipientView(recipientStateOf(result.state as Existing, session.userId)) };
  }

  /**
   * Streams a content part. The sender may always read its own parts; a recipient only once delivered, and in
   * consent mode only once it accepted (403 `consent.required`). A recipient's first retrieval records
   * ContentHandedOver (before the first byte leaves).
   */
  @Get(':correspondenceId/parts/:digest')
  @ApiOperation({ summary: 'A content part of a correspondence, handed over after acceptance' })
  async part(
    @Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string,
    @Param('digest') raw: string,
    @CurrentSession() session: AuthenticatedSession,
    @Res() response: Response,
    @RequestTraceparent() traceparent: string | undefined,
  ): Promise<void> {
    const match = /^(?:sha256:)?([0-9a-f]{64})$/.exec(raw);
    if (!match)
      throw violationsError([{ field: 'digest', rule: 'content.digest', message: 'digest must be "sha256:" followed by 64 lowercase hexadecimal digits' }]);
    const { state } = await this.correspondences.load(correspondenceId);
    if (state.status === 'none') return notFound();
    const isSender = state.senderId === session.userId;
    if (!isSender && !state.recipientIds.includes(session.userId)) viewerOf(state, session.userId); // 403 for anyone else
    const part = state.parts.find((candidate) => candidate.digest === match[1]);
    if (!part) {
      throw new DomainError('CORRESPONDENCE.PART_NOT_FOUND', 'This correspondence has no such part', 'not-found', [
        { rule: 'part.unknown', message: 'No part of this correspondence has this digest' },
      ]);
    }
    const digest = contentDigestOf(part.digest);
    if (!(await this.contents.stat(digest))) {
      // Never record a hand-over of bytes the store no longer has.
      this.log.error(`Part ${digest} of correspondence ${correspondenceId} is missing from the content store`);
      throw new ContentNotFoundError(digest);
    }
    if (!isSender) {
      // Refused (403 not-delivered / consent.required) or recorded: the first retrieval is the hand-over.
      await this.correspondences.execute(
        correspondenceId,
        { type: 'HandOverContent', recipientId: session.userId, sessionId: session.sessionId, now: this.correspondences.now() },
        this.correspondences.newRequestContext(traceparent),
      );
    }
    const stream: Readable = await this.contents.get(digest);
    response.status(200);
    response.setHeader('Content-Type', part.contentType);
    response.setHeader('Content-Length', String(part.size));
    response.setHeader('ETag', `"${digest}"`);
    response.setHeader('Repr-Digest', `sha-256=:${Buffer.from(part.digest, 'hex').toString('base64')}:`);
    response.setHeader('Content-Disposition', `attachment; filename*=UTF-8''${encodeURIComponent(part.name)}`);
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('Cache-Control', 'private, no-store');
    try {
      await pipeline(stream, response);
    } catch (error) {
      if (!response.destroyed) response.destroy();
      if ((error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') this.log.error(`Streaming ${digest} failed: ${(error as Error).message}`);
    }
  }
}
