import { Logger } from '@nestjs/common';
import type { AppOptions, RoleSpec } from '@sigillum/runtime';
import { documentRemoteRoles } from '@sigillum/runtime';
import { ALL_ROLES, type GatewayPlan, gatewayRole } from '../roles';
import { remoteGatewayModule } from './remote-roles-health.controller';
import { roleProxy } from './role-proxy';
import { RoundRobin } from './round-robin';
import { controllersOf, RouteTable } from './route-table';

export interface RemoteRolesSetup {
  /** The roles this process runs (the gateway with GET /health/roles when some roles are remote). */
  readonly roles: RoleSpec[];
  /** Installs the proxy before the body parsers and documents the remote roles' routes in the OpenAPI document. */
  readonly appOptions: AppOptions;
}

/** What the gateway process needs to serve the whole API at one address while some roles run in other processes. */
export function remoteRolesSetup(plan: GatewayPlan, options: { readonly timeoutMs?: number; readonly stop?: () => Promise<void> } = {}): RemoteRolesSetup {
  const remote = Object.fromEntries(Object.entries(plan.remote).filter(([, urls]) => urls && urls.length > 0)) as Record<string, readonly string[]>;
  const names = Object.keys(remote) as (keyof typeof ALL_ROLES)[];
  if (names.length === 0) return { roles: plan.local, appOptions: {} };
  const modules = Object.fromEntries(names.map((role) => [role, ALL_ROLES[role].module]));
  const table = RouteTable.fromModules(modules);
  const log = new Logger('GatewayProxy');
  const roles = plan.local.map((spec) => (spec.role === 'gateway' ? { ...gatewayRole, module: remoteGatewayModule(remote, options.stop) } : spec));
  return {
    roles,
    appOptions: {
      beforeBodyParsers: (app) => {
        app.use(roleProxy({ table, upstreams: new RoundRobin(remote), timeoutMs: options.timeoutMs, log }));
        documentRemoteRoles(
          app,
          names,
          Object.values(modules).flatMap((module) => controllersOf(module)),
        );
        log.log(`Forwarding ${table.entries.length} routes: ${names.map((role) => `${role} → ${remote[role]?.join(' | ')}`).join('; ')}`);
      },
    },
  };
}
