import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { createSigillumApp } from '@sigillum/runtime';
import { validate } from '@readme/openapi-parser';
import request from 'supertest';
import { rolesFor } from '../src/roles';

describe('OpenAPI document at /docs', () => {
  let app: INestApplication;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-openapi-'));
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn' });
    app = await createSigillumApp(config, rolesFor(config.roles));
    await app.listen(0, '127.0.0.1');
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('describes every route with request schemas derived from the validation rules', async () => {
    const document = (await request(app.getHttpServer()).get('/docs-json').expect(200)).body;
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/parties', '/health']));
    const register = document.components.schemas.RegisterPartyBody;
    expect(register).toMatchObject({ type: 'object', additionalProperties: false });
    expect(register.properties.kind.enum).toEqual(expect.arrayContaining(['person', 'organisation', 'operator']));
    expect(register.properties.displayName).toMatchObject({ type: 'string', minLength: 1, maxLength: 200 });
    expect(register.required).toEqual(expect.arrayContaining(['kind', 'displayName']));
    // @Length(1, 255) on a content part's name: class-validator calls the rule isLength.
    expect(document.components.schemas.ContentPartBody.properties.name).toMatchObject({ type: 'string', minLength: 1, maxLength: 255 });
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/drafts', '/drafts/{draftId}/sending', '/chains/{correspondenceId}', '/evidence/{correspondenceId}', '/processor/operators']),
    );
  });

  it('validates with a kept OpenAPI validator, every operation with a unique id, a summary and its security stated', async () => {
    const document = (await request(app.getHttpServer()).get('/docs-json').expect(200)).body;
    const result = await validate(structuredClone(document));
    expect((result as { errors?: unknown[] }).errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const operations = Object.entries(document.paths as Record<string, Record<string, Record<string, unknown>>>).flatMap(([route, item]) =>
      Object.entries(item).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${route}`, operation })),
    );
    expect(operations.length).toBeGreaterThan(55);
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(operations.filter(({ operation }) => !operation.summary).map(({ name }) => name)).toEqual([]);
    for (const { name, operation } of operations) {
      const access = operation['x-sigillum-access'] as { kind: string }[] | undefined;
      expect({ name, decided: Array.isArray(access) && access.length > 0 }).toEqual({ name, decided: true });
      const isPublic = access!.some((rule) => rule.kind === 'public');
      // Public routes state no requirement; every other one names its schemes.
      expect({
        name,
        security: isPublic ? ((operation.security as unknown[] | undefined) ?? []).length === 0 : (operation.security as unknown[]).length > 0,
      }).toEqual({ name, security: true });
    }
    expect(Object.keys(document.components.securitySchemes)).toEqual(
      expect.arrayContaining(['staffOidc', 'staffCredential', 'partySession', 'partySessionId', 'machineCertificate']),
    );
    for (const [name, schema] of Object.entries(document.components.schemas as Record<string, { required?: unknown[] }>)) {
      expect({ name, emptyRequired: Array.isArray(schema.required) && schema.required.length === 0 }).toEqual({ name, emptyRequired: false });
    }
  });

  it('serves the interactive UI', async () => {
    const page = await request(app.getHttpServer()).get('/docs').redirects(1).expect(200);
    expect(page.text).toContain('swagger');
  });
});
