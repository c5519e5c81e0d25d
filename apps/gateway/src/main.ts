import 'reflect-metadata';
import { ConfigError, type SigillumConfig } from '@sigillum/config';
import { runSigillum } from '@sigillum/runtime';
import { remoteRolesSetup, type RemoteRolesSetup } from './proxy';
import { gatewayPlan } from './roles';

// ROLES: the roles run in this process; ROLE_URLS: the roles other processes run, whose routes the gateway forwards.
let setup: RemoteRolesSetup | undefined;
function setupFor(config: SigillumConfig): RemoteRolesSetup {
  try {
    return (setup ??= remoteRolesSetup(gatewayPlan(config)));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG, as for every other configuration error
    }
    throw error;
  }
}

void runSigillum(
  'sigillum',
  (config) => setupFor(config).roles,
  (config) => setupFor(config).appOptions,
);
