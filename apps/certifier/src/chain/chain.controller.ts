import { Access, CurrentPrincipal, type Principal, publicRoute, staff } from '@sigillum/auth';
import { RequestTraceparent } from '@sigillum/runtime';
import { requestContext } from '@sigillum/eventstore';
import { Body, Controller, Get, HttpCode, HttpStatus, Inject, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { type CorrespondenceKind, ID_GENERATOR, type IdGenerator } from '@sigillum/contracts';
import { type RetryAccepted, RetryChainBody } from './chain.dto';
import { ChainService } from './chain.service';
import { type ChainView, chainView, type JobFacts } from './chain.view';

/** The certified processing chains, as the certifier records them, and the kinds of correspondence it runs. */
@ApiTags('chains')
@Controller()
export class ChainController {
  constructor(
    private readonly chains: ChainService,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  @Get('chains/:correspondenceId')
  @Access(staff('ops', 'auditor', 'admin'))
  @ApiOperation({
    summary: 'The certified chain of a correspondence: every step, every token (issued, acknowledged, returned, certified), operators, digests, status',
  })
  @ApiParam({ name: 'correspondenceId', format: 'uuid' })
  @ApiOkResponse({ description: 'The chain (status refused, running, completed or failed) with its steps and tokens' })
  @ApiBadRequestResponse({ description: 'correspondenceId is not a UUID' })
  @ApiNotFoundResponse({ description: 'No chain for this correspondence (never submitted, or not yet seen by the certifier)' })
  async chain(@Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string): Promise<ChainView> {
    const state = await this.chains.require(correspondenceId);
    const jobs = new Map<string, JobFacts>();
    if (state.status !== 'refused') {
      const tokenIds = state.steps.flatMap((step) => step.tokens.map((record) => record.token.tokenId));
      await Promise.all(
        tokenIds.map(async (tokenId) => {
          const facts = { acknowledgedAt: null as string | null, returnedAt: null as string | null, failedAt: null as string | null };
          for (const { event } of await this.chains.jobEvents(tokenId)) {
            const data = event.data as { acknowledgedAt?: unknown; returnedAt?: unknown; failedAt?: unknown };
            if (event.type === 'TokenAcknowledged' && facts.acknowledgedAt === null && typeof data.acknowledgedAt === 'string')
              facts.acknowledgedAt = data.acknowledgedAt;
            if (event.type === 'TokenReturned' && facts.returnedAt === null && typeof data.returnedAt === 'string') facts.returnedAt = data.returnedAt;
            if (event.type === 'StepFailed' && facts.failedAt === null && typeof data.failedAt === 'string') facts.failedAt = data.failedAt;
          }
          jobs.set(tokenId, facts);
        }),
      );
    }
    return chainView(state, jobs);
  }

  @Post('chains/:correspondenceId/retry')
  @Access(staff('ops', 'admin'))
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary:
      'Retries a failed chain from its failed step: a new token (next attempt, same input) to its operator, recorded with ChainRetried. ' +
      'Only after the content reached its recipients, while CHAIN_MANUAL_RETRIES allows, and to an operator valid now',
  })
  @ApiParam({ name: 'correspondenceId', format: 'uuid' })
  @ApiAcceptedResponse({ description: '{ correspondenceId, tokenId, stepIndex, step, attempt, operatorId }: the new token, on its way to its operator' })
  @ApiBadRequestResponse({ description: 'correspondenceId is not a UUID, or the body is not { reason } (plain text, 1 to 500 characters)' })
  @ApiNotFoundResponse({ description: 'No chain for this correspondence' })
  @ApiConflictResponse({
    description:
      'The retry policy refuses (code CHAIN.RETRY_REFUSED), with every reason: chain.retry.not-failed (also a retry replayed once it ran), ' +
      'chain.retry.consignment-failed, chain.retry.exhausted, chain.retry.operator-ineligible',
  })
  async retry(
    @Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string,
    @Body() body: RetryChainBody,
    @CurrentPrincipal() principal: Principal,
    @RequestTraceparent() traceparent: string | undefined,
  ): Promise<RetryAccepted> {
    const requestedBy = principal.kind === 'staff' ? principal.subject : principal.kind;
    const { token } = await this.chains.retry(correspondenceId, { reason: body.reason, requestedBy }, requestContext(this.ids.next(), traceparent));
    return { correspondenceId, tokenId: token.tokenId, stepIndex: token.stepIndex, step: token.step, attempt: token.attempt, operatorId: token.operatorId };
  }

  @Get('correspondence-kinds')
  @Access(publicRoute('claim 1, step 1: a client names the kind of correspondence when it asks for a session, before it holds one'))
  @ApiOperation({
    summary: 'The kinds of correspondence configured (CORRESPONDENCE_KINDS_FILE or the defaults): required level, consignment mode, processing chain',
  })
  @ApiOkResponse({ description: '{ kinds: [{ name, requiredLevel, consignment, chain }] }' })
  kinds(): { kinds: readonly CorrespondenceKind[] } {
    return { kinds: this.chains.kinds };
  }
}
