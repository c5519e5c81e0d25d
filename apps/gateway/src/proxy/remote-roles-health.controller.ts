import { Controller, Get, HttpStatus, Inject, Injectable, Module, type OnApplicationShutdown, Res, type Type } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { Access, publicRoute } from '@sigillum/auth';
import type { Response } from 'express';
import { GatewayModule } from '../gateway.module';
import { remoteRolesHealth } from './remote-health';

export const REMOTE_ROLE_URLS = Symbol('REMOTE_ROLE_URLS');

/**
 * Health of the roles this gateway forwards to other processes (ROLE_URLS): each role's own /health, asked at once,
 * within 800 ms each, so the answer comes within a second and names the roles that do not answer. The gateway's
 * /health stays the health of this process.
 */
@Controller('health')
export class RemoteRolesHealthController {
  constructor(@Inject(REMOTE_ROLE_URLS) private readonly upstreams: Readonly<Record<string, readonly string[]>>) {}

  @Get('roles')
  @ApiOperation({ summary: 'Health of the roles served by other processes behind this gateway (200 when each answers, 503 naming those that do not)' })
  @Access(publicRoute('health: load balancers and monitors probe it without credentials'))
  async roles(@Res() response: Response): Promise<void> {
    const health = await remoteRolesHealth(this.upstreams);
    response.status(health.status === 'up' ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE).json(health);
  }
}

export const REMOTE_ROLES_SHUTDOWN = Symbol('REMOTE_ROLES_SHUTDOWN');

/** Stops what runs the remote roles when this process stops, if this process started it (roles on threads). */
@Injectable()
class RemoteRolesShutdown implements OnApplicationShutdown {
  constructor(@Inject(REMOTE_ROLES_SHUTDOWN) private readonly stop: () => Promise<void>) {}

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}

/**
 * The gateway's module when some roles run elsewhere: GatewayModule plus GET /health/roles; `stop` is called when the
 * app stops (the role threads this process started).
 */
export function remoteGatewayModule(upstreams: Readonly<Record<string, readonly string[]>>, stop: () => Promise<void> = async () => undefined): Type<unknown> {
  @Module({
    imports: [GatewayModule],
    controllers: [RemoteRolesHealthController],
    providers: [{ provide: REMOTE_ROLE_URLS, useValue: upstreams }, { provide: REMOTE_ROLES_SHUTDOWN, useValue: stop }, RemoteRolesShutdown],
  })
  class RemoteGatewayModule {}
  return RemoteGatewayModule;
}
