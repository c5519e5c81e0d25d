import { BadRequestException, Controller, Get, Inject, NotFoundException, Param, ParseUUIDPipe, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access, staff } from '@sigillum/auth';
import { type Clock, CLOCK } from '@sigillum/contracts';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { decodeAuditCursor, encodeAuditCursor } from '../audit/audit-correspondences.query';
import {
  CHAIN_STATES,
  type ChainListItem,
  chainsSummary,
  type ChainsSummary,
  type ChainState,
  listChains,
  opsTimeline,
  type OpsTimeline,
} from './ops-chains.queries';

/** `GET /ops/chains` filters: state, party (sender or recipient), operator, submitted in [since, until), keyset page. */
export class ChainListQueryDto {
  @IsOptional()
  @IsIn(CHAIN_STATES as ChainState[])
  state?: ChainState;

  @IsOptional()
  @IsUUID()
  party?: string;

  @IsOptional()
  @IsUUID()
  operator?: string;

  @IsOptional()
  @IsISO8601({ strict: true })
  since?: string;

  @IsOptional()
  @IsISO8601({ strict: true })
  until?: string;

  @IsOptional()
  @MaxLength(400)
  @Matches(/^[A-Za-z0-9_-]+$/, { message: 'after must be the `next` cursor of a previous page of GET /ops/chains' })
  after?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}

export interface ChainListPage {
  readonly items: ChainListItem[];
  readonly next: string | null;
}

/**
 * The operator's console queries (staff ops, admin, auditor): chains by state, the overview's counts, and one
 * correspondence's timeline without its subject. Read from the mailbox read model, paged by index, never the log.
 */
@ApiTags('ops')
@Controller('ops/chains')
export class OpsChainsController {
  constructor(
    @Inject(LOCAL_DB) private readonly db: Database.Database,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Chains by state (in-flight, stuck, failed, completed, all), party, operator and submission time; newest first, keyset-paged' })
  @Access(staff('ops', 'admin', 'auditor'))
  list(@Query() query: ChainListQueryDto): ChainListPage {
    const after = query.after === undefined ? undefined : decodeAuditCursor(query.after);
    if (query.after !== undefined && after === undefined) {
      throw new BadRequestException({
        statusCode: 400,
        code: 'OPS.BAD_CURSOR',
        message: 'after is not a cursor of GET /ops/chains',
        reasons: [{ rule: 'after.cursor', message: 'after must be the `next` of a previous page' }],
      });
    }
    const utc = (time: string | undefined) => (time === undefined ? undefined : new Date(time).toISOString());
    const { items, next } = listChains(this.db, {
      state: query.state ?? 'all',
      party: query.party,
      operator: query.operator,
      since: utc(query.since),
      until: utc(query.until),
      after,
      limit: query.limit ?? 20,
    });
    return { items, next: next ? encodeAuditCursor(next) : null };
  }

  @Get('summary')
  @ApiOperation({
    summary: 'Counts for the overview: chains in flight, stuck (a deadline missed), failed (with the last reasons), completed; deliveries per minute',
  })
  @Access(staff('ops', 'admin', 'auditor'))
  summary(): ChainsSummary {
    return chainsSummary(this.db, this.clock.now());
  }

  @Get(':correspondenceId/timeline')
  @ApiOperation({ summary: "One correspondence's history (correspondence and chain facts) and evidence list, in order, without its subject" })
  @Access(staff('ops', 'admin', 'auditor'))
  timeline(@Param('correspondenceId', new ParseUUIDPipe()) correspondenceId: string): OpsTimeline {
    const view = opsTimeline(this.db, correspondenceId);
    if (!view)
      throw new NotFoundException({
        statusCode: 404,
        code: 'OPS.UNKNOWN_CORRESPONDENCE',
        message: `No correspondence ${correspondenceId} in the mailbox view (yet)`,
      });
    return view;
  }
}
