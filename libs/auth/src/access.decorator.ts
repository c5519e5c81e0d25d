import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension, ApiForbiddenResponse, ApiSecurity, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { AccessDecision, AccessRule } from './access-rules';
import type { StaffRole } from './principal';

/** Metadata key holding a route's AccessDecision (method first, then controller). */
export const ACCESS_DECISION = 'sigillum:access';

/** OpenAPI security scheme names (declared in libs/runtime/src/openapi.ts). */
export const SECURITY_SCHEMES = {
  staffOidc: 'staffOidc',
  staffCredential: 'staffCredential',
  partySession: 'partySession',
  partySessionId: 'partySessionId',
  machineCertificate: 'machineCertificate',
} as const;

function securityOf(decision: AccessDecision): MethodDecorator[] {
  if (decision.some((rule) => rule.kind === 'public')) return [];
  const requirements: Record<string, string[]>[] = [];
  for (const rule of decision) {
    if (rule.kind === 'staff') {
      requirements.push({ [SECURITY_SCHEMES.staffOidc]: [...rule.roles] }, { [SECURITY_SCHEMES.staffCredential]: [] });
    } else if (rule.kind === 'party') {
      requirements.push({ [SECURITY_SCHEMES.partySession]: [], [SECURITY_SCHEMES.partySessionId]: [] });
    } else if (rule.kind === 'machine') {
      requirements.push({ [SECURITY_SCHEMES.machineCertificate]: [] });
    }
  }
  const unique = [...new Map(requirements.map((requirement) => [JSON.stringify(requirement), requirement])).values()];
  return [
    ...unique.map((requirement) => ApiSecurity(requirement) as MethodDecorator),
    ApiUnauthorizedResponse({
      description:
        'No credential, or one that does not hold (reasons[0].rule says which: access.unauthenticated, credential.invalid, staff.credential-revoked, …)',
    }) as MethodDecorator,
    ApiForbiddenResponse({ description: 'Authenticated, but not allowed here (reasons[0].rule: access.role, access.not-own-resource, …)' }) as MethodDecorator,
  ];
}

/**
 * Declares who may call a route (or every route of a controller): any of `rules` admits. The decision is also
 * written into the OpenAPI document (`security` and `x-sigillum-access`), so clients and the route-table test read it.
 */
export const Access = (...rules: AccessRule[]) =>
  applyDecorators(
    SetMetadata(ACCESS_DECISION, rules as AccessDecision),
    ApiExtension('x-sigillum-access', rules),
    ...(securityOf(rules) as (ClassDecorator & MethodDecorator)[]),
  );

/** The rule builders, to read as a sentence: `@Access(staff('registrar'), party('partyId'))`. */
export const publicRoute = (why: string): AccessRule => ({ kind: 'public', why });
export const staff = (...roles: StaffRole[]): AccessRule => ({ kind: 'staff', roles });
export const party = (param?: string): AccessRule => (param === undefined ? { kind: 'party' } : { kind: 'party', param });
export const machine = (param?: string): AccessRule => (param === undefined ? { kind: 'machine' } : { kind: 'machine', param });
