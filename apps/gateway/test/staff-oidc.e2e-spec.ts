import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { OidcTestProvider } from '../../../libs/auth/test/oidc-test-provider';
import { rolesFor } from '../src/roles';

/**
 * Staff of the operator's IT sign in with its OIDC issuer (issue #8): a real OpenID provider in a child process, the
 * whole app configured with OIDC_ISSUER, tokens fetched over HTTP as a client would — and the app's own staff
 * credentials still working beside it.
 */
describe('staff signing in with the operator OIDC issuer', () => {
  let idp: OidcTestProvider;
  let app: INestApplication;
  let dataDir: string;
  let base: string;
  let store: EventStore;

  const call = async (method: string, url: string, token?: string, body?: unknown) => {
    const response = await fetch(`${base}${url}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : {} };
  };
  const ruleOf = (answer: { body: any }) => answer.body?.reasons?.[0]?.rule as string | undefined;

  beforeAll(async () => {
    idp = await OidcTestProvider.start();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-oidc-'));
    const config = loadConfig({ ...idp.env(), DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret' });
    app = await createSigillumApp(config, rolesFor(config.roles));
    await app.listen(0, '127.0.0.1');
    base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    store = app.get(EVENT_STORE);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await idp?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('admits a registrar by its token and its roles claim, and records no token', async () => {
    const token = await idp.token({ roles: ['registrar'], clientId: 'ada-registrar' });
    expect((await call('GET', '/staff/me', token)).body).toMatchObject({ kind: 'staff', subject: 'ada-registrar', roles: ['registrar'], via: 'oidc' });
    const enrolled = await call('POST', '/parties', token, { kind: 'person', displayName: 'Grace Hopper' });
    expect(enrolled.status).toBe(201);
    expect(JSON.stringify((await store.readAll()).map((recorded) => recorded.event))).not.toContain(token.split('.')[2]);
  });

  it('refuses what the roles do not allow (403), and tokens without a known role', async () => {
    const ops = await idp.token({ roles: ['ops'] });
    const enrol = await call('POST', '/parties', ops, { kind: 'person', displayName: 'Mallory' });
    expect([enrol.status, ruleOf(enrol)]).toEqual([403, 'access.role']);
    expect((await call('GET', '/projections', ops)).status).toBe(200);
    const nobody = await idp.token({ roles: ['sigillum-superuser'] });
    const refused = await call('GET', '/parties', nobody);
    expect([refused.status, ruleOf(refused)]).toEqual([403, 'access.role']);
  });

  it('refuses a token for another audience and a forged one (401, rule named)', async () => {
    const elsewhere = await idp.token({ roles: ['admin'], audience: 'https://another.example/api' });
    const wrongAudience = await call('GET', '/staff/me', elsewhere);
    expect([wrongAudience.status, ruleOf(wrongAudience)]).toEqual([401, 'staff.token-audience']);
    const genuine = await idp.token({ roles: ['ops'] });
    const [header, payload, signature] = genuine.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const forged = [header, Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url'), signature].join('.');
    const tampered = await call('POST', '/policies', forged, {});
    expect([tampered.status, ruleOf(tampered)]).toEqual([401, 'staff.token-signature']);
  });

  it('keeps the first-start admin credential working beside OIDC, and names the issuer in the OpenAPI document', async () => {
    const admin = fs.readFileSync(path.join(dataDir, 'admin-credential'), 'utf8').trim();
    expect((await call('GET', '/staff/me', admin)).body).toMatchObject({ kind: 'staff', via: 'credential', roles: ['admin'] });
    const document = (await call('GET', '/docs-json')).body;
    expect(document.components.securitySchemes.staffOidc.openIdConnectUrl).toBe(`${idp.issuer}/.well-known/openid-configuration`);
  });
});
