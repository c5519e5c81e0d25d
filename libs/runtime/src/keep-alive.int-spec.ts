import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { keepIdleConnectionsOpen } from './keep-alive';

/** GET / through `agent`; resolves whether the request went out on a socket the agent had kept from before. */
function get(port: number, agent: Agent): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(req.reusedSocket));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('keepIdleConnectionsOpen', () => {
  let server: Server;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  afterEach(async () => {
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  async function listen(keep: boolean): Promise<number> {
    server = createServer((_req, res) => res.end('ok'));
    if (keep) keepIdleConnectionsOpen(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  it('keeps a connection idle past Node’s 5 s default (closed within 7 s) open, so the client reuses it (without it the server has closed it)', async () => {
    const port = await listen(true);
    expect(await get(port, agent)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 7_500));
    expect(await get(port, agent)).toBe(true);
  }, 15_000);

  it('(the default, for contrast) closes it within 7 s: the next request needs a new connection', async () => {
    const port = await listen(false);
    expect(await get(port, agent)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 7_500));
    expect(await get(port, agent)).toBe(false);
  }, 15_000);
});
