import { ConfigError, type Role, type SigillumConfig } from '@sigillum/config';
import type { RoleSpec } from '@sigillum/runtime';
import { certifierRole } from '../../certifier/src/certifier.role';
import { directoryRole } from '../../directory/src/directory.role';
import { domicileRole } from '../../domicile/src/domicile.role';
import { processorRole } from '../../processor/src/processor.role';
import { projectionsRole } from '../../projections/src/projections.role';
import { GatewayModule } from './gateway.module';

// The gateway owns `deadletter-<offset>`: what operators did with the embedded bus's dead letters (the console).
export const gatewayRole: RoleSpec = { role: 'gateway', module: GatewayModule, ownedCategories: ['deadletter'], consumes: false };

export type HostedRole = Exclude<Role, 'gateway'>;

// The gateway is the one composition root allowed to import other apps: it is how one process runs them all, and
// how it knows, without starting them, the routes of the roles it forwards to other processes (ROLE_URLS).
export const ALL_ROLES: Readonly<Record<HostedRole, RoleSpec>> = {
  directory: directoryRole,
  certifier: certifierRole,
  domicile: domicileRole,
  processor: processorRole,
  projections: projectionsRole,
};

/** The gateway plus the roles named (all by default): the embedded default is every role in this process. */
export function rolesFor(names: readonly Role[]): RoleSpec[] {
  return [gatewayRole, ...names.filter((name): name is HostedRole => name !== 'gateway').map((name) => ALL_ROLES[name])];
}

/** What a gateway process does with each role: run it here, or forward its routes to other processes. */
export interface GatewayPlan {
  /** The gateway and the roles this process runs. */
  readonly local: RoleSpec[];
  /** Roles served by other processes (ROLE_URLS), with their base URLs. */
  readonly remote: Readonly<Partial<Record<HostedRole, readonly string[]>>>;
}

/**
 * ROLES and ROLE_URLS together. A role in ROLE_URLS is never run here: ROLES=all (the default) means "every role not
 * served elsewhere"; a role named explicitly in a ROLES list and in ROLE_URLS is refused (ConfigError), since which
 * of the two was meant cannot be guessed.
 */
export function gatewayPlan(config: Pick<SigillumConfig, 'roles' | 'roleUrls' | 'env'> & Partial<Pick<SigillumConfig, 'roleThreads'>>): GatewayPlan {
  const remote: Partial<Record<HostedRole, readonly string[]>> = {};
  for (const [role, urls] of Object.entries(config.roleUrls) as [Role, readonly string[] | undefined][]) {
    if (role !== 'gateway' && urls && urls.length > 0) remote[role] = urls;
  }
  const threaded = (config.roleThreads ?? []).filter((role) => remote[role as HostedRole] !== undefined);
  if (threaded.length > 0) {
    throw new ConfigError(
      threaded.map(
        (role) =>
          `${role} is in ROLE_THREADS and in ROLE_URLS: run it on a thread of this process (remove it from ROLE_URLS) or in another one (remove it from ROLE_THREADS)`,
      ),
    );
  }
  const explicit = (config.env.ROLES ?? '').trim() !== '' && (config.env.ROLES ?? '').trim() !== 'all';
  if (explicit) {
    const both = config.roles.filter((role) => role !== 'gateway' && remote[role] !== undefined);
    if (both.length > 0) {
      throw new ConfigError(
        both.map((role) => `${role} is in ROLES and in ROLE_URLS: run it in this process (remove it from ROLE_URLS) or in another one (remove it from ROLES)`),
      );
    }
  }
  return { local: rolesFor(config.roles.filter((role) => remote[role as HostedRole] === undefined)), remote };
}
