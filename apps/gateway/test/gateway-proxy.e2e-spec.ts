import 'reflect-metadata';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { createSigillumApp } from '@sigillum/runtime';
import { adminCredentialOf, baseUrlOf } from '@sigillum/testing';
import { remoteRolesSetup } from '../src/proxy';
import { gatewayPlan } from '../src/roles';

/**
 * One address: the gateway (ROLES=gateway) in this process, the directory role in a real child process, and a stand-in
 * "processor" (a plain HTTP server echoing what it receives) behind a first URL that refuses connections. Every
 * request goes to the gateway; the roles decide.
 */
const ROOT = path.join(__dirname, '..', '..', '..');
const PROXY_TIMEOUT_MS = 1_500;

// The child runs the directory's main.ts straight from the sources (TypeScript transpiled on load, @sigillum/* paths
// resolved as in tsconfig.json), so the test needs no `npm run build` and never runs a stale dist/.
const CHILD_LOADER = `
const ts = require('typescript');
const fs = require('node:fs');
const root = process.cwd();
const { compilerOptions } = require(root + '/tsconfig.json');
const options = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, experimentalDecorators: true, emitDecoratorMetadata: true, esModuleInterop: true, inlineSourceMap: true };
require.extensions['.ts'] = (module, filename) => {
  module._compile(ts.transpileModule(fs.readFileSync(filename, 'utf8'), { compilerOptions: options, fileName: filename }).outputText, filename);
};
require('tsconfig-paths').register({ baseUrl: root, paths: compilerOptions.paths });
require(root + '/apps/directory/src/main.ts');
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly text: string;
}

function call(base: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const request = http.request(
      `${base}${url}`,
      {
        method,
        agent: false,
        headers: { ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}), ...headers },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: parsed, text });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

async function waitForHealth(base: string, child: ChildProcess, output: () => string, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`the directory process exited (${child.exitCode}):\n${output()}`);
    try {
      if ((await call(base, 'GET', '/health')).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the directory process did not answer /health within ${deadlineMs} ms:\n${output()}`);
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

describe('gateway in front of a role in another process (ROLE_URLS)', () => {
  let directory: ChildProcess | undefined;
  let directoryLog = '';
  let directoryData: string;
  let gatewayData: string;
  let directoryUrl: string;
  let deadUrl: string;
  let echo: http.Server;
  let echoUrl: string;
  let gateway: INestApplication;
  let base: string;
  const received: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    directoryData = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-proxy-directory-'));
    gatewayData = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-proxy-gateway-'));
    const directoryPort = await freePort();
    directoryUrl = `http://127.0.0.1:${directoryPort}`;
    deadUrl = `http://127.0.0.1:${await freePort()}`; // nothing listens there: connection refused

    directory = spawn(process.execPath, ['-e', CHILD_LOADER], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: String(directoryPort),
        HOST: '127.0.0.1',
        DATA_DIR: directoryData,
        LOG_LEVEL: 'warn',
        KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    directory.stdout?.on('data', (chunk: Buffer) => (directoryLog += chunk.toString()));
    directory.stderr?.on('data', (chunk: Buffer) => (directoryLog += chunk.toString()));

    // A stand-in role: answers /health, echoes what it receives, and never answers /processor/operators/slow.
    echo = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.url === '/health') {
          response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"up"}');
          return;
        }
        if (request.url?.startsWith('/processor/operators/slow')) return; // hangs
        received.push({ method: request.method, url: request.url, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        response.writeHead(202, { 'content-type': 'application/json', 'x-echo': 'yes', connection: 'keep-alive, x-private', 'x-private': 'hop' });
        response.end(JSON.stringify({ ok: true }));
      });
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoUrl = `http://127.0.0.1:${(echo.address() as net.AddressInfo).port}`;

    await waitForHealth(directoryUrl, directory, () => directoryLog, 90_000);

    const config = loadConfig({
      DATA_DIR: gatewayData,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'error',
      ROLES: 'gateway',
      ROLE_URLS: `directory=${directoryUrl},processor=${deadUrl}|${echoUrl}`,
      KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret',
    });
    const setup = remoteRolesSetup(gatewayPlan(config), { timeoutMs: PROXY_TIMEOUT_MS });
    expect(setup.roles.map((spec) => spec.role)).toEqual(['gateway']);
    gateway = await createSigillumApp(config, setup.roles, setup.appOptions);
    await gateway.listen(0, '127.0.0.1');
    base = baseUrlOf(gateway.getHttpServer());
  }, 120_000);

  afterAll(async () => {
    await gateway?.close();
    await new Promise((resolve) => echo?.close(resolve));
    await stop(directory);
    for (const dir of [directoryData, gatewayData]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it("passes the directory's decisions through: 201 for its admin, 401 anonymous, 400 naming the field", async () => {
    const admin = { authorization: `Bearer ${adminCredentialOf(directoryData)}` };
    const created = await call(base, 'POST', '/parties', { kind: 'operator', operatorRole: 'processing', displayName: 'Proxied Post' }, admin);
    expect(created.status).toBe(201);
    expect(created.body.partyId).toEqual(expect.any(String));

    const anonymous = await call(base, 'POST', '/parties', { kind: 'operator', operatorRole: 'processing', displayName: 'Nobody' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['content-type']).toMatch(/application\/json/);
    expect(anonymous.body).toEqual(expect.objectContaining({ statusCode: 401, reasons: expect.any(Array) }));

    const bad = await call(base, 'POST', '/parties', { kind: 'operator', operatorRole: 'processing', displayName: 'Bad', colour: 'blue' }, admin);
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('colour');

    const malformed = await call(base, 'POST', '/parties', '{"kind": ', admin);
    expect(malformed.status).toBe(400); // the directory's JSON parser read the body, byte for byte as sent

    // The gateway's proxy is not the directory: its admin credential means nothing here, and nothing was stored here.
    expect(fs.existsSync(path.join(gatewayData, 'admin-credential'))).toBe(false);
  });

  it('answers 404 itself for a route no role has', async () => {
    const unknown = await call(base, 'GET', '/no-such-route');
    expect(unknown.status).toBe(404);
    expect(received).toHaveLength(0);
  });

  it('forwards headers and body untouched but for hop-by-hop headers, adds X-Forwarded-*, and tries the next URL when one refuses', async () => {
    received.length = 0;
    const body = JSON.stringify({ name: 'é'.repeat(10), n: 1 });
    const answers: Answer[] = [];
    for (let i = 0; i < 2; i++) {
      answers.push(
        await call(base, 'POST', '/processor/operators?x=1', body, {
          'x-sigillum-session': 's-1',
          authorization: 'Bearer abcdefghijklmnopqrstuvwxyz',
          'x-forwarded-for': '203.0.113.7',
          connection: 'close, x-hop',
          'x-hop': 'must not pass',
        }),
      );
    }
    // Round robin: one of the two requests started at the refusing URL and went on to the next one.
    expect(answers.map((answer) => answer.status)).toEqual([202, 202]);
    expect(received).toHaveLength(2);
    for (const seen of received) {
      expect(seen.method).toBe('POST');
      expect(seen.url).toBe('/processor/operators?x=1');
      expect(seen.body).toBe(body);
      expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(body)));
      expect(seen.headers['x-sigillum-session']).toBe('s-1');
      expect(seen.headers.authorization).toBe('Bearer abcdefghijklmnopqrstuvwxyz');
      expect(seen.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
      expect(seen.headers['x-forwarded-proto']).toBe('http');
      expect(seen.headers['x-forwarded-host']).toBe(new URL(base).host);
      expect(seen.headers['x-hop']).toBeUndefined();
    }
    expect(answers[0]!.headers['x-echo']).toBe('yes');
    expect(answers[0]!.headers['x-private']).toBeUndefined(); // named by the role's Connection header: hop-by-hop
    expect(answers[0]!.body).toEqual({ ok: true });
  });

  // The role never answers: that the 504 comes at all is the point. The hang guard is this test's own timeout,
  // 30 s: 10x the two proxy timeouts (2 x 1.5 s) it may wait for.
  it(
    'answers 504 gateway.role-timeout when the role does not answer in time',
    async () => {
      let answer: Answer | undefined;
      for (let i = 0; i < 2 && answer?.status !== 504; i++) answer = await call(base, 'GET', '/processor/operators/slow');
      expect(answer?.status).toBe(504);
      expect(answer?.body.reasons[0]).toEqual(expect.objectContaining({ rule: 'gateway.role-timeout', role: 'processor' }));
    },
    10 * 2 * PROXY_TIMEOUT_MS,
  );

  it('documents the routes of the remote roles in its OpenAPI document', async () => {
    const document = await call(base, 'GET', '/docs-json');
    expect(document.status).toBe(200);
    expect(document.body.paths['/parties'].post['x-sigillum-access']).toBeDefined();
    expect(document.body.paths['/processor/operators']).toBeDefined();
    expect(document.body.paths['/health/roles']).toBeDefined();
    expect(document.body.info.description).toContain('directory, processor');
  });

  it('says which roles answer: GET /health/roles', async () => {
    const answer = await call(base, 'GET', '/health/roles');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(expect.objectContaining({ status: 'up', down: [] }));
    expect(answer.body.roles.processor.urls).toEqual([
      expect.objectContaining({ url: deadUrl, up: false }),
      expect.objectContaining({ url: echoUrl, up: true }),
    ]);
  });

  it('answers 503 gateway.role-unreachable once the directory is gone, and /health/roles names it', async () => {
    await stop(directory);
    const answer = await call(base, 'GET', '/staff/me', undefined, { authorization: `Bearer ${adminCredentialOf(directoryData)}` });
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual(
      expect.objectContaining({ statusCode: 503, reasons: [expect.objectContaining({ rule: 'gateway.role-unreachable', role: 'directory' })] }),
    );
    expect(answer.body.message).toContain(`directory is unreachable at ${directoryUrl}`);
    // Answered on the refused connection, not when the connect timer (1.5 s here) gave up: no wall-clock bound needed.
    expect(answer.body.message).toContain(`${directoryUrl}: ECONNREFUSED`);
    expect(answer.body.message).not.toContain('no connection within');
    expect(answer.body.message).toContain('ROLE_URLS');

    // The probe's own deadline is checked on a fake clock in remote-health.spec.ts; here the refused connection.
    const health = await call(base, 'GET', '/health/roles');
    expect(health.status).toBe(503);
    expect(health.body).toEqual(expect.objectContaining({ status: 'down', down: ['directory'] }));
    expect(health.body.roles.directory.detail).toContain('directory does not answer');
    expect(health.body.roles.directory.urls).toEqual([expect.objectContaining({ url: directoryUrl, up: false, detail: 'ECONNREFUSED' })]);

    const own = await call(base, 'GET', '/health'); // the gateway's own components are still up
    expect(own.status).toBe(200);
  });
});
