import { ApiOperation } from '@nestjs/swagger';
import { Access, party } from '@sigillum/auth';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BadRequestException,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  HttpStatus,
  Inject,
  Logger,
  Param,
  PayloadTooLargeException,
  Put,
  Req,
  Res,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { CLOCK, type Clock, DomainError } from '@sigillum/contracts';
import type { Request, Response } from 'express';
import { type AuthenticatedSession, CurrentSession } from '../session/session-credential.guard';
import { ContentAccessStore } from './content-access.store';
import { CONTENT_CONFIG, type ContentConfig } from './content.config';
import {
  CONTENT_STORE,
  type ContentDigest,
  ContentErrors,
  ContentNotFoundError,
  type ContentStore,
  ContentTooLargeError,
  digestHex,
  isContentDigest,
  normalizeMediaType,
  type StoredContent,
} from './content-store.port';
import { declaredContentType } from './content-upload-body';

/** After a refusal, read at most this much more of an oversized upload (so the client sees the 413), then hang up. */
export const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * The private office's content parts: `PUT /contents` streams the raw body (any Content-Type) into the content store
 * and answers its digest; `GET /contents/:digest` streams it back to a user allowed to read it. Both need an open
 * session: `Authorization: Bearer <credential>` and `X-Sigillum-Session: <sessionId>`.
 */
@Controller('contents')
@Access(party())
export class ContentController {
  private readonly log = new Logger('Contents');

  constructor(
    @Inject(CONTENT_STORE) private readonly store: ContentStore,
    @Inject(CONTENT_CONFIG) private readonly config: ContentConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly access: ContentAccessStore,
  ) {}

  @Put()
  @ApiOperation({ summary: 'Uploads a content part into the private office; answers its digest' })
  @HttpCode(HttpStatus.CREATED)
  async upload(
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
    @CurrentSession() session: AuthenticatedSession,
  ): Promise<StoredContent> {
    const limit = this.config.maxBytes;
    const mediaType = this.mediaTypeOf(request);
    if (request.readableDidRead || request.readableEnded) {
      throw new UnsupportedMediaTypeException({
        statusCode: 415,
        message: 'The upload body was consumed by a body parser; send it as application/octet-stream (or another type than JSON/form).',
        violations: [{ field: 'content-type', rule: 'content.raw-body', message: 'this Content-Type cannot be uploaded on this server' }],
      });
    }
    const declaredLength = Number(request.headers['content-length']);
    if (Number.isFinite(declaredLength) && declaredLength > limit) return this.refuseTooLarge(request, response, limit);

    const body = new PassThrough({ highWaterMark: 64 * 1024 });
    const interrupted = () => {
      if (!request.complete) body.destroy(new UploadInterruptedError());
    };
    request.once('aborted', interrupted);
    request.once('close', interrupted);
    request.once('error', interrupted);
    request.pipe(body);
    let stored: StoredContent;
    try {
      stored = await this.store.put(body, { maxBytes: limit, declaredMediaType: mediaType });
    } catch (error) {
      request.unpipe(body);
      if (error instanceof ContentTooLargeError) return this.refuseTooLarge(request, response, limit);
      if (error instanceof UploadInterruptedError) throw new BadRequestException({ statusCode: 400, message: error.message });
      throw error;
    } finally {
      request.off('aborted', interrupted);
      request.off('close', interrupted);
      request.off('error', interrupted);
    }
    this.access.recordUpload({ digest: stored.digest, userId: session.userId, mediaType: stored.mediaType, size: stored.size, at: this.clock.now() });
    response.setHeader('Location', `/contents/${stored.digest}`);
    return { digest: stored.digest, size: stored.size, mediaType: stored.mediaType };
  }

  @Get(':digest')
  @ApiOperation({ summary: "Downloads a content part of the caller's own office by digest" })
  async download(@Param('digest') raw: string, @CurrentSession() session: AuthenticatedSession, @Res() response: Response): Promise<void> {
    if (!isContentDigest(raw)) {
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: 'The request does not match the expected shape; see violations.',
        violations: [{ field: 'digest', rule: 'content.digest', message: 'digest must be "sha256:" followed by 64 lowercase hexadecimal digits' }],
      });
    }
    const digest: ContentDigest = raw;
    const stat = await this.store.stat(digest);
    // Unknown content, or only granted to others: the brief distinguishes 404 and 403 (see the report on this oracle).
    if (!stat) throw new ContentNotFoundError(digest);
    const grant = this.access.grantOf(digest, session.userId);
    if (!grant) {
      throw new ForbiddenException({
        statusCode: 403,
        code: ContentErrors.forbidden,
        message: 'This content is not yours to read',
        reasons: [
          { rule: 'content.not-granted', message: 'Only the user who uploaded a content (or, later, a party of a correspondence referencing it) may read it' },
        ],
      });
    }
    const stream: Readable = await this.store.get(digest);
    response.status(200);
    response.setHeader('Content-Type', grant.mediaType);
    response.setHeader('Content-Length', String(stat.size));
    response.setHeader('ETag', `"${digest}"`);
    response.setHeader('Repr-Digest', `sha-256=:${Buffer.from(digestHex(digest), 'hex').toString('base64')}:`);
    response.setHeader('Content-Disposition', 'attachment');
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('Cache-Control', 'private, no-store');
    try {
      await pipeline(stream, response);
    } catch (error) {
      // The status line is gone: all that is left is to cut the response short, which the client sees as an error.
      if (!response.destroyed) response.destroy();
      if ((error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
        this.log.error(`Streaming ${digest} failed: ${(error as Error).message}`);
      }
    }
  }

  private mediaTypeOf(request: Request): string {
    try {
      return normalizeMediaType(declaredContentType(request));
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: 'The request does not match the expected shape; see violations.',
        violations: [
          { field: 'content-type', rule: 'content.media-type', message: error.reasons.map((r) => (typeof r === 'string' ? r : r.message)).join('; ') },
        ],
      });
    }
  }

  /**
   * 413 with `{statusCode, message, limit}`. The rest of the body is read and dropped first (up to DRAIN_LIMIT_BYTES)
   * so that the client, still sending, gets the answer rather than a reset; beyond that the connection is closed.
   */
  private async refuseTooLarge(request: Request, response: Response, limit: number): Promise<never> {
    const drained = await discardRest(request, DRAIN_LIMIT_BYTES);
    if (!drained) response.setHeader('Connection', 'close');
    throw new PayloadTooLargeException({
      statusCode: 413,
      code: 'CONTENT.TOO_LARGE',
      message: `The content is larger than the limit of ${limit} bytes; nothing was stored.`,
      limit,
    });
  }
}

class UploadInterruptedError extends Error {
  constructor() {
    super('The client closed the connection before the end of the upload; nothing was stored.');
    this.name = 'UploadInterruptedError';
  }
}

/** Reads the rest of a request and drops it; false when it had more than `capBytes` left or broke off. */
function discardRest(request: Request, capBytes: number): Promise<boolean> {
  if (request.readableEnded || request.complete) return Promise.resolve(true);
  return new Promise((resolve) => {
    let seen = 0;
    const done = (result: boolean) => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onFail);
      request.off('close', onFail);
      if (!result) request.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > capBytes) done(false);
    };
    const onEnd = () => done(true);
    const onFail = () => done(request.complete);
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onFail);
    request.on('close', onFail);
    request.resume();
  });
}
