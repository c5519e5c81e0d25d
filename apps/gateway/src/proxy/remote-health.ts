import * as http from 'node:http';
import * as https from 'node:https';

/** Longest the gateway waits for one role's /health: the roles are asked at once, so the answer comes within about this. */
export const REMOTE_HEALTH_DEADLINE_MS = 800;

export interface UrlHealth {
  readonly url: string;
  readonly up: boolean;
  /** The role's own /health status code, when it answered. */
  readonly status?: number;
  readonly detail?: string;
}

export interface RemoteRoleHealth {
  /** Up when at least one of its URLs answers its /health with 200. */
  readonly up: boolean;
  readonly urls: readonly UrlHealth[];
  readonly detail?: string;
}

export interface RemoteRolesHealth {
  readonly status: 'up' | 'down';
  /** The roles that do not answer, by name. */
  readonly down: readonly string[];
  readonly roles: Readonly<Record<string, RemoteRoleHealth>>;
}

/** GET <url>/health within the deadline; never throws. */
export function probe(url: string, deadlineMs = REMOTE_HEALTH_DEADLINE_MS): Promise<UrlHealth> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: UrlHealth) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      request.destroy();
      resolve(result);
    };
    const target = new URL('/health', url);
    const request = (target.protocol === 'https:' ? https : http).get(target, { agent: false, headers: { accept: 'application/json' } }, (answer) => {
      const status = answer.statusCode ?? 0;
      answer.resume();
      finish(status === 200 ? { url, up: true, status } : { url, up: false, status, detail: `its /health answered ${status}` });
    });
    request.on('error', (error: NodeJS.ErrnoException) => finish({ url, up: false, detail: error.code ?? error.message }));
    const timer = setTimeout(() => finish({ url, up: false, detail: `no answer within ${deadlineMs} ms` }), deadlineMs);
  });
}

/** Every URL of every remote role asked at once; a role is down when none of its URLs is up. */
export async function remoteRolesHealth(
  upstreams: Readonly<Record<string, readonly string[]>>,
  deadlineMs = REMOTE_HEALTH_DEADLINE_MS,
): Promise<RemoteRolesHealth> {
  const entries = await Promise.all(
    Object.entries(upstreams).map(async ([role, urls]) => {
      const results = await Promise.all(urls.map((url) => probe(url, deadlineMs)));
      const up = results.some((result) => result.up);
      const health: RemoteRoleHealth = up
        ? { up, urls: results }
        : { up, urls: results, detail: `${role} does not answer at ${urls.join(', ')}: start its process or fix ROLE_URLS` };
      return [role, health] as const;
    }),
  );
  const roles = Object.fromEntries(entries);
  const down = entries.filter(([, health]) => !health.up).map(([role]) => role);
  return { status: down.length === 0 ? 'up' : 'down', down, roles };
}
