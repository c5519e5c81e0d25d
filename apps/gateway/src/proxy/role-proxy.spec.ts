import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { endToEnd } from './hop-by-hop';
import { roleProxy } from './role-proxy';
import { RoundRobin } from './round-robin';
import { RouteTable } from './route-table';

type Handler = (request: http.IncomingMessage, response: http.ServerResponse) => void;

async function listen(handler: Handler): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function refusingUrl(): Promise<string> {
  const { server, url } = await listen(() => undefined);
  await new Promise((resolve) => server.close(resolve));
  return url;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  bytes: Buffer;
}

function send(base: string, method: string, path: string, body?: Buffer | Buffer[], headers: http.OutgoingHttpHeaders = {}, pauseMs = 0): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${base}${path}`, { method, headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: bytes.toString('utf8'), bytes });
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    if (Array.isArray(body)) {
      // chunked, written piece by piece
      let i = 0;
      const next = (): unknown => (i < body.length ? request.write(body[i++], () => setTimeout(next, pauseMs)) : request.end());
      next();
    } else request.end(body);
  });
}

describe('roleProxy', () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    await Promise.all(
      servers.splice(0).map((server) => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(resolve));
      }),
    );
  });

  async function role(handler: Handler): Promise<string> {
    const { server, url } = await listen(handler);
    servers.push(server);
    return url;
  }

  /** A gateway whose only remote role is `things` at `urls`, and which answers 404 "local" for anything else. */
  async function gateway(urls: string[], timeoutMs = 2_000): Promise<string> {
    const middleware = roleProxy({
      table: new RouteTable([
        { role: 'things', method: 'POST', path: '/things' },
        { role: 'things', method: 'GET', path: '/things/:id' },
      ]),
      upstreams: new RoundRobin({ things: urls }),
      timeoutMs,
    });
    return role((request, response) =>
      middleware(request as Request, response as unknown as Response, (() => response.writeHead(404).end('local')) as NextFunction),
    );
  }

  const echo: Handler = (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'x-length': String(body.length), 'x-url': request.url ?? '' });
      response.end(body);
    });
  };

  it('leaves routes of no remote role to this process', async () => {
    const base = await gateway([await role(echo)]);
    expect(await send(base, 'GET', '/others/1')).toEqual(expect.objectContaining({ status: 404, body: 'local' }));
    expect((await send(base, 'DELETE', '/things/1')).body).toBe('local');
  });

  it('streams a large chunked body there and back, byte for byte', async () => {
    const base = await gateway([await role(echo)]);
    const pieces = Array.from({ length: 64 }, (_, i) => Buffer.alloc(32 * 1024, i));
    const answer = await send(base, 'POST', '/things?q=1', pieces, { 'content-type': 'application/octet-stream' });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-length']).toBe(String(64 * 32 * 1024));
    expect(answer.headers['x-url']).toBe('/things?q=1');
    expect(answer.bytes.equals(Buffer.concat(pieces))).toBe(true);
  });

  it('takes turns among the URLs of a role', async () => {
    const seen: string[] = [];
    const a = await role((request, response) => (seen.push('a'), echo(request, response)));
    const b = await role((request, response) => (seen.push('b'), echo(request, response)));
    const base = await gateway([a, b]);
    for (let i = 0; i < 4; i++) expect((await send(base, 'GET', '/things/1')).status).toBe(200);
    expect(seen.sort()).toEqual(['a', 'a', 'b', 'b']);
  });

  it('tries the next URL when one refuses the connection, and answers 503 naming them all when every one does', async () => {
    const dead = await refusingUrl();
    const live = await role(echo);
    const base = await gateway([dead, live]);
    for (let i = 0; i < 2; i++) expect((await send(base, 'POST', '/things', Buffer.from('{"a":1}'), { 'content-type': 'application/json' })).status).toBe(200);

    const deadToo = await refusingUrl();
    const down = await gateway([dead, deadToo]);
    const answer = await send(down, 'POST', '/things', Buffer.from('{}'), { 'content-type': 'application/json' });
    expect(answer.status).toBe(503);
    const body = JSON.parse(answer.body);
    expect(body.reasons).toEqual([expect.objectContaining({ rule: 'gateway.role-unreachable', role: 'things' })]);
    expect(body.message).toContain(`things is unreachable at ${dead}, ${deadToo}`);
    expect(body.message).toContain('ECONNREFUSED');
  });

  it('does not repeat a request a role may have received: 502 gateway.role-failed when it breaks the connection', async () => {
    const seen: string[] = [];
    const breaking = await role((request) => {
      seen.push('breaking');
      request.socket.destroy();
    });
    const other = await role((request, response) => (seen.push('other'), echo(request, response)));
    const base = await gateway([breaking, other]);
    const answer = await send(base, 'POST', '/things', Buffer.from('{"pay":1}'), { 'content-type': 'application/json' });
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.body).reasons[0]).toEqual(expect.objectContaining({ rule: 'gateway.role-failed', role: 'things' }));
    expect(seen).toEqual(['breaking']);
  });

  it("passes a role's early refusal of a body too large", async () => {
    const base = await gateway([
      await role((request, response) => {
        response.writeHead(413, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ statusCode: 413, declared: request.headers['content-length'] }));
      }),
    ]);
    const body = Buffer.alloc(256 * 1024, 1);
    const answer = await send(base, 'POST', '/things', body, { 'content-type': 'application/json', 'content-length': body.length });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual({ statusCode: 413, declared: String(body.length) });
  });

  it('does not cut an upload that keeps moving, however long it takes', async () => {
    // The timeout is on silence, not on the whole exchange: 12 pieces 100 ms apart take more than 1.1 s in all
    // (timers never fire early), longer than the 1 s timeout, while no gap comes near it, even on a loaded machine.
    const timeoutMs = 1_000;
    const pauseMs = 100;
    const pieces = Array.from({ length: 12 }, (_, i) => Buffer.alloc(1024, i));
    expect((pieces.length - 1) * pauseMs).toBeGreaterThan(timeoutMs);
    const base = await gateway([await role(echo)], timeoutMs);
    const answer = await send(base, 'POST', '/things', pieces, { 'content-type': 'application/octet-stream' }, pauseMs);
    expect(answer.status).toBe(200);
    expect(answer.bytes.equals(Buffer.concat(pieces))).toBe(true);
  });

  it('answers 504 gateway.role-timeout when the role does not answer in time', async () => {
    const base = await gateway([await role(() => undefined)], 300);
    // The role never answers: that the 504 comes at all is the point; jest's test timeout (5 s) catches a hang.
    const answer = await send(base, 'GET', '/things/1');
    expect(answer.status).toBe(504);
    expect(JSON.parse(answer.body).reasons[0]).toEqual(expect.objectContaining({ rule: 'gateway.role-timeout' }));
  });
});

describe('roleProxy and client certificates', () => {
  const middleware = roleProxy({
    table: new RouteTable([{ role: 'things', method: 'GET', path: '/things/:id', machine: true }]),
    upstreams: new RoundRobin({ things: ['http://127.0.0.1:9'] }),
  });

  it('refuses with 421 a machine route called with a client certificate: certificates are not forwarded', () => {
    const written: { status?: number; body?: string } = {};
    const response = {
      headersSent: false,
      once: () => undefined,
      writeHead: (status: number) => ((written.status = status), response),
      end: (body: string) => (written.body = body),
    };
    const request = { method: 'GET', originalUrl: '/things/1', headers: {}, socket: { getPeerCertificate: () => ({ subject: { CN: 'op-1' } }) } };
    middleware(request as unknown as Request, response as unknown as Response, (() => undefined) as NextFunction);
    expect(written.status).toBe(421);
    expect(JSON.parse(written.body ?? '{}').reasons[0]).toEqual(expect.objectContaining({ rule: 'gateway.client-certificate-not-forwarded', role: 'things' }));
  });
});

describe('endToEnd', () => {
  it('drops hop-by-hop headers and those named by Connection, keeps the rest', () => {
    expect(
      endToEnd({
        connection: 'keep-alive, X-Secret',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        'x-secret': 'hop',
        upgrade: 'h2c',
        'content-length': '12',
        authorization: 'Bearer x',
        'set-cookie': ['a=1', 'b=2'],
      }),
    ).toEqual({ 'content-length': '12', authorization: 'Bearer x', 'set-cookie': ['a=1', 'b=2'] });
  });
});

describe('RoundRobin', () => {
  it('starts each request at the next URL', () => {
    const urls = new RoundRobin({ r: ['a', 'b', 'c'] });
    expect([urls.order('r'), urls.order('r'), urls.order('r'), urls.order('r')]).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c', 'a'],
      ['c', 'a', 'b'],
      ['a', 'b', 'c'],
    ]);
    expect(urls.order('unknown')).toEqual([]);
  });
});
