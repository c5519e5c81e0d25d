import type { INestApplication, LoggerService } from '@nestjs/common';
import { traceIdOf } from '@sigillum/bus';
import type { SigillumConfig } from '@sigillum/config';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Logger as PinoNestLogger, PinoLogger } from 'nestjs-pino';
import pino from 'pino';
import { pinoHttp } from 'pino-http';

/** Nest's levels as LOG_LEVEL names them, and pino's. */
const PINO_LEVELS = { error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' } as const;

/** Paths never logged by probes: a scrape or a health check every few seconds is not news. */
const QUIET_PATHS = /^\/(health|metrics)(\/|\?|$)/;

/**
 * Nest's start-up chatter (every module initialised, every route mapped) is debug, not info: `npm start` then
 * prints what an operator needs (where it listens, which groups consume) and LOG_LEVEL=debug shows the rest.
 */
const CHATTY_CONTEXTS: ReadonlySet<string> = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestFactory',
  'NestApplication',
  'NestMicroservice',
]);

let root: pino.Logger | undefined;

/** The pino level of a config: the most verbose of its Nest levels. */
export function pinoLevelOf(config: Pick<SigillumConfig, 'logLevels'>): pino.Level {
  const last = config.logLevels[config.logLevels.length - 1] ?? 'log';
  return PINO_LEVELS[last];
}

/**
 * The process's one pino logger: JSON lines on stdout (through process.stdout, so what a test captures is what an
 * operator reads), ISO time, level names. The ids of what a line is about are written by whoever logs it (the request
 * line its traceparent, a recorded event its correlation, causation and trace): no AsyncLocalStorage carries them, its
 * promise hooks cost ~4 % of a delivery's CPU. One per process: nestjs-pino keeps the first logger it is given, so a
 * later app in the same process (tests) only changes its level.
 */
export function rootLogger(level: pino.Level): pino.Logger {
  root ??= pino(
    {
      level,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Belt and braces: the request serializer below never includes headers; if a line ever carries them, not these.
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-sigillum-session"]', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    process.stdout,
  );
  root.level = level;
  return root;
}

/** The route template Express matched (`/parties/:partyId`), never the path with its ids; `unmatched` otherwise. */
export function routeOf(req: IncomingMessage): string {
  const express = req as IncomingMessage & { route?: { path?: unknown }; baseUrl?: string };
  const path = express.route?.path;
  return typeof path === 'string' ? `${express.baseUrl ?? ''}${path}` : 'unmatched';
}

/**
 * pino-http after the body parsers: one JSON line per HTTP request when it ends (method, route, status, duration,
 * traceparent). Not nestjs-pino's module, whose middleware runs the rest of every request in an AsyncLocalStorage.
 */
export function installRequestLogging(app: INestApplication, config: SigillumConfig): void {
  app.use(
    pinoHttp({
      logger: rootLogger(pinoLevelOf(config)),
      quietReqLogger: true,
      autoLogging: { ignore: (req) => QUIET_PATHS.test(req.url ?? '') },
      // Only what locates the request: no headers (credentials), no query string (search terms), no body.
      serializers: {
        req: (req: { method?: string; url?: string }) => ({ method: req.method, path: (req.url ?? '').split('?')[0] }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
      // The request's own (installRequestObservation made it valid, or a new one).
      customProps: (req: IncomingMessage) => {
        const traceparent = typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined;
        return traceparent ? { traceparent, traceId: traceIdOf(traceparent) } : {};
      },
      customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
      customSuccessMessage: (req: IncomingMessage, res: ServerResponse, responseTime: number) =>
        `${req.method} ${routeOf(req)} ${res.statusCode} ${Math.round(responseTime)} ms`,
      customErrorMessage: (req: IncomingMessage, res: ServerResponse) => `${req.method} ${routeOf(req)} ${res.statusCode} failed`,
    }),
  );
}

/** The Nest logger of the process: nestjs-pino's, with Nest's start-up chatter moved to debug. */
class QuietNestLogger extends PinoNestLogger {
  override log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams[optionalParams.length - 1];
    if (typeof context === 'string' && CHATTY_CONTEXTS.has(context)) return super.debug(message, ...optionalParams);
    return super.log(message, ...optionalParams);
  }
}

/** The logger given to NestFactory.create, so that even the first line of the start is JSON. */
export function nestLogger(config: SigillumConfig): LoggerService {
  const pinoLogger = new PinoLogger({ pinoHttp: { logger: rootLogger(pinoLevelOf(config)) }, renameContext: 'context' });
  return new QuietNestLogger(pinoLogger, { renameContext: 'context' });
}

/**
 * The line of a request that ended before pino-http saw it (the gateway's proxy, the body limits), in the same shape:
 * `<METHOD> <path> <status> <ms> ms`, `routed: false`, with its traceparent, never its headers or query.
 */
export function logUnroutedRequest(config: SigillumConfig) {
  const logger = rootLogger(pinoLevelOf(config));
  return (req: IncomingMessage, status: number, seconds: number, traceparent: string): void => {
    const path = (req.url ?? '').split('?')[0];
    if (QUIET_PATHS.test(path)) return;
    const responseTime = Math.round(seconds * 1000);
    // routed: false — answered by the gateway's proxy (the role behind it logs the route) or refused by the body limits.
    const line = { req: { method: req.method, path }, res: { statusCode: status }, responseTime, routed: false, traceparent, traceId: traceIdOf(traceparent) };
    const msg = `${req.method} ${path} ${status} ${responseTime} ms`;
    if (status >= 500) logger.error(line, msg);
    else logger.info(line, msg);
  };
}
