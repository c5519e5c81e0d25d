import type { Server } from 'node:http';
import { keepIdleConnectionsOpen } from './keep-alive';
import { type DynamicModule, type INestApplication, Logger, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { assertEveryRouteDecided, AuthModule, OidcStaffModule, StaffCredentialsModule, StoredPartySessionsModule } from '@sigillum/auth';
import { BusTransport, EVENT_BUS, KafkaRoleServer, type EventBus } from '@sigillum/bus';
import type { Clock } from '@sigillum/contracts';
import { ConfigError, loadConfig, type Role, type SigillumConfig } from '@sigillum/config';
import { kafkaSecurity } from './adapters';
import { JsonErrorFilter, strictValidationPipe } from './http-errors';
import { checkHttpsConfig, startHttpsListener } from './https-listener';
import { installJsonLimits, loadJsonLimits } from './json-limits';
import { serveOpenApi } from './openapi';
import { ShapedExpressAdapter } from './shaped-messages';
import { collectProcessMetrics, installRequestObservation } from './observability/metrics';
import { installRequestLogging, logUnroutedRequest, nestLogger } from './observability/logger';
import { RuntimeModule } from './runtime.module';

export interface RoleSpec {
  readonly role: Role;
  /** The role's Nest module (HTTP controllers and `@RoleEventPattern` consumers). */
  readonly module: Type<unknown>;
  /** Stream categories this role writes, hence relays. */
  readonly ownedCategories: readonly string[];
  /** Whether the role declares `@RoleEventPattern` handlers, hence needs a bus transport. */
  readonly consumes: boolean;
  /** Messages its views' group handles at once on the embedded bus (never two of one key); the bus's default when undefined. */
  readonly viewsInFlight?: (config: SigillumConfig) => number | undefined;
}

/** The root module of a process; its imports are chosen at start-up from the roles it runs. */
@Module({})
class ProcessModule {}

/** Builds (without listening) one process running the given roles: the composition root of every main.ts and e2e test. */
export interface AppOptions {
  /** Replaces the system clock (tests that need time to pass: code expiry, idle sessions). */
  readonly clock?: Clock;
  /** Called right before the body parsers are installed: middleware that must see the raw request (the gateway's proxy). */
  readonly beforeBodyParsers?: (app: NestExpressApplication) => void;
}

export async function createSigillumApp(config: SigillumConfig, roles: readonly RoleSpec[], options: AppOptions = {}): Promise<INestApplication> {
  const jsonLimits = loadJsonLimits(config.env);
  const root: DynamicModule = {
    module: ProcessModule,
    imports: [
      RuntimeModule.forRoot({
        config,
        roles: roles.map((spec) => spec.role),
        relayCategories: roles.flatMap((spec) => spec.ownedCategories),
        clock: options.clock,
      }),
      AuthModule,
      // Sigillum staff credentials (`sgst_…`), checked in every process from the staff streams of the shared store.
      StaffCredentialsModule,
      // Party sessions read from the shared store where the domicile (which owns them) runs in another process.
      ...(roles.some((spec) => spec.role === 'domicile') ? [] : [StoredPartySessionsModule]),
      // Staff bearer tokens of the operator's OIDC issuer, when OIDC_ISSUER is set.
      OidcStaffModule.fromEnv(config.env),
      ...roles.map((spec) => spec.module),
    ],
  };
  collectProcessMetrics();
  // JSON lines from the first one on (nestjs-pino); our own body parsers (size, depth, Unicode limits) below. Requests
  // are born with Express's prototypes (shaped-messages.ts: otherwise each keeps ~6 KB alive through a scavenge).
  const app = await NestFactory.create<NestExpressApplication>(root, new ShapedExpressAdapter(), {
    logger: nestLogger(config),
    abortOnError: false,
    bodyParser: false,
  });
  keepIdleConnectionsOpen(app.getHttpServer() as Server);
  // First: the request's trace context and its duration, before the gateway's proxy can take it elsewhere.
  installRequestObservation(app, logUnroutedRequest(config));
  options.beforeBodyParsers?.(app);
  // Body parsers of our own, installed before any route, guard or pipe runs.
  installJsonLimits(app, jsonLimits);
  // One JSON line per request that reached the routes (pino-http), with its traceparent.
  installRequestLogging(app, config);
  app.useGlobalPipes(strictValidationPipe());
  app.useGlobalFilters(new JsonErrorFilter());
  app.enableShutdownHooks();
  // Deny by default: a route without an explicit access decision stops the start, naming the route.
  assertEveryRouteDecided(app);
  serveOpenApi(
    app,
    roles.map((spec) => spec.role),
    config.env.OIDC_ISSUER || undefined,
  );
  const bus = app.get<EventBus>(EVENT_BUS);
  const eventBus = config.eventBus;
  for (const spec of roles.filter((s) => s.consumes)) {
    // Distributed: Nest's own Kafka transport (ServerKafka) serves the role's handlers; embedded: the bus port does.
    // Two servers per role: its work (@RoleEventPattern, group sigillum.<role>, shared by its instances) and its local
    // views (@RoleViewPattern, a group of this instance's own); a server without handlers starts no consumer.
    // Handlers called directly, not through Nest's RPC pipeline per message (libs/bus/src/nest/direct-handlers.ts).
    const resolveInstance = (type: Type<unknown>) => app.get(type, { strict: false });
    for (const view of [false, true]) {
      const strategy =
        eventBus.kind === 'kafka'
          ? new KafkaRoleServer({
              role: spec.role,
              ...(view && { view: { instanceId: config.instanceId } }),
              brokers: eventBus.brokers,
              topicPrefix: eventBus.topicPrefix,
              clientId: eventBus.clientId,
              partitions: eventBus.partitions,
              maxAttempts: config.consumerMaxAttempts,
              security: kafkaSecurity(eventBus),
              resolveInstance,
            })
          : new BusTransport(bus, {
              role: spec.role,
              view,
              maxAttempts: config.consumerMaxAttempts,
              maxInFlight: view ? spec.viewsInFlight?.(config) : undefined,
              resolveInstance,
            });
      app.connectMicroservice({ strategy }, { inheritAppConfig: true });
    }
  }
  return app;
}

const DOMAIN_ROLES: readonly Role[] = ['directory', 'certifier', 'domicile', 'processor', 'projections'];

/**
 * Roles in separate processes learn each other's facts from one event store they all reach. A process running some
 * of the roles on Kafka with its own SQLite file would answer "no such party" for what another process recorded:
 * refused at start-up, saying what to do. (A SQLITE_FILE shared by processes on one machine is left to the operator.)
 */
export function unsharedStoreProblem(config: SigillumConfig, roles: readonly RoleSpec[]): string | undefined {
  const domain = roles.filter((spec) => spec.role !== 'gateway');
  if (config.eventBus.kind !== 'kafka' || config.eventStore.kind !== 'sqlite' || config.env.SQLITE_FILE?.trim()) return undefined;
  if (domain.length === 0 || DOMAIN_ROLES.every((role) => domain.some((spec) => spec.role === role))) return undefined;
  return (
    `This process runs ${domain.map((spec) => spec.role).join(', ')} alone on Kafka with its own SQLite event store (${config.sqliteFile}): ` +
    'the other roles could not see what it records, nor it theirs. Set EVENT_STORE=postgres and DATABASE_URL (one store the roles ' +
    'share; see "Distributed mode" in docs/kafka.md and scripts/cluster.sh), or run every role in one process (npm start).'
  );
}

/** Entry point of a process: validated config or a clear exit, then HTTP and bus consumers. */
export async function runSigillum(
  processName: string,
  chooseRoles: readonly RoleSpec[] | ((config: SigillumConfig) => readonly RoleSpec[] | Promise<readonly RoleSpec[]>),
  options?: AppOptions | ((config: SigillumConfig) => AppOptions | Promise<AppOptions>),
): Promise<void> {
  let config: SigillumConfig;
  try {
    config = loadConfig(process.env, processName);
    checkHttpsConfig(config); // HTTPS_PORT, TLS_*: refused here (exit 78) rather than after the HTTP listener is up
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  // JSON lines from here on, for every Nest Logger of the process (a role thread's supervisor logs before the app exists).
  Logger.overrideLogger(nestLogger(config));
  const log = new Logger(processName);
  let roles: readonly RoleSpec[];
  try {
    roles = typeof chooseRoles === 'function' ? await chooseRoles(config) : chooseRoles;
  } catch (error) {
    log.error(`Could not start: ${(error as Error).message}`);
    process.exit(1);
  }
  const unshared = unsharedStoreProblem(config, roles);
  if (unshared) {
    process.stderr.write(`${unshared}\n`);
    process.exit(78); // EX_CONFIG
  }
  try {
    const app = await createSigillumApp(config, roles, typeof options === 'function' ? await options(config) : options);
    await app.startAllMicroservices();
    await app.listen(config.port, config.host);
    await startHttpsListener(app, config); // when HTTPS_PORT is set: the same app over HTTPS with mutual TLS
    log.log(
      `Listening on http://${config.host}:${config.port} — roles ${roles.map((r) => r.role).join(', ')}; ` +
        `store ${config.eventStore.kind}, bus ${config.eventBus.kind}, data in ${config.dataDir}`,
    );
  } catch (error) {
    log.error(`Could not start: ${(error as Error).message}`);
    log.error('Check that the data directory is writable and, in distributed mode, that Kafka/KurrentDB are reachable.');
    process.exit(1);
  }
}
