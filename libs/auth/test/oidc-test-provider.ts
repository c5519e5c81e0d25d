import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export type OidcTestAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'EdDSA';

export interface OidcTestProviderOptions {
  /** Default audience of the tokens (their resource indicator); default https://sigillum.test/api. */
  readonly audience?: string;
  /** Where the roles go in the tokens: a claim name or dotted path (default "roles"). */
  readonly rolesClaim?: string;
  /** rolesClaim is one claim name even with dots in it (an https://… namespaced claim). */
  readonly rolesClaimIsFlat?: boolean;
  /** Default signing algorithm of the tokens (default RS256). */
  readonly alg?: OidcTestAlgorithm;
  /** Claim to be this issuer while signing with its own keys (same key ids as every instance): an impostor. */
  readonly issuer?: string;
  /** Listen on this port (default: a free one). */
  readonly port?: number;
  /** Longest wait for the provider to start (default 20 s). */
  readonly startTimeoutMs?: number;
}

export interface OidcTokenRequest {
  /** Roles the client holds at the provider, written into the token's roles claim (any names, known or not). */
  readonly roles?: readonly string[];
  /** The client, hence the token's `sub`; by default one client per set of roles, ttl and algorithm. */
  readonly clientId?: string;
  /** `preferred_username` of the token (the client's name); default: the client id. */
  readonly username?: string;
  /** The resource indicator asked for, hence the token's `aud` (default: the provider's audience). */
  readonly audience?: string;
  /** Lifetime of the token in seconds (default 300). */
  readonly ttlSeconds?: number;
  readonly alg?: OidcTestAlgorithm;
}

interface RegisteredClient {
  readonly clientId: string;
  readonly secret: string;
  readonly shape: string;
}

const SCRIPT = 'oidc-provider-server.mjs';

/** The provider script beside this file, or in the source tree when this file runs compiled from dist/. */
function scriptPath(): string {
  const candidates = [
    path.join(__dirname, SCRIPT),
    path.resolve(__dirname, '../../../../libs/auth/test', SCRIPT),
    path.resolve(process.cwd(), 'libs/auth/test', SCRIPT),
  ];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`${SCRIPT} not found (looked in ${candidates.join(', ')})`);
  return found;
}

/**
 * A real OpenID Connect provider (panva's oidc-provider) in a child process, for tests: staff tokens are obtained the
 * way a real client obtains them, over HTTP — the client registers (RFC 7591) holding the given roles, then asks the
 * token endpoint for a JWT access token with the client_credentials grant and a resource indicator (the audience).
 *
 *   const idp = await OidcTestProvider.start();
 *   const env = { ...process.env, ...idp.env() };          // OIDC_ISSUER, OIDC_AUDIENCE, OIDC_ROLES_CLAIM
 *   const token = await idp.token({ roles: ['admin'] });   // Authorization: Bearer <token>
 *   await idp.stop();
 */
export class OidcTestProvider {
  private child?: ChildProcessWithoutNullStreams;
  private exited?: Promise<void>;
  private started?: { issuer: string; url: string };
  private endpoints?: { registration: string; token: string; jwks: string };
  private readonly registrationToken = randomBytes(24).toString('base64url');
  private readonly clients = new Map<string, RegisteredClient>();
  private stderr = '';

  constructor(readonly options: OidcTestProviderOptions = {}) {}

  static start(options: OidcTestProviderOptions = {}): Promise<OidcTestProvider> {
    return new OidcTestProvider(options).start();
  }

  /** The issuer identifier (the tokens' `iss`); http://127.0.0.1:<port> unless the options name another. */
  get issuer(): string {
    return this.require().issuer;
  }

  /** Where the provider listens. */
  get url(): string {
    return this.require().url;
  }

  get audience(): string {
    return this.options.audience ?? 'https://sigillum.test/api';
  }

  get rolesClaim(): string {
    return this.options.rolesClaim ?? 'roles';
  }

  /** The provider's key set URL (its discovery document's jwks_uri, as served). */
  get jwksUri(): string {
    return this.endpoint('jwks');
  }

  /** The OIDC_* variables that make Sigillum trust this provider. */
  env(): Record<'OIDC_ISSUER' | 'OIDC_AUDIENCE' | 'OIDC_ROLES_CLAIM', string> {
    return { OIDC_ISSUER: this.issuer, OIDC_AUDIENCE: this.audience, OIDC_ROLES_CLAIM: this.rolesClaim };
  }

  async start(): Promise<this> {
    if (this.child) throw new Error('OidcTestProvider already started');
    const settings = {
      registrationToken: this.registrationToken,
      rolesClaim: this.rolesClaim,
      rolesClaimIsFlat: this.options.rolesClaimIsFlat ?? false,
      alg: this.options.alg ?? 'RS256',
      ...(this.options.issuer ? { issuer: this.options.issuer } : {}),
      ...(this.options.port ? { port: this.options.port } : {}),
    };
    const child = spawn(process.execPath, [scriptPath()], {
      env: { ...process.env, OIDC_TEST_PROVIDER: JSON.stringify(settings), NODE_OPTIONS: '', DEBUG: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-8000);
    });
    const timeoutMs = this.options.startTimeoutMs ?? 20_000;
    this.started = await new Promise<{ issuer: string; url: string }>((resolve, reject) => {
      let stdout = '';
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`The OIDC test provider did not start: ${why}\n${this.stderr}`));
      };
      const timer = setTimeout(() => fail(`not ready within ${timeoutMs} ms`), timeoutMs);
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`it exited (${signal ?? code})`);
      child.once('exit', onExit);
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        if (stdout.includes('\n')) return; // ready already; later output is only drained
        stdout += chunk;
        const line = stdout.split('\n')[0];
        if (!stdout.includes('\n')) return;
        clearTimeout(timer);
        child.removeListener('exit', onExit);
        try {
          const ready = JSON.parse(line) as { ready: boolean; issuer: string; url: string };
          resolve({ issuer: ready.issuer, url: ready.url });
        } catch {
          fail(`unexpected output ${line}`);
        }
      });
    });
    const discovery = await this.json(`${this.url}/.well-known/openid-configuration`);
    // Served by this process whatever issuer it claims: the paths of the discovery document, on its own address.
    const here = (endpoint: unknown) => `${this.url}${new URL(String(endpoint)).pathname}`;
    this.endpoints = { registration: here(discovery.registration_endpoint), token: here(discovery.token_endpoint), jwks: here(discovery.jwks_uri) };
    return this;
  }

  /** A JWT access token from the token endpoint, for a client holding `roles` (registered at the provider on first use). */
  async token(request: OidcTokenRequest = {}): Promise<string> {
    const client = await this.client(request);
    const response = await fetch(this.endpoint('token'), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.secret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: request.audience ?? this.audience, scope: 'staff' }).toString(),
    });
    const body = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
    if (!response.ok || typeof body.access_token !== 'string') {
      throw new Error(`The OIDC test provider refused a token: HTTP ${response.status} ${body.error ?? ''} ${body.error_description ?? ''}`);
    }
    return body.access_token;
  }

  /** Stops the provider (it stops too when the test process ends). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.stdin.end();
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(killer);
  }

  private async client(request: OidcTokenRequest): Promise<RegisteredClient> {
    const roles = [...(request.roles ?? [])];
    const ttl = request.ttlSeconds ?? 300;
    const alg = request.alg ?? this.options.alg ?? 'RS256';
    const shape = JSON.stringify({ roles, ttl, alg, username: request.username ?? null });
    const clientId =
      request.clientId ??
      `staff-${roles.map((role) => role.replace(/[^\w.@:-]/g, '_')).join('_') || 'none'}-${ttl}s-${alg}${request.username ? `-${request.username}` : ''}`;
    const known = this.clients.get(clientId);
    if (known) {
      if (known.shape !== shape) throw new Error(`Client ${clientId} is registered already with other roles, ttl, algorithm or name`);
      return known;
    }
    const response = await fetch(this.endpoint('registration'), {
      method: 'POST',
      headers: { authorization: `Bearer ${this.registrationToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: request.username ?? clientId,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        sigillum_client_id: clientId,
        sigillum_roles: roles,
        sigillum_token_ttl: ttl,
        sigillum_token_alg: alg,
      }),
    });
    const body = (await response.json()) as { client_id?: string; client_secret?: string; error?: string; error_description?: string };
    if (!response.ok || !body.client_id || !body.client_secret) {
      throw new Error(
        `The OIDC test provider refused to register client ${clientId}: HTTP ${response.status} ${body.error ?? ''} ${body.error_description ?? ''}`,
      );
    }
    const client = { clientId: body.client_id, secret: body.client_secret, shape };
    this.clients.set(clientId, client);
    return client;
  }

  private async json(url: string): Promise<Record<string, unknown>> {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
    return (await response.json()) as Record<string, unknown>;
  }

  private endpoint(name: 'registration' | 'token' | 'jwks'): string {
    if (!this.endpoints) throw new Error('OidcTestProvider is not started: await start() first');
    return this.endpoints[name];
  }

  private require(): { issuer: string; url: string } {
    if (!this.started) throw new Error('OidcTestProvider is not started: await start() first');
    return this.started;
  }
}
