import { STAFF_ROLE_NAMES } from '@sigillum/contracts';

/** Staff roles (BRIEF §4b): what an operator's own people may do; the names the staff events record. */
export const STAFF_ROLES = STAFF_ROLE_NAMES;
export type StaffRole = (typeof STAFF_ROLES)[number];

export const isStaffRole = (value: unknown): value is StaffRole => STAFF_ROLES.includes(value as StaffRole);

/** Who made a request, once authenticated. One request has exactly one principal. */
export type Principal =
  | { readonly kind: 'anonymous' }
  /** An operator's staff member: OIDC bearer token (`via: 'oidc'`) or a credential issued by Sigillum (`via: 'credential'`). */
  | { readonly kind: 'staff'; readonly subject: string; readonly roles: readonly StaffRole[]; readonly via: 'oidc' | 'credential' }
  /** A party acting through its own open session (claim 1 is its authentication). */
  | { readonly kind: 'party'; readonly partyId: string; readonly sessionId: string }
  /** A machine (processing operator, partner, gateway) presenting a client certificate issued by Sigillum's CA. */
  | { readonly kind: 'machine'; readonly partyId: string; readonly certificateSerial: string };

export const ANONYMOUS: Principal = { kind: 'anonymous' };

/** A short, secret-free description of a principal for logs and refusals. */
export function describePrincipal(principal: Principal): string {
  switch (principal.kind) {
    case 'anonymous':
      return 'anonymous';
    case 'staff':
      return `staff ${principal.subject} (${principal.roles.join(', ') || 'no role'})`;
    case 'party':
      return `party ${principal.partyId}`;
    case 'machine':
      return `machine ${principal.partyId}`;
    default: {
      const never: never = principal;
      return never;
    }
  }
}
