import type { Principal, StaffRole } from './principal';

/**
 * One way a route may be allowed. A route's decision is a list of rules; the request passes when any rule admits
 * its principal. A route with no decision does not start (see route-decisions.ts).
 */
export type AccessRule =
  /** Anyone, authenticated or not; `why` says why this route is public (health, API documents, CA certificate, claim 1). */
  | { readonly kind: 'public'; readonly why: string }
  /** Staff holding at least one of `roles`. */
  | { readonly kind: 'staff'; readonly roles: readonly StaffRole[] }
  /**
   * A party through its own open session. With `param`, only on its own resource: the route parameter `param` must
   * be the party's id. Without, any party session, and the handler checks ownership of what it touches.
   */
  | { readonly kind: 'party'; readonly param?: string }
  /** A machine by its client certificate; with `param`, only on its own resource (route parameter = its party id). */
  | { readonly kind: 'machine'; readonly param?: string };

export type AccessDecision = readonly AccessRule[];

/** The outcome of checking one request against its route's decision. */
export type AccessVerdict =
  | { readonly allowed: true; readonly by: AccessRule }
  | { readonly allowed: false; readonly status: 401 | 403; readonly rule: string; readonly message: string };

/** Which credentials a decision accepts, for the 401 answer and the OpenAPI security requirements. */
export function acceptedCredentials(decision: AccessDecision): string[] {
  const names = new Set<string>();
  for (const rule of decision) {
    if (rule.kind === 'staff') names.add('staff bearer token (OIDC or Sigillum staff credential)');
    if (rule.kind === 'party') names.add('party session (Authorization: Bearer <credential> + X-Sigillum-Session)');
    if (rule.kind === 'machine') names.add('client certificate issued by the Sigillum CA (mutual TLS)');
  }
  return [...names];
}

function admits(rule: AccessRule, principal: Principal, params: Readonly<Record<string, string | undefined>>): boolean {
  switch (rule.kind) {
    case 'public':
      return true;
    case 'staff':
      return principal.kind === 'staff' && principal.roles.some((role) => rule.roles.includes(role));
    case 'party':
      return principal.kind === 'party' && (rule.param === undefined || params[rule.param] === principal.partyId);
    case 'machine':
      return principal.kind === 'machine' && (rule.param === undefined || params[rule.param] === principal.partyId);
    default: {
      const never: never = rule;
      return never;
    }
  }
}

/**
 * The access rule itself, pure: deny unless a rule of the route's decision admits the principal. Anonymous callers
 * get 401 (authenticate first); authenticated callers that no rule admits get 403 naming why.
 */
export function decideAccess(
  decision: AccessDecision | undefined,
  principal: Principal,
  params: Readonly<Record<string, string | undefined>> = {},
): AccessVerdict {
  if (!decision || decision.length === 0) {
    return { allowed: false, status: 403, rule: 'access.undeclared', message: 'This route has no access decision; it is refused to everyone' };
  }
  const by = decision.find((rule) => admits(rule, principal, params));
  if (by) return { allowed: true, by };
  if (principal.kind === 'anonymous') {
    return {
      allowed: false,
      status: 401,
      rule: 'access.unauthenticated',
      message: `Authenticate first; this route accepts: ${acceptedCredentials(decision).join('; ')}`,
    };
  }
  const staffRoles = decision.flatMap((rule) => (rule.kind === 'staff' ? rule.roles : []));
  if (principal.kind === 'staff') {
    return staffRoles.length
      ? { allowed: false, status: 403, rule: 'access.role', message: `This route needs one of the staff roles: ${staffRoles.join(', ')}` }
      : {
          allowed: false,
          status: 403,
          rule: 'access.staff-not-allowed',
          message: 'Staff may not call this route; it is for parties or machines acting on their own resources',
        };
  }
  const own = decision.find((rule) => rule.kind === principal.kind);
  if (own) {
    return {
      allowed: false,
      status: 403,
      rule: 'access.not-own-resource',
      message: `A ${principal.kind} may act only on its own resources here`,
    };
  }
  return { allowed: false, status: 403, rule: `access.${principal.kind}-not-allowed`, message: `A ${principal.kind} may not call this route` };
}
