import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import * as net from 'node:net';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { OidcTestProvider } from '../../test/oidc-test-provider';
import { decideAccess } from '../access-rules';
import { staff } from '../access.decorator';
import { AuthenticatorRegistry } from '../authenticator-registry';
import { AuthenticationError } from '../authenticators';
import { OidcStaffAuthenticator } from './oidc-staff-authenticator';

jest.setTimeout(60_000);

/** A logger that keeps what it is told, so the tests read the warnings and the output stays quiet. */
function quietLogger() {
  const lines: string[] = [];
  return {
    lines,
    log: (m: unknown) => void lines.push(`log ${m}`),
    warn: (m: unknown) => void lines.push(`warn ${m}`),
    debug: (m: unknown) => void lines.push(`debug ${m}`),
  };
}

async function refusal(promise: Promise<unknown>): Promise<AuthenticationError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AuthenticationError);
    return error as AuthenticationError;
  }
  throw new Error('expected the token to be refused');
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('OidcStaffAuthenticator against a real OpenID Connect provider (oidc-provider in a child process)', () => {
  let idp: OidcTestProvider;
  /** Another provider claiming idp's issuer identifier, with its own keys under the same key ids. */
  let impostor: OidcTestProvider;
  /** A Keycloak-like provider: roles under realm_access.roles, tokens in ES256. */
  let realm: OidcTestProvider;
  let authenticator: OidcStaffAuthenticator;
  let logger: ReturnType<typeof quietLogger>;

  const authenticatorFor = (provider: OidcTestProvider, env: NodeJS.ProcessEnv = {}, log = quietLogger()) =>
    OidcStaffAuthenticator.fromEnv({ ...provider.env(), ...env }, { logger: log })!;

  beforeAll(async () => {
    [idp, realm] = await Promise.all([OidcTestProvider.start(), OidcTestProvider.start({ rolesClaim: 'realm_access.roles', alg: 'ES256' })]);
    impostor = await OidcTestProvider.start({ issuer: idp.issuer });
    logger = quietLogger();
    authenticator = authenticatorFor(idp, {}, logger);
  });

  afterAll(async () => {
    await Promise.all([idp?.stop(), impostor?.stop(), realm?.stop()]);
  });

  it('admits a token holding role admin: a staff principal with roles [admin], via oidc', async () => {
    const token = await idp.token({ roles: ['admin'], username: 'ada' });
    expect(authenticator.recognises(token)).toBe(true);
    const principal = await authenticator.authenticate(token);
    expect(principal).toEqual({ kind: 'staff', subject: decodeJwt(token).sub, roles: ['admin'], via: 'oidc' });
    expect(decodeJwt(token)).toMatchObject({ iss: idp.issuer, aud: idp.audience, preferred_username: 'ada' });
    expect(decideAccess([staff('admin')], principal).allowed).toBe(true);
    expect(logger.lines.some((line) => line.startsWith('debug') && line.includes('(ada)') && line.includes('admin'))).toBe(true);
  });

  it('is found through the AuthenticatorRegistry for a JWT, not for another kind of bearer token', async () => {
    const registry = new AuthenticatorRegistry();
    registry.registerStaff(authenticator);
    expect(registry.staffFor(await idp.token({ roles: ['ops'] }))).toBe(authenticator);
    expect(registry.staffFor('sgst_0123456789abcdef0123456789abcdef')).toBeUndefined();
  });

  it('verifies every accepted algorithm: RS256, PS256, ES256, EdDSA', async () => {
    for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA'] as const) {
      const token = await idp.token({ roles: ['registrar'], alg });
      expect(decodeProtectedHeader(token).alg).toBe(alg);
      await expect(authenticator.authenticate(token)).resolves.toMatchObject({ roles: ['registrar'] });
    }
  });

  it('keeps only the known staff roles', async () => {
    const principal = await authenticator.authenticate(await idp.token({ roles: ['auditor', 'superuser', 'ops', 'offline_access'] }));
    expect(principal.roles).toEqual(['ops', 'auditor']);
  });

  it('gives a token holding no known role a principal with no role, which the guard refuses with 403, and warns once', async () => {
    const token = await idp.token({ roles: ['superuser'], clientId: 'eve' });
    const principal = await authenticator.authenticate(token);
    expect(principal).toEqual({ kind: 'staff', subject: 'eve', roles: [], via: 'oidc' });
    expect(decideAccess([staff('admin', 'ops')], principal)).toMatchObject({ allowed: false, status: 403, rule: 'access.role' });
    await authenticator.authenticate(token);
    const warnings = logger.lines.filter((line) => line.startsWith('warn') && line.includes('eve'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('grants no staff role (it holds superuser');
  });

  it('reads roles from a dotted path and maps external names with OIDC_ROLE_MAP', async () => {
    const token = await realm.token({ roles: ['sigillum-admin', 'sigillum-audit', 'admin', 'uma_authorization'] });
    expect(decodeJwt(token)).toMatchObject({ realm_access: { roles: ['sigillum-admin', 'sigillum-audit', 'admin', 'uma_authorization'] } });
    expect(decodeProtectedHeader(token).alg).toBe('ES256');
    const mapped = authenticatorFor(realm, { OIDC_ROLE_MAP: 'sigillum-admin=registrar,sigillum-audit=auditor' });
    // With a role map, only the names it lists count: the IdP's own "admin" role grants nothing here.
    expect((await mapped.authenticate(token)).roles).toEqual(['registrar', 'auditor']);
    const unmapped = authenticatorFor(realm);
    expect((await unmapped.authenticate(token)).roles).toEqual(['admin']);
  });

  it('refuses a token issued for another audience: staff.token-audience', async () => {
    const token = await idp.token({ roles: ['admin'], audience: 'https://another-app.test/api' });
    expect(decodeJwt(token).aud).toBe('https://another-app.test/api');
    const error = await refusal(authenticator.authenticate(token));
    expect(error.rule).toBe('staff.token-audience');
    expect(error.message).toContain(idp.audience);
  });

  it('refuses an expired token: staff.token-expired', async () => {
    const strict = authenticatorFor(idp, { OIDC_CLOCK_TOLERANCE_SECONDS: '0' });
    const token = await idp.token({ roles: ['admin'], ttlSeconds: 1 });
    const { exp } = decodeJwt(token);
    await sleep(exp! * 1000 - Date.now() + 200);
    const error = await refusal(strict.authenticate(token));
    expect(error.rule).toBe('staff.token-expired');
    expect(error.message).toContain(`expired at ${new Date(exp! * 1000).toISOString()}`);
    // The default tolerance (30 s) still admits it: a small clock skew between the issuer and this server is fine.
    await expect(authenticator.authenticate(token)).resolves.toMatchObject({ roles: ['admin'] });
  });

  it('refuses a token signed by another key under the same issuer and key id: staff.token-signature', async () => {
    const forged = await impostor.token({ roles: ['admin'] });
    const genuine = await idp.token({ roles: ['admin'] });
    expect(decodeJwt(forged).iss).toBe(idp.issuer);
    expect(decodeJwt(forged).aud).toBe(idp.audience);
    expect(decodeProtectedHeader(forged).kid).toBe(decodeProtectedHeader(genuine).kid);
    expect((await refusal(authenticator.authenticate(forged))).rule).toBe('staff.token-signature');
  });

  it('refuses a genuine token whose claims were altered: staff.token-signature', async () => {
    const genuine = await idp.token({ roles: ['auditor'] });
    const [header, , signature] = genuine.split('.');
    const altered = `${header}.${b64url({ ...decodeJwt(genuine), roles: ['admin'] })}.${signature}`;
    expect((await refusal(authenticator.authenticate(altered))).rule).toBe('staff.token-signature');
  });

  it('refuses a token of another issuer before calling anyone: staff.token-issuer', async () => {
    const error = await refusal(authenticator.authenticate(await realm.token({ roles: ['admin'] })));
    expect(error.rule).toBe('staff.token-issuer');
    expect(error.message).toContain(idp.issuer);
  });

  describe('forgeries made by hand (the attack itself)', () => {
    const claims = () => ({ iss: idp.issuer, aud: idp.audience, sub: 'mallory', roles: ['admin'], exp: Math.floor(Date.now() / 1000) + 300 });

    it("refuses HS256, even keyed with the issuer's public key (algorithm confusion): staff.token-algorithm", async () => {
      const jwks = (await (await fetch(idp.jwksUri)).json()) as { keys: Array<Record<string, string>> };
      const rsa = jwks.keys.find((key) => key.kty === 'RSA')!;
      const publicPem = createPublicKey({ key: rsa, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      for (const secret of [Buffer.from(publicPem), Buffer.from('a shared secret of thirty-two bytes!')]) {
        const forged = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: rsa.kid, typ: 'at+jwt' }).sign(secret);
        expect(authenticator.recognises(forged)).toBe(true);
        const error = await refusal(authenticator.authenticate(forged));
        expect(error.rule).toBe('staff.token-algorithm');
        expect(error.message).toContain('"HS256"');
      }
    });

    it('refuses an unsigned token (alg none, with or without a signature part): staff.token-algorithm', async () => {
      for (const alg of ['none', 'None', 'NONE']) {
        for (const signature of ['', 'AAAA']) {
          const forged = `${b64url({ alg, typ: 'JWT' })}.${b64url(claims())}.${signature}`;
          expect(authenticator.recognises(forged)).toBe(true);
          expect((await refusal(authenticator.authenticate(forged))).rule).toBe('staff.token-algorithm');
        }
      }
    });

    it('refuses a token signed with a key the issuer never published: staff.token-signature', async () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      for (const kid of ['test-ec', 'a-key-of-my-own', undefined]) {
        const forged = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', ...(kid ? { kid } : {}) }).sign(privateKey);
        expect((await refusal(authenticator.authenticate(forged))).rule).toBe('staff.token-signature');
      }
    });

    it('refuses what is not a JWT at all', async () => {
      expect(authenticator.recognises('not.a.jwt')).toBe(false);
      expect(authenticator.recognises(`${b64url({ typ: 'JWT' })}.${b64url(claims())}.AAAA`)).toBe(false); // no alg
      expect((await refusal(authenticator.authenticate(`${b64url({ alg: 'RS256' })}.bm90IGpzb24.AAAA`))).rule).toBe('staff.token-invalid');
    });
  });

  it('takes the keys from OIDC_JWKS_URI when it is set', async () => {
    const direct = authenticatorFor(idp, { OIDC_JWKS_URI: idp.jwksUri });
    await expect(direct.authenticate(await idp.token({ roles: ['ops'] }))).resolves.toMatchObject({ roles: ['ops'] });
  });

  // The hang guard is this test's own timeout (10 s): the cold server's HTTP timeout is 30 s, so a refusal that
  // waited for it (rather than for the refused connection) fails the test; normally it takes a few ms.
  it('issuer stopped: a fresh server refuses at once with staff.issuer-unreachable, not after its HTTP timeout; a warm one goes on with the keys it holds', async () => {
    const doomed = await OidcTestProvider.start();
    try {
      const token = await doomed.token({ roles: ['admin'] });
      const warm = authenticatorFor(doomed);
      await expect(warm.authenticate(token)).resolves.toMatchObject({ roles: ['admin'] });
      await doomed.stop();

      const cold = authenticatorFor(doomed, { OIDC_HTTP_TIMEOUT_MS: '30000' });
      const error = await refusal(cold.authenticate(token));
      expect(error.rule).toBe('staff.issuer-unreachable');
      expect(error.message).toContain(`the OIDC issuer ${doomed.issuer} did not provide its discovery document`);
      expect(error.message).toMatch(/ECONNREFUSED/);
      expect(error.message).toContain('Retry in a moment');

      await expect(warm.authenticate(token)).resolves.toMatchObject({ roles: ['admin'] });
    } finally {
      await doomed.stop();
    }
  }, 10_000);

  // The hang guard is this test's own timeout, 3 s: 10x the 300 ms OIDC_HTTP_TIMEOUT_MS it is given (the file's 60 s
  // is for the providers' start). A request left without that timeout (fetch's, or jose's default 5 s) fails it.
  it.each([
    ['discovery document', {}],
    ['key set', { OIDC_JWKS_URI: 'jwks' }],
  ])(
    'an issuer that accepts connections and never answers its %s: refused after OIDC_HTTP_TIMEOUT_MS, never a hang',
    async (what, env) => {
      const sockets = new Set<net.Socket>();
      const silent = net.createServer((socket) => void sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const issuer = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      try {
        const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const token = await new SignJWT({ roles: ['admin'] })
          .setProtectedHeader({ alg: 'ES256', kid: 'k' })
          .setIssuer(issuer)
          .setAudience('sigillum')
          .setSubject('someone')
          .setExpirationTime('5m')
          .sign(privateKey);
        const stuck = OidcStaffAuthenticator.fromEnv(
          {
            OIDC_ISSUER: issuer,
            OIDC_AUDIENCE: 'sigillum',
            OIDC_HTTP_TIMEOUT_MS: '300',
            ...('OIDC_JWKS_URI' in env ? { OIDC_JWKS_URI: `${issuer}/jwks` } : {}),
          },
          { logger: quietLogger() },
        )!;
        const error = await refusal(stuck.authenticate(token));
        expect(error.rule).toBe('staff.issuer-unreachable');
        expect(error.message).toContain(`did not provide its ${what} (no answer within 300 ms)`);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    },
    3_000,
  );
});
