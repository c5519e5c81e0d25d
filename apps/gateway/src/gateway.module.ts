import { Module } from '@nestjs/common';

/** The HTTP edge. In the embedded default it hosts every role's HTTP API in one process. */
@Module({})
export class GatewayModule {}
