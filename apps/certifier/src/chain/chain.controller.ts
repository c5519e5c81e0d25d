import { Access, publicRoute, staff } from '@sigillum/auth';
import { Controller, Get, Param, ParseUUIDPipe } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { CorrespondenceKind } from '@sigillum/contracts';
import { ChainService } from './chain.service';
import { type ChainView, chainView, type JobFacts } from './chain.view';

/** The certified processing chains, as the certifier records them, and the kinds of correspondence it runs. */
@ApiTags('chains')
@Controller()
export class ChainController {
  constructor(private readonly chains: ChainService) {}

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
