import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** Headers that describe one connection, not the message (RFC 9110 §7.6.1): a proxy never forwards them. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The headers without the hop-by-hop ones, including those the `Connection` header names. */
export function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  const result: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.includes(name)) continue;
    result[name] = value;
  }
  return result;
}

/**
 * The request's end-to-end headers plus where it came from: the client's address appended to `X-Forwarded-For`
 * (a role trusts it only with TRUST_PROXY), the scheme and the `Host` the client used. Nothing else is added or removed.
 */
export function forwardedRequestHeaders(request: IncomingMessage): OutgoingHttpHeaders {
  const headers = endToEnd(request.headers);
  const client = request.socket.remoteAddress;
  const previous = request.headers['x-forwarded-for'];
  const chain = [...(Array.isArray(previous) ? previous : previous ? [previous] : []), ...(client ? [client] : [])];
  if (chain.length > 0) headers['x-forwarded-for'] = chain.join(', ');
  headers['x-forwarded-proto'] = (request.socket as Partial<TLSSocket>).encrypted ? 'https' : 'http';
  if (request.headers.host) headers['x-forwarded-host'] = request.headers.host;
  return headers;
}
