import 'reflect-metadata';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { Body, Controller, type INestApplication, Module, Post, Query } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Express } from 'express';
import request from 'supertest';
import { type ExpressApp, ShapedExpressAdapter, expressShapedMessages } from './shaped-messages';

/** Records, before Express sees them, whether each request and response was born with the Express app's prototypes. */
function watchBirths(server: Server, app: ExpressApp): boolean[] {
  const births: boolean[] = [];
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    births.push(Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response);
  });
  return births;
}

/** A plain Express app (the one Nest's adapter creates: this project does not depend on express directly). */
const expressApp = (): Express => new ExpressAdapter().getInstance<Express>();

describe('expressShapedMessages', () => {
  it('builds requests and responses Express finds already shaped as its own, and every Express feature still works', async () => {
    const app = expressApp();
    app.get('/echo/:id', (req, res) => {
      res
        .status(201)
        .set('x-seen', req.get('x-missing') ?? 'none')
        .json({ id: req.params.id, q: req.query.q, ip: req.ip });
    });
    const server = createServer(expressShapedMessages(app), app);
    const births = watchBirths(server, app);

    const answer = await request(server).get('/echo/42?q=x');
    expect({ status: answer.status, body: answer.body, seen: answer.headers['x-seen'] }).toEqual({
      status: 201,
      body: { id: '42', q: 'x', ip: expect.stringMatching(/127\.0\.0\.1$/) },
      seen: 'none',
    });
    expect((await request(server).get('/nowhere')).status).toBe(404);
    expect(births).toEqual([true, true]);
  });

  it('(for contrast) a plain server hands Express requests with Node’s prototypes, which it then changes', async () => {
    const app = expressApp();
    app.get('/', (_req, res) => res.json({ ok: true }));
    const server = createServer(app);
    const births = watchBirths(server, app);
    expect((await request(server).get('/')).body).toEqual({ ok: true });
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
    await app.init();
    const births = watchBirths(app.getHttpServer() as Server, app.getHttpAdapter().getInstance() as ExpressApp);

    const answer = await request(app.getHttpServer()).post('/shaped?q=y').send({ n: 2 });
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 201, body: { body: { n: 2 }, q: 'y' } });
    expect(births).toEqual([true]);
  });

  it('leaves forced connection closing to Nest’s own server (still serving)', async () => {
    app = await NestFactory.create(ShapedModule, new ShapedExpressAdapter(), { logger: false, forceCloseConnections: true });
    await app.init();
    expect((await request(app.getHttpServer()).post('/shaped').send({})).status).toBe(201);
  });
});
