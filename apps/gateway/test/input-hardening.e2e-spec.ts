import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { createSigillumApp } from '@sigillum/runtime';
import { adminCredentialOf, bearer, issueStaffToken, MailCatcher } from '@sigillum/testing';
import { call } from '../src/demo/narrator';
import { asBearer } from '../src/demo/staff';
import { type Api, enrolHostedOperator, enrolPerson, type OpenedSession, openSession } from '../src/demo/story';
import { rolesFor } from '../src/roles';

/**
 * Input hardening (issue #8), found by an outside tester against `npm start`: arrays nested 5,000 deep answered 500 on
 * every JSON route, a lone UTF-16 surrogate in a draft subject was accepted (and the specimen then answered 500),
 * display names accepted NUL and CRLF. Every operation of the served OpenAPI document that takes a JSON body gets
 * each hostile body anonymously: the body limits answer 400/413 naming the rule before any guard, never 500.
 */
const HTTP_METHODS = ['post', 'put', 'patch', 'delete'] as const;
const MAX_BYTES = 1024 * 1024;

interface Operation {
  readonly method: (typeof HTTP_METHODS)[number];
  readonly path: string;
  /** The path with each `{param}` replaced by a UUID (the limits answer before any parameter is read). */
  readonly url: string;
}

/** A hostile body, as raw JSON text (so an escaped lone surrogate stays lone), and what must answer it. */
interface Probe {
  readonly name: string;
  readonly text: string;
  readonly status: number;
  readonly rule: string;
  readonly field?: string;
}

const PROBES: Probe[] = [
  { name: 'arrays nested 5,000 deep', text: `{"subject":${'['.repeat(5000)}${']'.repeat(5000)}}`, status: 400, rule: 'maxDepth' },
  { name: 'a 2 MB body', text: JSON.stringify({ subject: 'x'.repeat(2 * MAX_BYTES) }), status: 413, rule: 'maxBytes', field: '(body)' },
  { name: 'a lone surrogate', text: '{"subject":"\\ud800"}', status: 400, rule: 'wellFormed', field: 'subject' },
  { name: 'a lone low surrogate in a display name', text: '{"displayName":"Ada \\udfff"}', status: 400, rule: 'wellFormed', field: 'displayName' },
  { name: 'a NUL in a string', text: '{"displayName":"Ada\\u0000Lovelace"}', status: 400, rule: 'noNul', field: 'displayName' },
  { name: 'a NUL in a key', text: '{"display\\u0000Name":"Ada"}', status: 400, rule: 'noNul', field: 'display\\u0000Name' },
];

describe('input hardening: body limits on every JSON operation, plain text in names and subjects', () => {
  let app: INestApplication;
  let dataDir: string;
  let base: string;
  const mail = new MailCatcher();
  let api: Api;
  let registrar: Api;
  let registrarToken: string;
  let operations: Operation[];

  /** Sends `text` as it is, with `headers`; the status and the parsed JSON answer (or the raw text when it is not JSON). */
  async function send(method: string, url: string, text: string | undefined, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
    const response = await fetch(`${base}${url}`, { method: method.toUpperCase(), headers: { 'content-type': 'application/json', ...headers }, body: text });
    const raw = await response.text();
    let body: unknown = raw;
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      // left as text: the assertion that follows says what came back
    }
    return { status: response.status, body };
  }

  beforeAll(async () => {
    await mail.start();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-input-hardening-'));
    const config = loadConfig({
      ...mail.env(),
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'warn',
      SESSION_REQUEST_WAIT_MS: '10000',
      KEYSTORE_PASSPHRASE: 'input hardening e2e, not a real secret',
    });
    app = await createSigillumApp(config, rolesFor(config.roles));
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
    api = (method, url, body, headers) => call(base, method, url, body, headers);
    registrarToken = await issueStaffToken(base, dataDir, ['registrar'], 'registrar-1');
    registrar = asBearer(api, registrarToken);

    const document = (await send('get', '/docs-json', undefined)).body as {
      paths: Record<string, Record<string, { requestBody?: { content?: Record<string, unknown> } }>>;
    };
    operations = Object.entries(document.paths).flatMap(([route, item]) =>
      HTTP_METHODS.filter((method) => item[method]?.requestBody?.content?.['application/json'] !== undefined).map((method) => ({
        method,
        path: route,
        url: route.replace(/\{[^}]+\}/g, () => randomUUID()),
      })),
    );
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await mail.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('the OpenAPI document lists the JSON operations (the probes below reach them all)', () => {
    const names = operations.map((operation) => `${operation.method.toUpperCase()} ${operation.path}`);
    expect(names).toEqual(expect.arrayContaining(['POST /parties', 'POST /drafts', 'PUT /drafts/{draftId}', 'POST /sessions', 'POST /certificates']));
    expect(operations.length).toBeGreaterThanOrEqual(15);
  });

  it.each(PROBES)(
    '$name: every JSON operation answers $status naming rule $rule, anonymously, never 500',
    async (probe) => {
      const failures: string[] = [];
      for (const operation of operations) {
        const { status, body } = await send(operation.method, operation.url, probe.text);
        const violations = (body as { violations?: { field: string; rule: string; message: string }[] })?.violations ?? [];
        const named = violations.some((violation) => violation.rule === probe.rule && (probe.field === undefined || violation.field === probe.field));
        if (status !== probe.status || !named || (body as { statusCode?: number }).statusCode !== probe.status) {
          failures.push(`${operation.method.toUpperCase()} ${operation.path} answered ${status}: ${JSON.stringify(body).slice(0, 300)}`);
        }
      }
      expect(failures).toEqual([]);
    },
    120_000,
  );

  it('malformed JSON still answers 400 naming the rule, on every JSON operation', async () => {
    for (const operation of operations) {
      const { status, body } = await send(operation.method, operation.url, '{"subject":');
      expect({ operation: `${operation.method} ${operation.path}`, status, rule: body.violations?.[0]?.rule }).toEqual({
        operation: `${operation.method} ${operation.path}`,
        status: 400,
        rule: 'json',
      });
    }
  }, 60_000);

  describe('as the parties and staff who may call (after the limits, the text rules of the DTOs)', () => {
    let alice: string;
    let bob: string;
    let session: OpenedSession;
    let part: { digest: string };

    beforeAll(async () => {
      const admin = asBearer(api, adminCredentialOf(dataDir));
      const now = new Date();
      await enrolHostedOperator(
        { admin, registrar },
        { displayName: 'Acme Processing', steps: ['seal', 'timestamp', 'deliver', 'archive'], level: 'substantial', now },
      );
      alice = await enrolPerson(registrar, mail, { displayName: 'Alice Martin', email: 'alice@example.org', level: 'substantial', now });
      bob = await enrolPerson(registrar, mail, { displayName: 'Bob Durand', email: 'bob@example.org', level: 'substantial', now });
      session = await openSession(api, mail, { userId: alice, counterpartIds: [bob], kind: 'registered' });
      const uploaded = await fetch(`${base}/contents`, { method: 'PUT', headers: { ...session.auth, 'content-type': 'text/plain' }, body: 'the letter' });
      expect(uploaded.status).toBe(201);
      part = (await uploaded.json()) as { digest: string };
    }, 240_000);

    const draftText = (subject: string) =>
      JSON.stringify({ recipientIds: [bob], subject, kind: 'registered', parts: [{ digest: part.digest, name: 'letter.txt', contentType: 'text/plain' }] });

    it('a lone surrogate in a draft subject sent by an authenticated party answers 400 naming subject (no draft, no 500 at the specimen)', async () => {
      const good = await send('post', '/drafts', draftText('Termination of contract'), session.auth);
      expect(good.status).toBe(201);
      const lone = await send('post', '/drafts', draftText('Relevé X').replace('X', '\\ud800'), session.auth);
      expect(lone).toEqual({
        status: 400,
        body: expect.objectContaining({ statusCode: 400, violations: [expect.objectContaining({ field: 'subject', rule: 'wellFormed' })] }),
      });
      const edit = await send('put', `/drafts/${good.body.draftId}`, draftText('Relevé X').replace('X', '\\udc00'), session.auth);
      expect(edit.status).toBe(400);
      expect(edit.body.violations[0]).toMatchObject({ field: 'subject', rule: 'wellFormed' });
      // The draft kept its subject: its specimen renders.
      const specimen = await send('post', `/drafts/${good.body.draftId}/specimen`, undefined, session.auth);
      expect(specimen.status).toBe(200);
    });

    it.each([
      ['CRLF', 'Invoice\r\nBcc: everyone@example.org'],
      ['a TAB', 'Invoice\t42'],
      ['a bidi override', 'Invoice \u202egpj.exe'],
      ['a C1 control', 'Invoice\u008542'],
    ])('a draft subject with %s answers 400 isPlainText for an authenticated party', async (_what, subject) => {
      const answer = await send('post', '/drafts', draftText(subject), session.auth);
      expect(answer.status).toBe(400);
      expect(answer.body.violations).toContainEqual(expect.objectContaining({ field: 'subject', rule: 'isPlainText' }));
    });

    it('a display name with CRLF or a bidi override answers 400 isPlainText for a registrar; nothing is registered', async () => {
      for (const displayName of ['Mallory\r\nBcc: everyone@example.org', 'Mallory\u202e', 'Mallory\u0007']) {
        const answer = await send('post', '/parties', JSON.stringify({ kind: 'person', displayName }), bearer(registrarToken));
        expect(answer.status).toBe(400);
        expect(answer.body.violations).toContainEqual(expect.objectContaining({ field: 'displayName', rule: 'isPlainText' }));
      }
      const renamed = await send('post', `/parties/${alice}/name`, JSON.stringify({ displayName: 'Alice\nMartin' }), bearer(registrarToken));
      expect(renamed.status).toBe(400);
      expect(renamed.body.violations).toContainEqual(expect.objectContaining({ field: 'displayName', rule: 'isPlainText' }));
    });
  });
});
