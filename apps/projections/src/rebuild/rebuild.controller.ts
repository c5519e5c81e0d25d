import { ApiOperation } from '@nestjs/swagger';
import { Access, staff } from '@sigillum/auth';
import * as os from 'node:os';
import * as path from 'node:path';
import { Controller, Get, HttpCode, Inject, Optional, Param, Post } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { SIGILLUM_CONFIG } from '@sigillum/runtime';
import type { RebuildReport, ReplayComparison } from './projection-runner';
import { ProjectionRunners } from './projection-runners';

/**
 * Rebuilding read models from the start of the log, and their digests: a regulator (or an operator after a bug fix)
 * rebuilds a projection and compares the digest with the one before. 404 for an unknown projection, 409 while one
 * rebuild of it already runs. Progress is logged page by page.
 */
@Controller('projections')
export class RebuildController {
  constructor(
    private readonly runners: ProjectionRunners,
    @Optional() @Inject(SIGILLUM_CONFIG) private readonly config?: SigillumConfig,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Lists the projections with their positions' })
  @Access(staff('ops', 'admin', 'auditor'))
  list(): { projections: { name: string; version: number; rebuilding: boolean; digest: string }[] } {
    return {
      projections: this.runners.names().map((name) => {
        const runner = this.runners.get(name);
        return { name, version: runner.projection.version, rebuilding: runner.isRebuilding, digest: runner.digest().digest };
      }),
    };
  }

  @Get(':name/digest')
  @ApiOperation({ summary: "Digest of a projection's content, to compare a replay with the live read model" })
  @Access(staff('ops', 'auditor'))
  digest(@Param('name') name: string): { projection: string; digest: string; rows: Record<string, number> } {
    return { projection: name, ...this.runners.get(name).digest() };
  }

  @Post(':name/rebuild')
  @ApiOperation({ summary: 'Rebuilds a projection from position 0 of the log' })
  @Access(staff('ops'))
  @HttpCode(200)
  rebuild(@Param('name') name: string): Promise<RebuildReport> {
    return this.runners.get(name).rebuild();
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
