import { Test } from '@nestjs/testing';
import { ConfigError } from '@sigillum/config';
import { AuthModule } from '../auth.module';
import { AuthenticatorRegistry } from '../authenticator-registry';
import { claimAt, externalRoles, OidcStaffAuthenticator, oidcAuthenticatorFromEnv, staffRolesOf } from './oidc-staff-authenticator';
import { OIDC_STAFF_AUTHENTICATOR, OidcStaffModule } from './oidc.module';

const env = { OIDC_ISSUER: 'https://id.example.org', OIDC_AUDIENCE: 'sigillum' };
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('OIDC roles', () => {
  it('reads a claim by name, then along a dotted path', () => {
    const payload = { roles: ['admin'], realm_access: { roles: ['ops'] }, 'https://example.org/roles': 'auditor', a: { b: null } };
    expect(claimAt(payload, 'roles')).toEqual(['admin']);
    expect(claimAt(payload, 'realm_access.roles')).toEqual(['ops']);
    expect(claimAt(payload, 'https://example.org/roles')).toBe('auditor');
    expect(claimAt(payload, 'realm_access.missing')).toBeUndefined();
    expect(claimAt(payload, 'a.b.c')).toBeUndefined();
    expect(claimAt(payload, 'roles.length')).toBeUndefined();
    expect(claimAt(payload, 'toString')).toBeUndefined();
  });

  it('takes an array of strings or a space-separated string, nothing else', () => {
    expect(externalRoles(['admin', 3, '', 'ops'])).toEqual(['admin', 'ops']);
    expect(externalRoles(' admin  auditor ')).toEqual(['admin', 'auditor']);
    expect(externalRoles({ admin: true })).toEqual([]);
    expect(externalRoles(undefined)).toEqual([]);
  });

  it('keeps known staff roles once, in the usual order; with a map, only mapped names count', () => {
    expect(staffRolesOf(['auditor', 'root', 'admin', 'admin'])).toEqual(['admin', 'auditor']);
    const map = new Map([['idp-admins', ['admin' as const, 'auditor' as const]]]);
    expect(staffRolesOf(['idp-admins', 'ops'], map)).toEqual(['admin', 'auditor']);
    expect(staffRolesOf(['ops'], map)).toEqual([]);
  });
});

describe('OidcStaffAuthenticator', () => {
  it('is off without OIDC_ISSUER and refuses an invalid configuration', () => {
    expect(oidcAuthenticatorFromEnv({})).toBeNull();
    expect(() => oidcAuthenticatorFromEnv({ OIDC_ISSUER: 'https://id.example.org' })).toThrow(ConfigError);
    expect(oidcAuthenticatorFromEnv(env)).toBeInstanceOf(OidcStaffAuthenticator);
  });

  it('recognises JWS-shaped tokens only', () => {
    const oidc = OidcStaffAuthenticator.fromEnv(env)!;
    expect(oidc.recognises(`${b64url({ alg: 'RS256', kid: 'k' })}.${b64url({ sub: 'x' })}.c2ln`)).toBe(true);
    expect(oidc.recognises(`${b64url({ alg: 'none' })}.${b64url({ sub: 'x' })}.`)).toBe(true);
    expect(oidc.recognises('sgst_0123456789abcdef0123456789abcdef')).toBe(false);
    expect(oidc.recognises('abc.def.ghi')).toBe(false);
    expect(oidc.recognises(`${b64url(['alg'])}.${b64url({})}.c2ln`)).toBe(false);
    expect(oidc.recognises(`${b64url({ alg: 'RS256' })}.${b64url({})}`)).toBe(false);
  });

  it('refuses, without any network call, tokens of another issuer or algorithm and malformed ones', async () => {
    const oidc = OidcStaffAuthenticator.fromEnv({ ...env, OIDC_JWKS_URI: 'https://192.0.2.1/never-called' })!;
    const token = (header: object, payload: object) => `${b64url(header)}.${b64url(payload)}.c2ln`;
    await expect(oidc.authenticate(token({ alg: 'HS256' }, { iss: env.OIDC_ISSUER }))).rejects.toMatchObject({ rule: 'staff.token-algorithm' });
    await expect(oidc.authenticate(token({ alg: 'RS256' }, { iss: 'https://evil.example' }))).rejects.toMatchObject({ rule: 'staff.token-issuer' });
    await expect(oidc.authenticate(token({ alg: 'RS256' }, {}))).rejects.toMatchObject({ rule: 'staff.token-issuer' });
    await expect(oidc.authenticate(`${b64url({ alg: 'RS256' })}.!!.c2ln`)).rejects.toMatchObject({ rule: 'staff.token-invalid' });
  });

  it('registers itself through OidcStaffModule when OIDC_ISSUER is set', async () => {
    const on = await Test.createTestingModule({ imports: [AuthModule, OidcStaffModule.fromEnv(env)] }).compile();
    const authenticator = on.get(OIDC_STAFF_AUTHENTICATOR);
    expect(authenticator).toBeInstanceOf(OidcStaffAuthenticator);
    expect(on.get(AuthenticatorRegistry).staffFor(`${b64url({ alg: 'ES256' })}.${b64url({})}.c2ln`)).toBe(authenticator);
    await on.close();

    const off = await Test.createTestingModule({ imports: [AuthModule, OidcStaffModule.fromEnv({})] }).compile();
    expect(off.get(OIDC_STAFF_AUTHENTICATOR)).toBeNull();
    await off.close();
  });
});
