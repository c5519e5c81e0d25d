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

  it('names the roles none of whose URLs is up, with what each URL answered', async () => {
    const up = await serve((_, response) => response.writeHead(200).end('{}'));
    const sick = await serve((_, response) => response.writeHead(503).end('{}'));
    const closed = await serve(() => undefined);
    servers.pop()?.close();
    await new Promise((resolve) => setTimeout(resolve, 20));

    const health = await remoteRolesHealth({ directory: [sick, up], certifier: [sick], processor: [closed] });
    expect(health.status).toBe('down');
    expect([...health.down].sort()).toEqual(['certifier', 'processor']);
    expect(health.roles.directory).toEqual({
      up: true,
      urls: [
        { url: sick, up: false, status: 503, detail: 'its /health answered 503' },
        { url: up, up: true, status: 200 },
      ],
    });
    expect(health.roles.certifier?.urls[0]).toEqual({ url: sick, up: false, status: 503, detail: 'its /health answered 503' });
    expect(health.roles.processor?.urls[0]).toEqual({ url: closed, up: false, detail: 'ECONNREFUSED' });
    expect(health.roles.processor?.detail).toContain('processor does not answer');
  });

  it('asks every URL at once: silent URLs of several roles are all reported when the one deadline fires', async () => {
    const silent = await serve(() => undefined);
    const silentToo = await serve(() => undefined);
    // The deadline on a fake clock (the sockets run on real time, but nothing answers): at 299 ms no answer, at
    // 300 ms every URL's. Asked one after the other, the second silent URL's deadline would start only then.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      let health: Awaited<ReturnType<typeof remoteRolesHealth>> | undefined;
      void remoteRolesHealth({ directory: [silent, silentToo], certifier: [silentToo] }, 300).then((answer) => (health = answer));
      await jest.advanceTimersByTimeAsync(299);
      expect(health).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1);
      const none = (url: string) => ({ url, up: false, detail: 'no answer within 300 ms' });
      expect(health).toMatchObject({
        status: 'down',
        down: ['directory', 'certifier'],
        roles: { directory: { up: false, urls: [none(silent), none(silentToo)] }, certifier: { up: false, urls: [none(silentToo)] } },
      });
    } finally {
      jest.useRealTimers();
    }
  });

  it('is up when every role answers', async () => {
    const up = await serve((_, response) => response.writeHead(200).end('{}'));
    expect(await remoteRolesHealth({ directory: [up] })).toEqual(expect.objectContaining({ status: 'up', down: [] }));
  });
});
