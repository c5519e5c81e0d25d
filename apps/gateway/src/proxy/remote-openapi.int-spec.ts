import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '@sigillum/config';
import { buildOpenApiDocument, createSigillumApp } from '@sigillum/runtime';
import type { OpenAPIObject } from '@nestjs/swagger';
import { gatewayPlan } from '../roles';
import { remoteRolesSetup } from './remote-roles';

/** The API a client reads at the gateway does not depend on where the roles run. */
describe("the gateway's OpenAPI document with every role in other processes", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

  async function documentOf(env: Record<string, string>): Promise<OpenAPIObject> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-openapi-'));
    dirs.push(dir);
    const config = loadConfig({ DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'error', KEYSTORE_PASSPHRASE: 'int-spec passphrase, not a real secret', ...env });
    const setup = remoteRolesSetup(gatewayPlan(config));
    const app = await createSigillumApp(config, setup.roles, setup.appOptions);
    try {
      return buildOpenApiDocument(
        app,
        setup.roles.map((spec) => spec.role),
      );
    } finally {
      await app.close();
    }
  }

  it('describes the same operations, access rules and schemas as the embedded default, plus GET /health/roles', async () => {
    const embedded = await documentOf({ ROLES: 'all' });
    const remote = await documentOf({
      ROLES: 'gateway',
      ROLE_URLS: ['directory', 'certifier', 'domicile', 'processor', 'projections'].map((role) => `${role}=http://127.0.0.1:9`).join(','),
    });
    expect(remote.paths['/health/roles']?.get).toBeDefined();
    expect(embedded.paths['/health/roles']).toBeUndefined();
    const { ['/health/roles']: _ownRoute, ...paths } = remote.paths;
    expect(paths).toEqual(embedded.paths);
    expect(remote.components?.schemas).toEqual(embedded.components?.schemas);
    expect(remote.info.description).toContain('Roles served by other processes behind this gateway: directory, certifier, domicile, processor, projections.');
  }, 60_000);
});
