import { ServerError, UsageError } from './errors';

/** A client of the server's auditor routes, with the auditor's bearer token. */
export class AuditClient {
  readonly base: string;

  constructor(
    server: string,
    private readonly token: string | undefined,
  ) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new UsageError(`--server "${server}" is not a URL (e.g. http://127.0.0.1:3000)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--server "${server}" must be an http(s) URL`);
    this.base = url.toString().replace(/\/+$/, '');
  }

  async get(path: string, options: { auth?: boolean; accept?: string; method?: 'GET' | 'POST' } = {}): Promise<{ status: number; body: Buffer }> {
    const url = `${this.base}${path}`;
    const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
    if (options.auth !== false && this.token) headers.authorization = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await fetch(url, { headers, method: options.method ?? 'GET' });
    } catch (error) {
      const cause = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message;
      throw new ServerError(`cannot reach ${url}: ${cause}`);
    }
    const body = Buffer.from(await response.arrayBuffer());
    if (response.status === 401 || response.status === 403) {
      throw new ServerError(`${url} refused (${response.status}): ${messageOf(body)}. Pass an auditor's staff token with --token or SIGILLUM_TOKEN.`);
    }
    if (response.status >= 500) throw new ServerError(`${url} failed (${response.status}): ${messageOf(body)}`);
    return { status: response.status, body };
  }

  /** GET a JSON resource that must exist (404 and other 4xx: bad input, exit 2). */
  async json<T>(path: string, options: { auth?: boolean } = {}): Promise<T> {
    const { status, body } = await this.get(path, options);
    if (status !== 200) throw new UsageError(`${this.base}${path} answered ${status}: ${messageOf(body)}`);
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch {
      throw new ServerError(`${this.base}${path} did not answer JSON`);
    }
  }

  /** POST without a body to a route answering JSON (404 and other 4xx: bad input, exit 2). */
  async postJson<T>(path: string): Promise<T> {
    const { status, body } = await this.get(path, { method: 'POST' });
    if (status !== 200) throw new UsageError(`${this.base}${path} answered ${status}: ${messageOf(body)}`);
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch {
      throw new ServerError(`${this.base}${path} did not answer JSON`);
    }
  }

  async text(path: string, options: { auth?: boolean } = {}): Promise<string> {
    const { status, body } = await this.get(path, { ...options, accept: 'text/plain, application/x-pem-file, */*' });
    if (status !== 200) throw new UsageError(`${this.base}${path} answered ${status}: ${messageOf(body)}`);
    return body.toString('utf8');
  }
}

function messageOf(body: Buffer): string {
  const text = body.toString('utf8');
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    return typeof parsed.message === 'string' ? parsed.message : text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}

/** The token: --token, else SIGILLUM_TOKEN. */
export function tokenOf(option: string | undefined): string {
  const token = option?.trim() || process.env.SIGILLUM_TOKEN?.trim();
  if (!token) throw new UsageError('an auditor token is needed: --token <token> or SIGILLUM_TOKEN (an auditor staff credential)');
  return token;
}
