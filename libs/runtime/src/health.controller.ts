import { ApiOperation } from '@nestjs/swagger';
import { Controller, Get, HttpStatus, Inject, Optional, Res } from '@nestjs/common';
import { Access, publicRoute } from '@sigillum/auth';
import { EVENT_BUS, type EventBus, type EventRelay } from '@sigillum/bus';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import type { Response } from 'express';
import { OUT_OF_BAND_SENDER, type OutOfBandSender } from '@sigillum/channels';
import { EVENT_RELAY, PROCESS_ROLES } from './tokens';
import { DURABLE_TIMERS, type DurableTimers } from './timers/durable-timers';
import { type ComponentHealth, HealthChecks } from './health-checks';

/** Longest a component's check may take: /health answers within about this, saying which component did not. */
export const HEALTH_CHECK_DEADLINE_MS = 800;

@Controller('health')
export class HealthController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(EVENT_RELAY) private readonly relay: EventRelay,
    @Inject(PROCESS_ROLES) private readonly roles: readonly string[],
    @Inject(OUT_OF_BAND_SENDER) private readonly secondChannels: OutOfBandSender,
    @Inject(DURABLE_TIMERS) private readonly timers: DurableTimers,
    /** The roles' own checks (HealthChecksModule), when a role of this process contributes any. */
    @Optional() private readonly contributed?: HealthChecks,
  ) {}

  /**
   * 200 when every component is up, 503 otherwise; each component says what it is doing. The checks run at once,
   * each within HEALTH_CHECK_DEADLINE_MS: one that has not answered by then is reported down, so a dependency that
   * hangs (a broker gone) makes the answer a prompt 503 naming it, never a slow one.
   */
  @Get()
  @ApiOperation({ summary: 'Health of each component of this process' })
  @Access(publicRoute('health: load balancers and monitors probe it without credentials'))
  async health(@Res() response: Response): Promise<void> {
    const checks: Record<string, () => Promise<ComponentHealth>> = {
      eventStore: () => this.store.health(),
      bus: () => this.bus.health(),
      relay: () => this.relay.health(),
      secondChannels: async () => this.describeSecondChannels(),
      timers: async () => {
        const { pending, failing, lastPollAt } = this.timers.stats();
        // A failing timer is retried with backoff: reported, but the process still serves.
        return {
          up: true,
          pending,
          failing,
          lastPollAt,
          ...(failing > 0 ? { detail: `${failing} timer(s) failing and retried; see the DurableTimers log lines` } : {}),
        };
      },
    };
    for (const [name, check] of this.contributed?.entries() ?? []) checks[name] ??= check;
    const entries = await Promise.all(Object.entries(checks).map(async ([name, check]) => [name, await this.safely(check)] as const));
    const components: Record<string, ComponentHealth> = Object.fromEntries(entries);
    const up = Object.values(components).every((component) => component.up);
    response.status(up ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE).json({ status: up ? 'up' : 'down', roles: this.roles, components });
  }

  /** Which transports carry codes; none configured is a choice (sessions then refuse to open), not an outage. */
  private describeSecondChannels(): ComponentHealth {
    const routes = this.secondChannels.describe?.() ?? {};
    const kinds = ['email', 'sms'] as const;
    const detail = kinds.map((kind) => `${kind}: ${routes[kind] ?? 'none'}`).join(', ');
    const none = kinds.every((kind) => !routes[kind]);
    return { up: true, detail: none ? `${detail} (no transport: sessions cannot open; see OOB_EMAIL_TRANSPORT)` : detail };
  }

  /** The check's answer, or down with its error, or down when it has not answered within the deadline. */
  private async safely(check: () => Promise<ComponentHealth>): Promise<ComponentHealth> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<ComponentHealth>((resolve) => {
      timer = setTimeout(() => resolve({ up: false, detail: `no answer within ${HEALTH_CHECK_DEADLINE_MS} ms` }), HEALTH_CHECK_DEADLINE_MS);
    });
    try {
      return await Promise.race([Promise.resolve().then(check), late]);
    } catch (error) {
      return { up: false, detail: (error as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }
}
