import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { createSigillumApp } from '@sigillum/runtime';
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

  it('serves the interactive UI', async () => {
    const page = await request(app.getHttpServer()).get('/docs').redirects(1).expect(200);
    expect(page.text).toContain('swagger');
  });
});
