import { Global, Injectable, Module } from '@nestjs/common';

/** What a component's health check answers (GET /health shows it under the component's name). */
export interface ComponentHealth {
  readonly up: boolean;
  readonly detail?: string;
  readonly [key: string]: unknown;
}

export type HealthCheck = () => Promise<ComponentHealth>;

/**
 * Named health checks a role contributes to GET /health beside the runtime's own (event store, bus, relay…):
 * a role's provider registers `register('evidence-log', () => …)` at construction. Each runs with the others, within
 * the same per-check deadline (HEALTH_CHECK_DEADLINE_MS).
 */
@Injectable()
export class HealthChecks {
  private readonly checks = new Map<string, HealthCheck>();

  register(name: string, check: HealthCheck): void {
    if (this.checks.has(name)) throw new Error(`health check "${name}" is registered twice`);
    this.checks.set(name, check);
  }

  entries(): [string, HealthCheck][] {
    return [...this.checks.entries()];
  }
}

/** Global: a role module that contributes checks imports it; the health controller then finds them. */
@Global()
@Module({ providers: [HealthChecks], exports: [HealthChecks] })
export class HealthChecksModule {}
