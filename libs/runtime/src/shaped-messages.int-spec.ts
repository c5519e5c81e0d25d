import 'reflect-metadata';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Body, Controller, type INestApplication, Module, Post, Query } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Express } from 'express';
import { ShapedExpressAdapter, expressShapedMessages } from './shaped-messages';

/** One call on loopback: status, body (parsed when JSON) and headers. */
function call(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown; headers: Record<string, unknown> }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        const json = /json/.test(res.headers['content-type'] ?? '');
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: json ? JSON.parse(text) : text, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Records, before Express sees them, whether each request and response was born with the Express app's prototypes. */
function watchBirths(server: Server, app: { request: object; response: object }): boolean[] {
  const births: boolean[] = [];
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    births.push(Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response);
  });
  return births;
}

/** A plain Express app (the one Nest's adapter creates: this project does not depend on express directly). */
const expressApp = (): Express => new ExpressAdapter().getInstance<Express>();

describe('expressShapedMessages', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await new Promise((resolve) => server!.close(resolve));
    server = undefined;
  });

  it('builds requests and responses Express finds already shaped as its own, and every Express feature still works', async () => {
    const app = expressApp();
    app.get('/echo/:id', (req, res) => {
      res
        .status(201)
        .set('x-seen', req.get('x-missing') ?? 'none')
        .json({ id: req.params.id, q: req.query.q, ip: req.ip });
    });
    server = createServer(expressShapedMessages(app), app);
    const births = watchBirths(server, app);
    const port = await listen(server);

    const answer = await call(port, 'GET', '/echo/42?q=x');
    expect(answer).toMatchObject({ status: 201, body: { id: '42', q: 'x', ip: '127.0.0.1' }, headers: { 'x-seen': 'none' } });
    expect((await call(port, 'GET', '/nowhere')).status).toBe(404);
    expect(births).toEqual([true, true]);
  });

  it('(for contrast) a plain server hands Express requests with Node’s prototypes, which it then changes', async () => {
    const app = expressApp();
    app.get('/', (_req, res) => res.json({ ok: true }));
    server = createServer(app);
    const births = watchBirths(server, app);
    const port = await listen(server);
    expect((await call(port, 'GET', '/')).body).toEqual({ ok: true });
    expect(births).toEqual([false]);
  });
});

@Controller('shaped')
class ShapedController {
  @Post()
  echo(@Body() body: unknown, @Query('q') q: string): unknown {
    return { body, q };
  }
}

@Module({ controllers: [ShapedController] })
class ShapedModule {}

describe('ShapedExpressAdapter', () => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('serves a Nest app whose HTTP server builds requests already shaped as Express’s', async () => {
    app = await NestFactory.create(ShapedModule, new ShapedExpressAdapter(), { logger: false });
    const expressApp = app.getHttpAdapter().getInstance() as { request: object; response: object };
    const births = watchBirths(app.getHttpServer() as Server, expressApp);
    await app.listen(0, '127.0.0.1');
    const port = (app.getHttpServer().address() as AddressInfo).port;

    expect(await call(port, 'POST', '/shaped?q=y', { n: 2 })).toMatchObject({ status: 201, body: { body: { n: 2 }, q: 'y' } });
    expect(births).toEqual([true]);
  });

  it('leaves forced connection closing to Nest’s own server (still serving)', async () => {
    app = await NestFactory.create(ShapedModule, new ShapedExpressAdapter(), { logger: false, forceCloseConnections: true });
    await app.listen(0, '127.0.0.1');
    const port = (app.getHttpServer().address() as AddressInfo).port;
    expect((await call(port, 'POST', '/shaped', {})).status).toBe(201);
  });
});
