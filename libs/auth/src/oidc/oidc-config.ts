import { ConfigError } from '@sigillum/config';
import { isStaffRole, STAFF_ROLES, type StaffRole } from '../principal';

/**
 * The JWS algorithms a staff token may be signed with: asymmetric only. A symmetric algorithm (HS*) would let anyone
 * holding the shared secret mint staff tokens, and `none` is no signature at all; neither is ever accepted.
 */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

/** Every variable the OIDC staff sign-in reads, with its default; the README's table says the same. */
export const OIDC_ENVIRONMENT = {
  OIDC_ISSUER: {
    default: '',
    help: 'issuer identifier of the OpenID Connect provider staff sign in with (https; http only on a loopback address); set, it enables OIDC staff tokens',
  },
  OIDC_AUDIENCE: {
    default: '',
    help: 'the audience (aud) staff access tokens must carry for this server, or a comma list of accepted ones; required with OIDC_ISSUER',
  },
  OIDC_ROLES_CLAIM: {
    default: 'roles',
    help: 'claim holding the roles: a name, or a dotted path such as realm_access.roles; an array or a space-separated string',
  },
  OIDC_ROLE_MAP: {
    default: '',
    help: 'external role names to staff roles, "idp-name=role,…" (e.g. sigillum-admin=admin); set, only the names it lists grant roles',
  },
  OIDC_JWKS_URI: { default: '', help: "the issuer's key set; discovered from <OIDC_ISSUER>/.well-known/openid-configuration at first use when not set" },
  OIDC_ALGORITHMS: {
    default: 'RS256,PS256,ES256,EdDSA',
    help: `signature algorithms accepted, a comma list of ${ASYMMETRIC_ALGORITHMS.join(', ')} (never HS* or none)`,
  },
  OIDC_CLOCK_TOLERANCE_SECONDS: { default: '30', help: 'clock skew allowed on exp and nbf (0-300 seconds)' },
  OIDC_HTTP_TIMEOUT_MS: {
    default: '3000',
    help: 'longest wait for the issuer (discovery, key set) before a staff request is refused with staff.issuer-unreachable (100-30000)',
  },
} as const;

export type OidcVariable = keyof typeof OIDC_ENVIRONMENT;

export interface OidcConfig {
  /** Compared exactly with the tokens' `iss`. */
  readonly issuer: string;
  /** A token must name at least one of them in `aud`. */
  readonly audiences: readonly string[];
  /** Claim name or dotted path. */
  readonly rolesClaim: string;
  /** External role name → staff roles; absent, the claim's values are taken as staff role names as they are. */
  readonly roleMap?: ReadonlyMap<string, readonly StaffRole[]>;
  /** Absent: discovered from the issuer's metadata. */
  readonly jwksUri?: string;
  readonly algorithms: readonly AsymmetricAlgorithm[];
  readonly clockToleranceSeconds: number;
  readonly httpTimeoutMs: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** An https URL, or http to a loopback address (a test or development issuer); otherwise the problem, in words. */
function urlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    return 'must be an https URL (http only on a loopback address, for tests): the keys that sign staff tokens must come over TLS';
  }
  if (url.search || url.hash) return 'must not carry a query or a fragment';
  if (url.username || url.password) return 'must not carry credentials';
  return undefined;
}

function parseRoleMap(raw: string, problems: string[]): Map<string, StaffRole[]> {
  const map = new Map<string, StaffRole[]>();
  for (const entry of raw.split(',').map((part) => part.trim())) {
    if (entry === '') continue;
    const at = entry.lastIndexOf('=');
    const external = at > 0 ? entry.slice(0, at).trim() : '';
    const role = at > 0 ? entry.slice(at + 1).trim() : '';
    if (!external || !role) {
      problems.push(`OIDC_ROLE_MAP entry "${entry}" must read <external role>=<staff role>, e.g. sigillum-admin=admin`);
      continue;
    }
    if (!isStaffRole(role)) {
      problems.push(`OIDC_ROLE_MAP entry "${entry}": "${role}" is not a staff role (${STAFF_ROLES.join(', ')})`);
      continue;
    }
    const roles = map.get(external) ?? [];
    if (!roles.includes(role)) roles.push(role);
    map.set(external, roles);
  }
  if (map.size === 0 && problems.every((problem) => !problem.startsWith('OIDC_ROLE_MAP'))) {
    problems.push('OIDC_ROLE_MAP is set but maps nothing; remove it, or list "<external role>=<staff role>" pairs');
  }
  return map;
}

/**
 * Reads the OIDC staff sign-in settings. Answers null when OIDC_ISSUER is not set (OIDC staff tokens off); throws one
 * ConfigError (from @sigillum/config, so start-up reports it like any other configuration problem) naming every
 * problem and the variable it is in.
 */
export function loadOidcConfig(env: NodeJS.ProcessEnv): OidcConfig | null {
  const problems: string[] = [];
  const given = (name: OidcVariable): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const read = (name: OidcVariable): string => given(name) ?? OIDC_ENVIRONMENT[name].default;
  const integer = (name: OidcVariable, min: number, max: number): number => {
    const raw = read(name);
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name}="${raw}" must be a whole number from ${min} to ${max}`);
      return Number(OIDC_ENVIRONMENT[name].default);
    }
    return value;
  };

  const issuer = given('OIDC_ISSUER');
  if (issuer === undefined) {
    const stray = (Object.keys(OIDC_ENVIRONMENT) as OidcVariable[]).filter((name) => given(name) !== undefined);
    if (stray.length > 0) {
      throw new ConfigError([
        `${stray.join(', ')} ${stray.length === 1 ? 'is' : 'are'} set but OIDC_ISSUER is not: set OIDC_ISSUER to enable OIDC staff sign-in, or remove ${stray.length === 1 ? 'it' : 'them'}`,
      ]);
    }
    return null;
  }
  const issuerProblem = urlProblem(issuer);
  if (issuerProblem) problems.push(`OIDC_ISSUER="${issuer}" ${issuerProblem}`);

  const audiences = (given('OIDC_AUDIENCE') ?? '')
    .split(',')
    .map((audience) => audience.trim())
    .filter((audience) => audience !== '');
  if (audiences.length === 0) {
    problems.push(
      'OIDC_AUDIENCE is required when OIDC_ISSUER is set: the audience (aud) the issuer writes into access tokens meant for this server, so a token issued for another application is refused',
    );
  }

  const rolesClaim = read('OIDC_ROLES_CLAIM');
  if (/\s/.test(rolesClaim) || rolesClaim.split('.').some((segment) => segment === '')) {
    problems.push(
      `OIDC_ROLES_CLAIM="${rolesClaim}" must be a claim name or a dotted path of names (e.g. realm_access.roles), without spaces or empty segments`,
    );
  }

  const rawMap = given('OIDC_ROLE_MAP');
  const roleMap = rawMap === undefined ? undefined : parseRoleMap(rawMap, problems);

  const jwksUri = given('OIDC_JWKS_URI');
  if (jwksUri !== undefined) {
    const jwksProblem = urlProblem(jwksUri);
    if (jwksProblem) problems.push(`OIDC_JWKS_URI="${jwksUri}" ${jwksProblem}`);
  }

  const algorithms: AsymmetricAlgorithm[] = [];
  for (const name of read('OIDC_ALGORITHMS')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')) {
    if ((ASYMMETRIC_ALGORITHMS as readonly string[]).includes(name)) {
      if (!algorithms.includes(name as AsymmetricAlgorithm)) algorithms.push(name as AsymmetricAlgorithm);
    } else if (/^HS\d+$/i.test(name) || name.toLowerCase() === 'none') {
      problems.push(
        `OIDC_ALGORITHMS: "${name}" is refused: staff tokens must be signed with the issuer's private key (a shared secret or no signature would let others mint them); use ${ASYMMETRIC_ALGORITHMS.join(', ')}`,
      );
    } else {
      problems.push(`OIDC_ALGORITHMS: "${name}" is not one of ${ASYMMETRIC_ALGORITHMS.join(', ')}`);
    }
  }
  if (algorithms.length === 0 && !problems.some((problem) => problem.startsWith('OIDC_ALGORITHMS'))) {
    problems.push(`OIDC_ALGORITHMS names no algorithm; use a comma list of ${ASYMMETRIC_ALGORITHMS.join(', ')}`);
  }

  const clockToleranceSeconds = integer('OIDC_CLOCK_TOLERANCE_SECONDS', 0, 300);
  const httpTimeoutMs = integer('OIDC_HTTP_TIMEOUT_MS', 100, 30000);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    issuer,
    audiences,
    rolesClaim,
    ...(roleMap ? { roleMap } : {}),
    ...(jwksUri ? { jwksUri } : {}),
    algorithms,
    clockToleranceSeconds,
    httpTimeoutMs,
  };
}

/** One line for the start-up log: where staff tokens come from and how roles are read (no secret in it). */
export function describeOidcConfig(config: OidcConfig): string {
  const roles = config.roleMap
    ? `roles from claim ${config.rolesClaim} mapped by OIDC_ROLE_MAP (${[...config.roleMap].map(([name, roles]) => `${name}→${roles.join('+')}`).join(', ')})`
    : `roles from claim ${config.rolesClaim}`;
  return (
    `OIDC staff tokens: issuer ${config.issuer}, audience ${config.audiences.join(' or ')}, ${roles}, ` +
    `keys from ${config.jwksUri ?? 'the issuer discovery document'}, algorithms ${config.algorithms.join(', ')}`
  );
}
