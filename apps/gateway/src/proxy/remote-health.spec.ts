import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { remoteRolesHealth } from './remote-health';

describe('remoteRolesHealth', () => {
  const servers: http.Server[] = [];
  afterAll(async () => {
    await Promise.all(
      servers.map((server) => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(resolve));
      }),
    );
  });

  async function serve(handler: http.RequestListener): Promise<string> {
    const server = http.createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('asks every URL at once and answers within the deadline, naming the roles none of whose URLs is up', async () => {
    const up = await serve((_, response) => response.writeHead(200).end('{}'));
    const sick = await serve((_, response) => response.writeHead(503).end('{}'));
    const silent = await serve(() => undefined);
    const closed = await serve(() => undefined);
    servers.pop()?.close();
    await new Promise((resolve) => setTimeout(resolve, 20));

    const started = Date.now();
    const health = await remoteRolesHealth({ directory: [silent, up], certifier: [sick, silent], processor: [closed] }, 300);
    expect(Date.now() - started).toBeLessThan(600);
    expect(health.status).toBe('down');
    expect([...health.down].sort()).toEqual(['certifier', 'processor']);
    expect(health.roles.directory).toEqual({
      up: true,
      urls: [
        { url: silent, up: false, detail: 'no answer within 300 ms' },
        { url: up, up: true, status: 200 },
      ],
    });
    expect(health.roles.certifier?.urls[0]).toEqual({ url: sick, up: false, status: 503, detail: 'its /health answered 503' });
    expect(health.roles.processor?.urls[0]).toEqual({ url: closed, up: false, detail: 'ECONNREFUSED' });
    expect(health.roles.processor?.detail).toContain('processor does not answer');
  });

  it('is up when every role answers', async () => {
    const up = await serve((_, response) => response.writeHead(200).end('{}'));
    expect(await remoteRolesHealth({ directory: [up] })).toEqual(expect.objectContaining({ status: 'up', down: [] }));
  });
});
