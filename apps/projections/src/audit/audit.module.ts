import { Module } from '@nestjs/common';
import { AuditConsumer } from './audit.consumer';
import { AuditController } from './audit.controller';
import { RebuildModule } from '../rebuild/rebuild.module';

/** The audit read model: `GET /audit/correspondences?since=&until=`, `GET /audit/correspondences/:id`, `GET /audit/parties/:partyId`; rebuildable. */
@Module({ imports: [RebuildModule], controllers: [AuditConsumer, AuditController] })
export class AuditModule {}
