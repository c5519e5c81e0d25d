import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces } from '@nestjs/swagger';
import { Access, staff } from '@sigillum/auth';
import type { SigillumConfig } from '@sigillum/config';
import type Database from 'better-sqlite3';
import type { Response } from 'express';
import { register } from 'prom-client';
import { LOCAL_DB, SIGILLUM_CONFIG } from '../tokens';
import { refreshEmbeddedLag } from './metrics';

/**
 * Prometheus metrics of this process. Staff `ops` (and `admin`) only: the figures carry no personal data, but they tell
 * an outsider how busy the operator is and which parts fail. Prometheus scrapes with an ops staff credential as its
 * bearer token (`authorization: { credentials_file: ... }` in its scrape config).
 */
@Controller('metrics')
export class MetricsController {
  constructor(
    @Inject(SIGILLUM_CONFIG) private readonly config: SigillumConfig,
    @Inject(LOCAL_DB) private readonly db: Database.Database,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Prometheus metrics of this process (text exposition format)' })
  @ApiProduces('text/plain')
  @Access(staff('ops', 'admin'))
  async metrics(@Res() response: Response): Promise<void> {
    if (this.config.eventBus.kind === 'embedded' && this.db.open) refreshEmbeddedLag(this.db);
    response.type(register.contentType).send(await register.metrics());
  }
}
