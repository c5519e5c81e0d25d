import { ConfigError } from '@sigillum/config';
import { ASYMMETRIC_ALGORITHMS, describeOidcConfig, loadOidcConfig, OIDC_ENVIRONMENT } from './oidc-config';

const base = { OIDC_ISSUER: 'https://id.example.org/realms/staff', OIDC_AUDIENCE: 'https://sigillum.example.org' };

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadOidcConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadOidcConfig', () => {
  it('is off when OIDC_ISSUER is not set', () => {
    expect(loadOidcConfig({})).toBeNull();
    expect(loadOidcConfig({ OIDC_ISSUER: '  ' })).toBeNull();
  });

  it('refuses OIDC_* settings without OIDC_ISSUER, naming them', () => {
    const problems = problemsOf({ OIDC_AUDIENCE: 'x', OIDC_ROLE_MAP: 'a=admin' });
    expect(problems).toEqual([expect.stringMatching(/^OIDC_AUDIENCE, OIDC_ROLE_MAP are set but OIDC_ISSUER is not/)]);
  });

  it('reads the defaults', () => {
    expect(loadOidcConfig(base)).toEqual({
      issuer: base.OIDC_ISSUER,
      audiences: [base.OIDC_AUDIENCE],
      rolesClaim: 'roles',
      algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      clockToleranceSeconds: 30,
      httpTimeoutMs: 3000,
    });
  });

  it('reads every setting', () => {
    const config = loadOidcConfig({
      ...base,
      OIDC_AUDIENCE: 'sigillum, https://sigillum.example.org ',
      OIDC_ROLES_CLAIM: 'realm_access.roles',
      OIDC_ROLE_MAP: 'sigillum-admin=admin, sigillum-ops=ops,urn:idp:group=auditor,sigillum-ops=auditor',
      OIDC_JWKS_URI: 'https://id.example.org/keys',
      OIDC_ALGORITHMS: 'ES256,EdDSA',
      OIDC_CLOCK_TOLERANCE_SECONDS: '0',
      OIDC_HTTP_TIMEOUT_MS: '500',
    });
    expect(config).toMatchObject({
      audiences: ['sigillum', 'https://sigillum.example.org'],
      rolesClaim: 'realm_access.roles',
      jwksUri: 'https://id.example.org/keys',
      algorithms: ['ES256', 'EdDSA'],
      clockToleranceSeconds: 0,
      httpTimeoutMs: 500,
    });
    expect([...config!.roleMap!]).toEqual([
      ['sigillum-admin', ['admin']],
      ['sigillum-ops', ['ops', 'auditor']],
      ['urn:idp:group', ['auditor']],
    ]);
    expect(describeOidcConfig(config!)).toBe(
      'OIDC staff tokens: issuer https://id.example.org/realms/staff, audience sigillum or https://sigillum.example.org, ' +
        'roles from claim realm_access.roles mapped by OIDC_ROLE_MAP (sigillum-admin→admin, sigillum-ops→ops+auditor, urn:idp:group→auditor), ' +
        'keys from https://id.example.org/keys, algorithms ES256, EdDSA',
    );
  });

  it('requires the audience with the issuer', () => {
    expect(problemsOf({ OIDC_ISSUER: base.OIDC_ISSUER })).toEqual([expect.stringMatching(/^OIDC_AUDIENCE is required when OIDC_ISSUER is set/)]);
  });

  it('wants https, except on a loopback address', () => {
    expect(problemsOf({ ...base, OIDC_ISSUER: 'http://id.example.org' })).toEqual([
      expect.stringMatching(/^OIDC_ISSUER="http:\/\/id.example.org" must be an https URL/),
    ]);
    expect(problemsOf({ ...base, OIDC_ISSUER: 'not a url' })).toEqual(['OIDC_ISSUER="not a url" is not a URL']);
    expect(problemsOf({ ...base, OIDC_JWKS_URI: 'http://keys.example.org/jwks' })[0]).toMatch(/^OIDC_JWKS_URI=.* must be an https URL/);
    expect(problemsOf({ ...base, OIDC_ISSUER: 'https://id.example.org/?realm=x' })[0]).toMatch(/must not carry a query/);
    expect(loadOidcConfig({ ...base, OIDC_ISSUER: 'http://127.0.0.1:8080' })?.issuer).toBe('http://127.0.0.1:8080');
    expect(loadOidcConfig({ ...base, OIDC_ISSUER: 'http://localhost:8080/realms/x' })?.issuer).toBe('http://localhost:8080/realms/x');
  });

  it('never accepts a symmetric algorithm or none', () => {
    for (const alg of ['HS256', 'hs512', 'none']) {
      expect(problemsOf({ ...base, OIDC_ALGORITHMS: `RS256,${alg}` })).toEqual([expect.stringMatching(new RegExp(`^OIDC_ALGORITHMS: "${alg}" is refused`))]);
    }
    expect(problemsOf({ ...base, OIDC_ALGORITHMS: 'RS1' })).toEqual([`OIDC_ALGORITHMS: "RS1" is not one of ${ASYMMETRIC_ALGORITHMS.join(', ')}`]);
    expect(problemsOf({ ...base, OIDC_ALGORITHMS: ' , ' })[0]).toMatch(/^OIDC_ALGORITHMS names no algorithm/);
  });

  it('checks the role map and the roles claim', () => {
    expect(problemsOf({ ...base, OIDC_ROLE_MAP: 'sigillum-admin=root' })).toEqual([
      'OIDC_ROLE_MAP entry "sigillum-admin=root": "root" is not a staff role (admin, registrar, ops, auditor)',
    ]);
    expect(problemsOf({ ...base, OIDC_ROLE_MAP: 'admin' })[0]).toMatch(/^OIDC_ROLE_MAP entry "admin" must read <external role>=<staff role>/);
    expect(problemsOf({ ...base, OIDC_ROLE_MAP: ',' })[0]).toMatch(/^OIDC_ROLE_MAP is set but maps nothing/);
    expect(problemsOf({ ...base, OIDC_ROLES_CLAIM: 'realm_access..roles' })[0]).toMatch(
      /^OIDC_ROLES_CLAIM="realm_access..roles" must be a claim name or a dotted path/,
    );
    expect(problemsOf({ ...base, OIDC_ROLES_CLAIM: 'my roles' })[0]).toMatch(/^OIDC_ROLES_CLAIM/);
    expect(loadOidcConfig({ ...base, OIDC_ROLES_CLAIM: 'https://sigillum.example.org/roles' })?.rolesClaim).toBe('https://sigillum.example.org/roles');
  });

  it('checks the numbers', () => {
    expect(problemsOf({ ...base, OIDC_CLOCK_TOLERANCE_SECONDS: '301', OIDC_HTTP_TIMEOUT_MS: '5s' })).toEqual([
      'OIDC_CLOCK_TOLERANCE_SECONDS="301" must be a whole number from 0 to 300',
      'OIDC_HTTP_TIMEOUT_MS="5s" must be a whole number from 100 to 30000',
    ]);
  });

  it('lists every problem at once', () => {
    expect(problemsOf({ OIDC_ISSUER: 'ftp://x', OIDC_ALGORITHMS: 'HS256', OIDC_ROLE_MAP: 'a=b' })).toHaveLength(4);
  });

  it('documents every variable it reads', () => {
    for (const [name, entry] of Object.entries(OIDC_ENVIRONMENT)) {
      expect(name).toMatch(/^OIDC_[A-Z_]+$/);
      expect(typeof entry.default).toBe('string');
      expect(entry.help.length).toBeGreaterThan(10);
    }
  });
});
