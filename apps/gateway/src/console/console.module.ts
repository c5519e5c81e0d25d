import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { BusOpsController } from './bus-ops.controller';
import { ConsoleApi } from './console-api';
import { ConsoleSessionMiddleware } from './console-session.middleware';
import { ConsoleSessions } from './console-sessions';
import { ConsoleController } from './console.controller';
import { DeadLettersService } from './dead-letters.service';

/** The operator's console (`/console`) and the bus queries it reads (`/ops/bus`, `/ops/dead-letters`). */
@Module({ controllers: [ConsoleController, BusOpsController], providers: [ConsoleApi, ConsoleSessions, ConsoleSessionMiddleware, DeadLettersService] })
export class ConsoleModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(ConsoleSessionMiddleware).forRoutes(ConsoleController);
  }
}
