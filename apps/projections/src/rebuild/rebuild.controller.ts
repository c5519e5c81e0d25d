import { ApiOperation, ApiQuery } from '@nestjs/swagger';
import { Access, staff } from '@sigillum/auth';
import * as os from 'node:os';
import * as path from 'node:path';
import { Controller, Get, HttpCode, Inject, Optional, Param, Post, Query, Res } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { SIGILLUM_CONFIG } from '@sigillum/runtime';
import { IsIn, IsOptional } from 'class-validator';
import type { Response } from 'express';
import type { RebuildProgress, RebuildReport, RebuildStatus, ReplayComparison } from './projection-runner';
import { ProjectionRunners } from './projection-runners';

/** `?wait=false`: answer 202 as soon as the rebuild is under way instead of its report once it is done. */
export class RebuildQuery {
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'wait must be true or false' })
  wait?: string;
}

/** The 202 answer of `POST /projections/:name/rebuild?wait=false`: where to follow it, and where it is. */
export interface RebuildStarted extends RebuildStatus {
  readonly progressUrl: string;
}

/**
 * Rebuilding read models from the start of the log, and their digests: a regulator (or an operator after a bug fix)
 * rebuilds a projection and compares the digest with the one before. 404 for an unknown projection, 409 while one
 * rebuild of it already runs. Progress is logged page by page and served by `GET /projections/:name/rebuild`.
 */
@Controller('projections')
export class RebuildController {
  constructor(
    private readonly runners: ProjectionRunners,
    @Optional() @Inject(SIGILLUM_CONFIG) private readonly config?: SigillumConfig,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Lists the projections with their digests and, while one is rebuilt, its progress' })
  @Access(staff('ops', 'admin', 'auditor'))
  list(): { projections: { name: string; version: number; rebuilding: boolean; digest: string; progress: RebuildProgress | null }[] } {
    return {
      projections: this.runners.names().map((name) => {
        const runner = this.runners.get(name);
        const { progress } = runner.status();
        return { name, version: runner.projection.version, rebuilding: runner.isRebuilding, digest: runner.digest().digest, progress };
      }),
    };
  }

  @Get(':name/digest')
  @ApiOperation({ summary: "Digest of a projection's content, to compare a replay with the live read model" })
  @Access(staff('ops', 'auditor'))
  digest(@Param('name') name: string): { projection: string; digest: string; rows: Record<string, number> } {
    return { projection: name, ...this.runners.get(name).digest() };
  }

  @Get(':name/rebuild')
  @ApiOperation({
    summary: 'The rebuild of a projection: its progress while it runs, the last completed report, the last failure',
    description:
      'progress (null when idle): events scanned, read, applied and refused; the head position of the log when the rebuild started and the position ' +
      "reached; the percentage (by positions), events per second and the estimated seconds left. The last report and failure are this process's, " +
      'kept in memory. 404 for an unknown projection.',
  })
  @Access(staff('ops', 'admin', 'auditor'))
  status(@Param('name') name: string): RebuildStatus {
    return this.runners.get(name).status();
  }

  @Post(':name/rebuild')
  @ApiOperation({
    summary: 'Rebuilds a projection from position 0 of the log',
    description:
      'By default answers 200 with the report once the rebuild is done. With `?wait=false`, answers 202 as soon as it is under way (the read model ' +
      'emptied), with its status and `progressUrl` (also the Location header): `GET /projections/:name/rebuild`. 404 for an unknown projection, ' +
      '409 while a rebuild of it runs or when this process cannot read its log.',
  })
  @ApiQuery({ name: 'wait', required: false, enum: ['true', 'false'] })
  @Access(staff('ops'))
  @HttpCode(200)
  async rebuild(
    @Param('name') name: string,
    @Query() query: RebuildQuery,
    @Res({ passthrough: true }) response: Response,
  ): Promise<RebuildReport | RebuildStarted> {
    const runner = this.runners.get(name);
    if (query.wait !== 'false') return runner.rebuild();
    const status = await runner.startRebuild();
    const progressUrl = `/projections/${encodeURIComponent(runner.projection.name)}/rebuild`;
    response.status(202).setHeader('Location', progressUrl);
    return { ...status, progressUrl };
  }

  @Post(':name/replay')
  @ApiOperation({
    summary: 'Replays a projection from position 0 into a scratch database and compares its digest with the live one',
    description:
      "The live read model's digest and position (the newest log event it applied) are read at the start; the replay stops at that position, so both " +
      'are compared at the same point of the log while live consumers go on. The scratch SQLite file (under DATA_DIR) is deleted afterwards; the live ' +
      'read model is not touched. 404 for an unknown projection, 409 while a replay of it runs.',
  })
  @Access(staff('auditor', 'ops'))
  @HttpCode(200)
  replay(@Param('name') name: string): Promise<ReplayComparison> {
    const runner = this.runners.get(name);
    return runner.replayAndCompare(this.config ? path.join(this.config.dataDir, 'replay-scratch') : os.tmpdir());
  }
}
