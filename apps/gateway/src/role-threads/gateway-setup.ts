import type { SigillumConfig } from '@sigillum/config';
import { remoteRolesSetup, type RemoteRolesSetup } from '../proxy/remote-roles';
import { gatewayPlan, type HostedRole } from '../roles';
import { type RoleThread, startRoleThreads } from './role-threads';

export interface GatewaySetup extends RemoteRolesSetup {
  /** The roles of ROLE_THREADS, running (stopped with the app). */
  readonly threads: readonly RoleThread[];
}

/**
 * What the gateway process runs, from ROLES, ROLE_URLS and ROLE_THREADS: the roles of ROLE_THREADS are started first,
 * each on its thread, and then forwarded to like the roles of other processes; the rest run on the main thread.
 * Throws ConfigError for a contradictory plan, an Error when a role thread cannot start.
 */
export async function gatewaySetup(config: SigillumConfig): Promise<GatewaySetup> {
  const plan = gatewayPlan(config);
  const threads = await startRoleThreads(config);
  const onThreads = new Set<string>(threads.map((thread) => thread.role));
  const remote: Partial<Record<HostedRole, readonly string[]>> = { ...plan.remote };
  for (const thread of threads) remote[thread.role] = thread.urls; // the same list, kept current by the thread
  const stop = async () => void (await Promise.all(threads.map((thread) => thread.stop())));
  const setup = remoteRolesSetup({ local: plan.local.filter((spec) => !onThreads.has(spec.role)), remote }, { stop });
  return { ...setup, threads };
}
