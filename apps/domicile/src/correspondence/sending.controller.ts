import { ApiOperation } from '@nestjs/swagger';
import { Access, party } from '@sigillum/auth';
import { RequestTraceparent } from '@sigillum/runtime';
import { Body, Controller, Headers, HttpStatus, Param, ParseUUIDPipe, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import { violationsError } from '../draft/draft.service';
import { SendDraftBody, SUBMISSION_KEY } from '../draft/draft.dto';
import { type AuthenticatedSession, CurrentSession } from '../session/session-credential.guard';
import { SendingService } from './sending.service';

/**
 * Sends a validated draft. The submission key (body `submissionKey` or header `Idempotency-Key`, 8-128 visible
 * ASCII) makes it idempotent: the first request answers 202 `{ correspondenceId, status, reasons? }` after waiting
 * up to SEND_AWAIT_MS for the delivery gate (`submitted` while it has not answered, `accepted`, `rejected`); a retry
 * with the same key answers 200 with the same correspondence's current state; the key on another draft is a 409.
 */
@Controller('drafts')
@Access(party())
export class SendingController {
  constructor(private readonly sending: SendingService) {}

  @Post(':draftId/sending')
  @ApiOperation({ summary: 'Sends a validated draft through the delivery gate (idempotent by submission key)' })
  async send(
    @Param('draftId', new ParseUUIDPipe()) draftId: string,
    @Body() body: SendDraftBody,
    @Headers('idempotency-key') header: string | undefined,
    @CurrentSession() session: AuthenticatedSession,
    @Res({ passthrough: true }) response: Response,
    @RequestTraceparent() traceparent: string | undefined,
  ) {
    const submissionKey = submissionKeyOf(body.submissionKey, header);
    const answer = await this.sending.send(session, draftId, submissionKey, traceparent);
    response.status(answer.created ? HttpStatus.ACCEPTED : HttpStatus.OK);
    response.setHeader('Location', `/correspondences/${answer.correspondenceId}`);
    const { created: _created, ...rest } = answer;
    return rest;
  }
}

function submissionKeyOf(fromBody: string | undefined, fromHeader: string | undefined): string {
  if (fromHeader !== undefined && !SUBMISSION_KEY.test(fromHeader)) {
    throw violationsError([
      { field: 'Idempotency-Key', rule: 'submission-key.format', message: 'Idempotency-Key must be 8 to 128 visible ASCII characters (e.g. a UUID)' },
    ]);
  }
  if (fromBody !== undefined && fromHeader !== undefined && fromBody !== fromHeader) {
    throw violationsError([
      { field: 'submissionKey', rule: 'submission-key.mismatch', message: 'submissionKey and the Idempotency-Key header differ; send one key' },
    ]);
  }
  const key = fromBody ?? fromHeader;
  if (key === undefined) {
    throw violationsError([
      {
        field: 'submissionKey',
        rule: 'isDefined',
        message: 'a submission key is required (body submissionKey or header Idempotency-Key), 8 to 128 visible ASCII characters',
      },
    ]);
  }
  return key;
}
