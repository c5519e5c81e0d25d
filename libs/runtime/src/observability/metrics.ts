import type { INestApplication } from '@nestjs/common';
import { consumerLagMessages, newTraceparent, validTraceparent } from '@sigillum/bus';
import type Database from 'better-sqlite3';
import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Gauge, Histogram, register } from 'prom-client';
import { routeOf } from './logger';

export const httpRequestSeconds =
  (register.getSingleMetric('sigillum_http_request_duration_seconds') as Histogram<'method' | 'route' | 'status'> | undefined) ??
  new Histogram({
    name: 'sigillum_http_request_duration_seconds',
    help: 'HTTP requests, by method, route template (never the path with its ids) and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  });

let defaultsCollected = false;

/** Node's own metrics (event loop lag, heap, GC, open handles), once per process; and whether promise hooks run. */
export function collectProcessMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register });
  new Gauge({
    name: 'sigillum_promise_hooks_enabled',
    help:
      '1 when Node runs async hooks on every promise (an AsyncLocalStorage or an async hook some module enabled, an APM agent): ' +
      '~4 % of the CPU of a delivery. Sigillum enables none: expect 0.',
    collect() {
      this.set(promiseHooksEnabled() ? 1 : 0);
    },
  });
}

/** Whether a new promise is tagged with an async id, which Node does only while an async hook (ALS included) is enabled. */
export function promiseHooksEnabled(): boolean {
  return Object.getOwnPropertySymbols(Promise.resolve()).some((symbol) => symbol.description === 'async_id_symbol');
}

export type UnroutedRequestLog = (req: Request, status: number, seconds: number, traceparent: string) => void;

/**
 * The first middleware of every request: its W3C trace context (the caller's `traceparent` when valid, a new one
 * otherwise), put back on the request so that the gateway's proxy forwards it to the role that serves the route, and
 * sent back so a caller can quote it; and its duration, by route template, when it ends.
 */
export function installRequestObservation(app: INestApplication, logUnroutedRequest?: UnroutedRequestLog): void {
  app.use((req: Request, res: Response, next: NextFunction) => {
    const traceparent = validTraceparent(req.headers.traceparent) ?? newTraceparent();
    req.headers.traceparent = traceparent;
    res.setHeader('traceparent', traceparent);
    const stop = httpRequestSeconds.startTimer();
    res.once('finish', () => {
      const seconds = stop({ method: req.method, route: routeOf(req), status: String(res.statusCode) });
      // pino-http (a Nest middleware, after the body parsers) logs the others; these ended before it: proxied by the
      // gateway to the role that serves them, or refused by the body limits.
      if (!('log' in req)) logUnroutedRequest?.(req, res.statusCode, seconds, traceparent);
    });
    next();
  });
}

/** The embedded bus's lag, read at scrape time: per group and topic, messages after its checkpoint. */
export function refreshEmbeddedLag(db: Database.Database): void {
  const rows = db
    .prepare(
      `SELECT s.group_id AS grp, s.topic AS topic,
              (SELECT count(*) FROM bus_messages m WHERE m.topic = s.topic AND m.dlq_group = '' AND m."offset" > COALESCE(c."offset", 0)) AS lag
         FROM bus_subscriptions s LEFT JOIN bus_checkpoints c ON c.group_id = s.group_id AND c.topic = s.topic`,
    )
    .all() as { grp: string; topic: string; lag: number }[];
  for (const row of rows) consumerLagMessages.set({ group: row.grp, topic: row.topic, partition: '0' }, row.lag);
}
