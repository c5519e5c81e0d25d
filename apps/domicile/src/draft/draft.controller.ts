import { ApiOperation } from '@nestjs/swagger';
import { Access, party } from '@sigillum/auth';
import { RequestTraceparent } from '@sigillum/runtime';
import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Post, Put } from '@nestjs/common';
import { type AuthenticatedSession, CurrentSession } from '../session/session-credential.guard';
import { DraftBody, ValidateDraftBody } from './draft.dto';
import { DraftService, draftView } from './draft.service';

/**
 * The sender's drafts (private office). Every route needs an open session — `Authorization: Bearer <credential>`
 * and `X-Sigillum-Session: <sessionId>` — and acts for the session's user; someone else's draft is a 403.
 * (The route parameter is `:draftId`, not `:id`: the session guard reads `:id` as the session id.)
 */
@Controller('drafts')
@Access(party())
export class DraftController {
  constructor(private readonly drafts: DraftService) {}

  /** Opens a draft: 201 with the draft; 400 naming `parts[i].digest` for a content you did not upload. */
  @Post()
  @ApiOperation({ summary: "Opens a draft in the caller's private office" })
  async open(@Body() body: DraftBody, @CurrentSession() session: AuthenticatedSession, @RequestTraceparent() traceparent: string | undefined) {
    return draftView(await this.drafts.open(session, body, traceparent));
  }

  @Get(':draftId')
  @ApiOperation({ summary: 'One draft of the caller' })
  async view(@Param('draftId', new ParseUUIDPipe()) draftId: string, @CurrentSession() session: AuthenticatedSession) {
    return draftView(await this.drafts.loadOwned(draftId, session.userId));
  }

  /** Replaces the whole content; voids the specimen shown and any validation (the same content again changes nothing). */
  @Put(':draftId')
  @ApiOperation({ summary: 'Edits a draft of the caller' })
  async edit(
    @Param('draftId', new ParseUUIDPipe()) draftId: string,
    @Body() body: DraftBody,
    @CurrentSession() session: AuthenticatedSession,
    @RequestTraceparent() traceparent: string | undefined,
  ) {
    return draftView(await this.drafts.edit(session, draftId, body, traceparent));
  }

  @Delete(':draftId')
  @ApiOperation({ summary: 'Discards a draft of the caller' })
  @HttpCode(HttpStatus.NO_CONTENT)
  async discard(
    @Param('draftId', new ParseUUIDPipe()) draftId: string,
    @CurrentSession() session: AuthenticatedSession,
    @RequestTraceparent() traceparent: string | undefined,
  ): Promise<void> {
    await this.drafts.discard(session, draftId, traceparent);
  }

  /**
   * Shows the specimen: the RFC 8785 canonical JSON of the draft as it would be sent (`specimen`, the exact text
   * hashed) and its SHA-256 (`specimenDigest`), which validation must name.
   */
  @Post(':draftId/specimen')
  @ApiOperation({ summary: 'Shows the specimen of a draft (the exact content to validate)' })
  @HttpCode(HttpStatus.OK)
  async specimen(
    @Param('draftId', new ParseUUIDPipe()) draftId: string,
    @CurrentSession() session: AuthenticatedSession,
    @RequestTraceparent() traceparent: string | undefined,
  ) {
    const { shown, shownAt } = await this.drafts.showSpecimen(session, draftId, traceparent);
    return { draftId, specimen: shown.canonical, specimenDigest: shown.digest, digestAlgorithm: 'SHA-256', canonicalization: 'urn:ietf:rfc:8785', shownAt };
  }

  /**
   * Validates the specimen last shown: 201 with the proof (compact JWS, EdDSA, `kid` = a key of GET /domicile/keys)
   * over canonicalize({ draftId, sessionId, specimenDigest, validatedAt }); 409 `specimen.stale` otherwise.
   */
  @Post(':draftId/validation')
  @ApiOperation({ summary: 'Validates the specimen: the validation proof binds its digest, the session and the time' })
  async validate(
    @Param('draftId', new ParseUUIDPipe()) draftId: string,
    @Body() body: ValidateDraftBody,
    @CurrentSession() session: AuthenticatedSession,
    @RequestTraceparent() traceparent: string | undefined,
  ) {
    const state = await this.drafts.validate(session, draftId, body.specimenDigest, traceparent);
    if (state.status !== 'validated' && state.status !== 'submitted') return draftView(state);
    return { draftId, status: state.status, ...state.validation };
  }
}
