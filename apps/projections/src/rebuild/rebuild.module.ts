import { Module } from '@nestjs/common';
import { ProjectionRunners } from './projection-runners';
import { RebuildController } from './rebuild.controller';

/** `POST|GET /projections/:name/rebuild`, `GET /projections/:name/digest`, and the runners the consumers apply through. */
@Module({ controllers: [RebuildController], providers: [ProjectionRunners], exports: [ProjectionRunners] })
export class RebuildModule {}
