import type { Role } from '@sigillum/config';
import type { RoleSpec } from '@sigillum/runtime';
import { certifierRole } from '../../certifier/src/certifier.role';
import { directoryRole } from '../../directory/src/directory.role';
import { domicileRole } from '../../domicile/src/domicile.role';
import { processorRole } from '../../processor/src/processor.role';
import { projectionsRole } from '../../projections/src/projections.role';
import { GatewayModule } from './gateway.module';

export const gatewayRole: RoleSpec = { role: 'gateway', module: GatewayModule, ownedCategories: [], consumes: false };

// The gateway is the one composition root allowed to import other apps: it is how one process runs them all.
const ALL_ROLES: Record<Exclude<Role, 'gateway'>, RoleSpec> = {
  directory: directoryRole,
  certifier: certifierRole,
  domicile: domicileRole,
  processor: processorRole,
  projections: projectionsRole,
};

/** The gateway plus the roles named (all by default): the embedded default is every role in this process. */
export function rolesFor(names: readonly Role[]): RoleSpec[] {
  return [gatewayRole, ...names.filter((name): name is Exclude<Role, 'gateway'> => name !== 'gateway').map((name) => ALL_ROLES[name])];
}
