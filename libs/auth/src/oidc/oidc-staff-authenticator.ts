import { Logger } from '@nestjs/common';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWK, type JWTPayload, type KeyLike, type JWTVerifyGetKey } from 'jose';
import { AuthenticationError, type StaffAuthenticator, type StaffPrincipal } from '../authenticators';
import { isStaffRole, STAFF_ROLES, type StaffRole } from '../principal';
import { describeOidcConfig, loadOidcConfig, type OidcConfig } from './oidc-config';

/** A compact JWS: three base64url segments (the signature may be empty, so that an unsigned forgery is refused by name). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The issuer (its discovery document or its key set) could not be read: the token may be good, it cannot be checked. */
class IssuerUnreachable extends Error {
  constructor(
    readonly what: string,
    readonly detail: string,
  ) {
    super(`${what}: ${detail}`);
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The value at a claim name, or else along a dotted path (`realm_access.roles`); a claim name may itself hold dots (a URL). */
export function claimAt(payload: Record<string, unknown>, path: string): unknown {
  if (Object.prototype.hasOwnProperty.call(payload, path)) return payload[path];
  let value: unknown = payload;
  for (const segment of path.split('.')) {
    if (!isObject(value) || !Object.prototype.hasOwnProperty.call(value, segment)) return undefined;
    value = value[segment];
  }
  return value;
}

/** Role names as the issuer wrote them: an array of strings, or one space-separated string. Anything else: none. */
export function externalRoles(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/\s+/).filter((name) => name !== '');
  if (Array.isArray(value)) return value.filter((name): name is string => typeof name === 'string' && name !== '');
  return [];
}

/**
 * The staff roles that external role names grant: through the role map when there is one (then only the names it
 * lists count), otherwise the names that are staff role names as they are. Unknown names are dropped.
 */
export function staffRolesOf(names: readonly string[], roleMap?: ReadonlyMap<string, readonly StaffRole[]>): StaffRole[] {
  const granted = new Set<StaffRole>();
  for (const name of names) {
    if (roleMap) for (const role of roleMap.get(name) ?? []) granted.add(role);
    else if (isStaffRole(name)) granted.add(name);
  }
  return STAFF_ROLES.filter((role) => granted.has(role));
}

export interface OidcStaffAuthenticatorOptions {
  /** Where the authenticator logs (default: a Nest Logger named OidcStaff). */
  readonly logger?: Pick<Logger, 'log' | 'warn' | 'debug'>;
}

/**
 * Staff bearer tokens issued by the configured OpenID Connect provider: JWT access tokens verified with jose against
 * the issuer's published keys (JWKS, discovered from its metadata at first use unless OIDC_JWKS_URI is set), its
 * identifier (`iss`), this server's audience (`aud`), `exp`/`nbf` within a small clock tolerance, and asymmetric
 * algorithms only. Roles come from a configurable claim; only known staff roles are kept.
 *
 * A token that verifies but carries no known staff role gives a staff principal with no role: the caller is
 * authenticated (the issuer vouches for them) but no staff route admits them, so the guard answers 403 `access.role`
 * naming the roles the route needs, and a warning is logged once per subject so the operator can fix the role claim.
 *
 * Refusals (401, rule in the body): staff.token-invalid, staff.token-algorithm, staff.token-issuer,
 * staff.token-signature, staff.token-audience, staff.token-expired, staff.token-not-yet-valid,
 * staff.issuer-unreachable (the issuer did not answer within OIDC_HTTP_TIMEOUT_MS: never a hang, never a 500).
 */
export class OidcStaffAuthenticator implements StaffAuthenticator {
  readonly name = 'oidc';
  private readonly log: Pick<Logger, 'log' | 'warn' | 'debug'>;
  private keys?: Promise<JWTVerifyGetKey>;
  private readonly warnedWithoutRole = new Set<string>();

  constructor(
    readonly config: OidcConfig,
    options: OidcStaffAuthenticatorOptions = {},
  ) {
    this.log = options.logger ?? new Logger('OidcStaff');
  }

  /** Null when OIDC_ISSUER is not set; throws ConfigError when the OIDC settings are invalid. */
  static fromEnv(env: NodeJS.ProcessEnv, options: OidcStaffAuthenticatorOptions = {}): OidcStaffAuthenticator | null {
    const config = loadOidcConfig(env);
    return config ? new OidcStaffAuthenticator(config, options) : null;
  }

  describe(): string {
    return describeOidcConfig(this.config);
  }

  /** A JWS whose header is a JSON object naming an algorithm: that is a JWT for this authenticator to judge. */
  recognises(token: string): boolean {
    if (!COMPACT_JWS.test(token)) return false;
    try {
      return typeof decodeProtectedHeader(token).alg === 'string';
    } catch {
      return false;
    }
  }

  async authenticate(token: string): Promise<StaffPrincipal> {
    const payload = await this.verify(token);
    const subject = payload.sub;
    if (typeof subject !== 'string' || subject === '') {
      throw new AuthenticationError('staff.token-invalid', 'The staff token names no subject (sub)');
    }
    const names = externalRoles(claimAt(payload, this.config.rolesClaim));
    const roles = staffRolesOf(names, this.config.roleMap);
    const username = typeof payload.preferred_username === 'string' ? ` (${payload.preferred_username})` : '';
    if (roles.length === 0) this.warnWithoutRole(subject + username, names);
    else this.log.debug(`staff ${subject}${username} signed in by OIDC with roles ${roles.join(', ')}`);
    return { kind: 'staff', subject, roles, via: 'oidc' };
  }

  private warnWithoutRole(who: string, names: readonly string[]): void {
    if (this.warnedWithoutRole.has(who)) return;
    if (this.warnedWithoutRole.size >= 1000) this.warnedWithoutRole.clear();
    this.warnedWithoutRole.add(who);
    const held = names.length ? `it holds ${names.join(', ')}` : `it has no ${this.config.rolesClaim} claim or an empty one`;
    const how = this.config.roleMap ? 'OIDC_ROLE_MAP' : `a staff role name (${STAFF_ROLES.join(', ')})`;
    this.log.warn(
      `OIDC staff token of ${who} grants no staff role (${held}; a role must be ${how} in claim ${this.config.rolesClaim}): ` +
        'its requests to staff routes are refused with 403. Check OIDC_ROLES_CLAIM and OIDC_ROLE_MAP, or the roles given at the issuer.',
    );
  }

  private async verify(token: string): Promise<JWTPayload> {
    // Checks that need no network first: a forgery or a foreign token never makes this server call the issuer.
    let header: ReturnType<typeof decodeProtectedHeader>;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      throw new AuthenticationError('staff.token-invalid', 'The staff token is not a well-formed JWT');
    }
    if (typeof header.alg !== 'string' || !(this.config.algorithms as readonly string[]).includes(header.alg)) {
      throw this.refusedAlgorithm(header.alg);
    }
    if (claims.iss !== this.config.issuer) {
      throw new AuthenticationError('staff.token-issuer', `The staff token was not issued by ${this.config.issuer}, the issuer this server trusts`);
    }
    try {
      const { payload } = await jwtVerify(token, (protectedHeader, jws) => this.key(protectedHeader, jws), {
        issuer: this.config.issuer,
        audience: [...this.config.audiences],
        algorithms: [...this.config.algorithms],
        clockTolerance: this.config.clockToleranceSeconds,
        requiredClaims: ['exp', 'sub'],
      });
      return payload;
    } catch (error) {
      throw this.refusal(error);
    }
  }

  private refusedAlgorithm(alg: unknown): AuthenticationError {
    const named = typeof alg === 'string' ? `"${alg}"` : 'no algorithm';
    return new AuthenticationError(
      'staff.token-algorithm',
      `The staff token is signed with ${named}; this server accepts only ${this.config.algorithms.join(', ')} signatures from ${this.config.issuer}`,
    );
  }

  /** Maps what went wrong to the rule the caller reads; the token itself is never part of a message. */
  private refusal(error: unknown): AuthenticationError {
    if (error instanceof AuthenticationError) return error;
    if (error instanceof IssuerUnreachable) {
      this.log.warn(`OIDC issuer ${this.config.issuer} unreachable: ${error.message}`);
      return new AuthenticationError(
        'staff.issuer-unreachable',
        `Staff tokens cannot be checked now: the OIDC issuer ${this.config.issuer} did not provide its ${error.what} ` +
          `(${error.detail}). Retry in a moment; if it lasts, the operator should check that the issuer is up and reachable from this server ` +
          `(OIDC_ISSUER${this.config.jwksUri ? ', OIDC_JWKS_URI' : ''}, OIDC_HTTP_TIMEOUT_MS=${this.config.httpTimeoutMs}).`,
      );
    }
    if (error instanceof errors.JWTExpired) {
      const exp = typeof error.payload.exp === 'number' ? ` at ${new Date(error.payload.exp * 1000).toISOString()}` : '';
      return new AuthenticationError('staff.token-expired', `The staff token expired${exp}; get a new one from ${this.config.issuer}`);
    }
    if (error instanceof errors.JWTClaimValidationFailed) {
      switch (error.claim) {
        case 'aud':
          return new AuthenticationError(
            'staff.token-audience',
            `The staff token is not meant for this server: its audience (aud) must include ${this.config.audiences.join(' or ')}`,
          );
        case 'iss':
          return new AuthenticationError('staff.token-issuer', `The staff token was not issued by ${this.config.issuer}, the issuer this server trusts`);
        case 'nbf':
          return new AuthenticationError(
            'staff.token-not-yet-valid',
            'The staff token is not valid yet (nbf); check the clocks of the issuer and of this server',
          );
        default:
          return new AuthenticationError('staff.token-invalid', `The staff token's ${error.claim} claim does not hold: ${error.message}`);
      }
    }
    if (error instanceof errors.JOSEAlgNotAllowed) return this.refusedAlgorithm(undefined);
    if (
      error instanceof errors.JWSSignatureVerificationFailed ||
      error instanceof errors.JWKSNoMatchingKey ||
      error instanceof errors.JWKSMultipleMatchingKeys
    ) {
      return new AuthenticationError('staff.token-signature', `The staff token's signature does not verify with the keys ${this.config.issuer} publishes`);
    }
    if (error instanceof errors.JOSEError) {
      return new AuthenticationError('staff.token-invalid', `The staff token is not valid: ${error.message}`);
    }
    this.log.warn(`OIDC staff token check failed unexpectedly: ${(error as Error)?.message ?? String(error)}`);
    return new AuthenticationError('staff.token-invalid', 'The staff token could not be checked');
  }

  /** The issuer's key for this token's header; any failure to read the key set is the issuer's, not the token's. */
  private async key(header: Parameters<JWTVerifyGetKey>[0], jws: Parameters<JWTVerifyGetKey>[1]): Promise<KeyLike | JWK | Uint8Array> {
    const keys = await this.keySet();
    try {
      return await keys(header, jws);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      throw new IssuerUnreachable('key set', describeFetchError(error, this.config.httpTimeoutMs));
    }
  }

  /** The remote key set, made once the JWKS URI is known; a failed discovery is retried on the next request. */
  private keySet(): Promise<JWTVerifyGetKey> {
    if (!this.keys) {
      const keys = this.jwksUri().then((uri) =>
        createRemoteJWKSet(new URL(uri), {
          timeoutDuration: this.config.httpTimeoutMs,
          cooldownDuration: 30_000,
          cacheMaxAge: 10 * 60_000,
        }),
      );
      keys.catch(() => {
        if (this.keys === keys) this.keys = undefined;
      });
      this.keys = keys;
    }
    return this.keys;
  }

  private async jwksUri(): Promise<string> {
    if (this.config.jwksUri) return this.config.jwksUri;
    const where = `${this.config.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let metadata: unknown;
    try {
      const response = await fetch(where, { signal: AbortSignal.timeout(this.config.httpTimeoutMs), headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`${where} answered HTTP ${response.status}`);
      metadata = await response.json();
    } catch (error) {
      throw new IssuerUnreachable('discovery document', describeFetchError(error, this.config.httpTimeoutMs));
    }
    if (!isObject(metadata) || metadata.issuer !== this.config.issuer || typeof metadata.jwks_uri !== 'string') {
      throw new IssuerUnreachable(
        'discovery document',
        `${where} does not describe issuer ${this.config.issuer} with a jwks_uri (check OIDC_ISSUER: it must be exactly the issuer's identifier)`,
      );
    }
    let jwksUri: URL;
    try {
      jwksUri = new URL(metadata.jwks_uri);
    } catch {
      throw new IssuerUnreachable('discovery document', `its jwks_uri "${metadata.jwks_uri}" is not a URL`);
    }
    if (jwksUri.protocol !== 'https:' && new URL(this.config.issuer).protocol === 'https:') {
      throw new IssuerUnreachable('discovery document', `its jwks_uri "${metadata.jwks_uri}" is not https`);
    }
    return jwksUri.href;
  }
}

/** Why the issuer could not be read, in a few words (duck-typed: fetch's errors may come from another realm). */
function describeFetchError(error: unknown, timeoutMs: number): string {
  const fields = (value: unknown): { name?: unknown; message?: unknown; code?: unknown; cause?: unknown } =>
    typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const outer = fields(error);
  const cause = fields(outer.cause);
  if (error instanceof errors.JWKSTimeout || [outer.name, cause.name].some((name) => name === 'TimeoutError' || name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`;
  }
  const code = typeof cause.code === 'string' ? cause.code : typeof outer.code === 'string' ? outer.code : undefined;
  const message = typeof cause.message === 'string' && cause.message ? cause.message : typeof outer.message === 'string' ? outer.message : String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/**
 * For the process that builds the HTTP app (libs/runtime): the OIDC staff authenticator the environment asks for, or
 * null when OIDC_ISSUER is not set. Throws ConfigError naming every invalid OIDC_* variable. Register the result with
 * `AuthenticatorRegistry.registerStaff`.
 */
export function oidcAuthenticatorFromEnv(env: NodeJS.ProcessEnv, options: OidcStaffAuthenticatorOptions = {}): OidcStaffAuthenticator | null {
  return OidcStaffAuthenticator.fromEnv(env, options);
}
