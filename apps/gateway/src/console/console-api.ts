import type { AddressInfo } from 'node:net';
import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

export type ApiAnswer<T> =
  | { readonly ok: true; readonly status: number; readonly body: T }
  | { readonly ok: false; readonly status: number; readonly rule: string; readonly message: string; readonly body?: unknown };

/**
 * The console reads and acts through the HTTP API of this very gateway, with the signed-in staff member's own token:
 * every number and every action passes the same access decision as a direct call (an `ops` token cannot read a
 * subject here any more than with curl), and roles served by other processes are reached through the gateway's
 * forwarding, as any client reaches them.
 */
@Injectable()
export class ConsoleApi {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  private base(): string {
    const address = this.adapterHost.httpAdapter.getHttpServer().address() as AddressInfo | string | null;
    if (!address || typeof address === 'string') throw new Error('the console needs the HTTP listener (PORT) of its own gateway');
    const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  async call<T>(method: 'GET' | 'POST', path: string, authorization: string | undefined, body?: unknown): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (authorization) headers.authorization = authorization;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.base()}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      return { ok: false, status: 502, rule: 'console.api-unreachable', message: (error as Error).message };
    }
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = { message: text.slice(0, 300) };
    }
    if (response.ok) return { ok: true, status: response.status, body: parsed as T };
    const refusal = (parsed ?? {}) as { message?: unknown; reasons?: { rule?: unknown; message?: unknown }[] };
    const reason = Array.isArray(refusal.reasons) ? refusal.reasons[0] : undefined;
    return {
      ok: false,
      status: response.status,
      body: parsed,
      rule: typeof reason?.rule === 'string' ? reason.rule : `http.${response.status}`,
      message:
        typeof reason?.message === 'string'
          ? reason.message
          : typeof refusal.message === 'string'
            ? refusal.message
            : Array.isArray(refusal.message)
              ? refusal.message.join('; ')
              : '',
    };
  }

  get<T>(path: string, authorization: string | undefined): Promise<ApiAnswer<T>> {
    return this.call<T>('GET', path, authorization);
  }
}
