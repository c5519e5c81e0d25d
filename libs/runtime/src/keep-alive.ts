import type { Server } from 'node:http';

/**
 * An idle keep-alive connection stays open 65 s (Node's default is 5 s), longer than the clients' own idle limits
 * (undici and Node's agents: 4-5 s, load balancers: 60 s), so that a client never reuses a connection at the moment
 * the server closes it (ECONNRESET / "socket hang up" on a request that was never read). Headers must still arrive
 * within the keep-alive time plus one second, as Node requires of `headersTimeout`.
 */
export const KEEP_ALIVE_MS = 65_000;

export function keepIdleConnectionsOpen(server: Server): void {
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1_000;
  // close() ends the connections idle at that moment only: one whose response was still being written becomes idle
  // afterwards and would hold close() for up to KEEP_ALIVE_MS (seen: app.close() taking 63 s in an e2e). Until the
  // server has closed, idle connections are closed as they become so.
  const close = server.close.bind(server);
  server.close = ((callback?: (error?: Error) => void) => {
    close(callback);
    const sweep = setInterval(() => server.closeIdleConnections(), 100).unref();
    server.once('close', () => clearInterval(sweep));
    return server;
  }) as Server['close'];
}
