import { Module } from '@nestjs/common';
import { ConsoleModule } from './console/console.module';

/** The HTTP edge. In the embedded default it hosts every role's HTTP API in one process, and the operator's console. */
@Module({ imports: [ConsoleModule] })
export class GatewayModule {}
