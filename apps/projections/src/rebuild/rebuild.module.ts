import { Module } from '@nestjs/common';
import { HealthChecksModule } from '@sigillum/runtime/health-checks';
import { ProjectionRunners } from './projection-runners';
import { RebuildController } from './rebuild.controller';

/** `POST|GET /projections/:name/rebuild`, `GET /projections/:name/digest`, and the runners the consumers apply through. */
@Module({ imports: [HealthChecksModule], controllers: [RebuildController], providers: [ProjectionRunners], exports: [ProjectionRunners] })
export class RebuildModule {}
