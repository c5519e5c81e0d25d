import * as http from 'node:http';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { NextFunction, Request, Response } from 'express';
import { endToEnd, forwardedRequestHeaders } from './hop-by-hop';
import { certificateNotForwarded, roleFailed, roleTimeout, roleUnreachable, sendReply } from './gateway-replies';
import type { RoundRobin } from './round-robin';
import type { RouteTable } from './route-table';

/**
 * Longest a forwarded request may go without a byte in either direction once connected: the role's answer after the
 * request is sent, or the next piece of a body on its way. Fixed (not an environment variable): a role silent for
 * longer is stuck, and the client learns it (504 gateway.role-timeout) rather than hanging; an upload or download
 * that keeps moving is never cut, however long it takes.
 */
export const GATEWAY_PROXY_TIMEOUT_MS = 30_000;

/** Longest the gateway waits for a role's URL to take the connection before it tries the role's next URL. */
export const GATEWAY_CONNECT_TIMEOUT_MS = 5_000;

export interface RoleProxyOptions {
  /** The routes of the roles served elsewhere (and only those: a request matching none goes on to this process). */
  readonly table: RouteTable;
  readonly upstreams: RoundRobin;
  /** GATEWAY_PROXY_TIMEOUT_MS unless a test shortens it. */
  readonly timeoutMs?: number;
  readonly log?: { warn(message: string): void };
}

type Middleware = (request: Request, response: Response, next: NextFunction) => void;

/** Methods a client may repeat: a reused keep-alive connection reset before the answer is retried only for these. */
const SAFE_TO_REPEAT = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The gateway's forwarding: a request on a route of a role named in ROLE_URLS goes, untouched (body streamed as it
 * comes, before any body parser; hop-by-hop headers removed, X-Forwarded-* added), to one of the role's URLs in
 * turn, and the role's answer comes back as it is. The role decides access, validation and limits; the gateway
 * answers only when no role could: 503 (no URL took the connection), 504 (no answer in time), 502 (connection broken).
 */
export function roleProxy(options: RoleProxyOptions): Middleware {
  const timeoutMs = options.timeoutMs ?? GATEWAY_PROXY_TIMEOUT_MS;
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  return (request, response, next) => {
    const url = request.originalUrl ?? request.url;
    const route = options.table.find(request.method, url);
    if (route === undefined) {
      next();
      return;
    }
    const role = route.role;
    // Client certificates end at this process's TLS listener; forwarding the request without it would have the role
    // answer "no credential" to a machine that presented one. Other routes go on: the certificate plays no part there.
    if (route.machine && presentsCertificate(request)) {
      sendReply(response, certificateNotForwarded(role));
      return;
    }
    const forwarding = new Forwarding(request, response, role, url, options.upstreams.order(role), timeoutMs, agents, options.log);
    forwarding.attempt(0);
  };
}

function presentsCertificate(request: Request): boolean {
  const socket = request.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return false;
  const peer = socket.getPeerCertificate();
  return !!peer && Object.keys(peer).length > 0;
}

/** One request's way to the role: which URL is tried, and what the client has been answered. */
class Forwarding {
  private readonly causes: string[] = [];
  private readonly hasBody: boolean;
  private current: http.ClientRequest | undefined;
  private clientGone = false;

  constructor(
    private readonly request: Request,
    private readonly response: Response,
    private readonly role: string,
    private readonly path: string,
    private readonly urls: readonly string[],
    private readonly timeoutMs: number,
    private readonly agents: { http: http.Agent; https: https.Agent },
    private readonly log?: { warn(message: string): void },
  ) {
    const length = request.headers['content-length'];
    this.hasBody = request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    response.once('close', () => {
      if (response.writableFinished) return;
      this.clientGone = true;
      this.current?.destroy();
    });
  }

  attempt(index: number): void {
    if (this.clientGone) return;
    const base = this.urls[index];
    if (base === undefined) {
      this.log?.warn(`${this.role} unreachable at ${this.urls.join(', ')}: ${this.causes.join('; ')}`);
      sendReply(this.response, roleUnreachable(this.role, this.urls, this.causes));
      return;
    }
    const target = new URL(base);
    const secure = target.protocol === 'https:';
    let connected = false; // the connection to the role is established: bytes of the request may be on their way
    let settled = false; // the client has been answered (or is being answered) for this attempt
    const upstream = (secure ? https : http).request({
      protocol: target.protocol,
      hostname: target.hostname.replace(/^\[|\]$/g, ''),
      port: target.port || (secure ? 443 : 80),
      method: this.request.method,
      path: this.path,
      headers: forwardedRequestHeaders(this.request),
      agent: secure ? this.agents.https : this.agents.http,
    });
    this.current = upstream;

    const connectTimeoutMs = Math.min(GATEWAY_CONNECT_TIMEOUT_MS, this.timeoutMs);
    const connectDeadline = setTimeout(() => {
      if (settled || connected) return;
      settled = true;
      upstream.destroy();
      this.causes.push(`${base}: no connection within ${connectTimeoutMs} ms`);
      this.attempt(index + 1);
    }, connectTimeoutMs);
    // Once connected: no byte either way for timeoutMs (a role that does not answer, a stalled upload or download).
    upstream.setTimeout(this.timeoutMs, () => {
      upstream.destroy();
      if (!settled) {
        settled = true;
        sendReply(this.response, roleTimeout(this.role, base, this.timeoutMs));
      } else if (!this.response.writableFinished) {
        this.response.destroy(); // the answer had started: the client sees it cut short
      }
    });

    const send = () => {
      connected = true;
      clearTimeout(connectDeadline);
      if (this.hasBody) this.request.pipe(upstream);
    };
    if (!this.hasBody) upstream.end();
    upstream.on('socket', (socket) => {
      if (socket.connecting) socket.once(secure ? 'secureConnect' : 'connect', send);
      else send(); // a kept-alive connection
    });

    upstream.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(connectDeadline);
      if (this.clientGone) return;
      if (settled) {
        if (this.response.headersSent && !this.response.writableFinished) this.response.destroy();
        return;
      }
      settled = true;
      const cause = error.code ?? error.message;
      // Nothing of the request reached a role process: another URL may take it. A kept-alive connection the role
      // had closed is retried too, for a request without a body that is safe to repeat.
      const staleConnection = upstream.reusedSocket && !this.hasBody && SAFE_TO_REPEAT.has(this.request.method);
      if (!connected || staleConnection) {
        this.request.unpipe(upstream);
        this.causes.push(`${base}: ${cause}`);
        this.attempt(index + 1);
        return;
      }
      sendReply(this.response, roleFailed(this.role, base, cause));
    });

    upstream.on('response', (answer) => {
      clearTimeout(connectDeadline);
      if (settled) {
        answer.resume();
        return;
      }
      settled = true;
      this.response.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
      answer.on('error', () => this.response.destroy());
      answer.on('aborted', () => this.response.destroy());
      answer.pipe(this.response);
    });
  }
}
