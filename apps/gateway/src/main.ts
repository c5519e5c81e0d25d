import 'reflect-metadata';
import { ConfigError, type SigillumConfig } from '@sigillum/config';
import { runSigillum } from '@sigillum/runtime';
import { type GatewaySetup, gatewaySetup } from './role-threads/gateway-setup';

// ROLES: the roles run in this process; ROLE_THREADS: those of them on threads of their own; ROLE_URLS: the roles
// other processes run. The gateway forwards the routes of the last two.
let setup: Promise<GatewaySetup> | undefined;
async function setupFor(config: SigillumConfig): Promise<GatewaySetup> {
  try {
    return await (setup ??= gatewaySetup(config));
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
  async (config) => (await setupFor(config)).roles,
  async (config) => (await setupFor(config)).appOptions,
);
