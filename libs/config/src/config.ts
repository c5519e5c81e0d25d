import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';

export type EventStoreKind = 'sqlite' | 'kurrentdb' | 'postgres';
export type EventBusKind = 'embedded' | 'kafka';
export const ROLES = ['directory', 'certifier', 'domicile', 'processor', 'projections', 'gateway'] as const;
export type Role = (typeof ROLES)[number];
export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/**
 * SASL login of the Kafka clients, in kafkajs's shape. `password` is not enumerable: it never shows in
 * `JSON.stringify`, `util.inspect` or a logged config object, while kafkajs reads it as usual.
 */
export type KafkaSaslConfig = {
  readonly [M in (typeof KAFKA_SASL_MECHANISMS)[number]]: { readonly mechanism: M; readonly username: string; readonly password: string };
}[(typeof KAFKA_SASL_MECHANISMS)[number]];

/** TLS to the brokers, in kafkajs's shape: `true` (Node's CA list) or the PEM CAs to trust instead. */
export type KafkaSslConfig = true | { readonly ca: string[] };

export interface SigillumConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** The local SQLite file: the event store in the embedded default, checkpoints and read models always. */
  readonly sqliteFile: string;
  readonly sqliteSynchronous: 'NORMAL' | 'FULL';
  /** Where WAL checkpoints run: `background` on a worker thread (off the event loop), `inline` inside commits (SQLite's auto-checkpoint). */
  readonly sqliteCheckpoint: 'background' | 'inline';
  /** Where the projections apply live events to their read models: `thread` on a worker thread of their own (a second core), `inline` on the event loop. */
  readonly projectionsApply: 'thread' | 'inline';
  /** JSON characters of recently read streams the SQLite store keeps in memory (0: none). */
  readonly sqliteStreamCacheChars: number;
  readonly eventStore: { kind: 'sqlite' } | { kind: 'kurrentdb'; connectionString: string } | { kind: 'postgres'; connectionString: string; schema: string };
  readonly eventBus:
    | { kind: 'embedded' }
    | {
        kind: 'kafka';
        brokers: string[];
        clientId: string;
        partitions: number;
        /** KAFKA_TOPIC_PREFIX: put before every topic and consumer group on the wire ('' for none). */
        topicPrefix: string;
        sasl?: KafkaSaslConfig;
        ssl?: KafkaSslConfig;
      };
  /** INSTANCE_ID: this process among the instances of its role (its per-instance consumer groups, relay identity, logs). */
  readonly instanceId: string;
  /** ROLE_URLS: where the gateway forwards the HTTP routes of roles running in other processes (role -> base URLs). */
  readonly roleUrls: Readonly<Partial<Record<Role, readonly string[]>>>;
  readonly consumerMaxAttempts: number;
  /** Roles the gateway process hosts besides itself (`ROLES`). */
  readonly roles: readonly Role[];
  /** BUS_IN_FLIGHT: messages each consumer group of the embedded bus handles at once (never two of one key). */
  readonly busInFlight: number;
  /** ROLE_THREADS: roles of this process run on worker threads of their own (their own event loop and connection). */
  readonly roleThreads: readonly Role[];
  readonly logLevels: ('error' | 'warn' | 'log' | 'debug' | 'verbose')[];
  /** The environment this config was read from; each role validates its own variables from it at start-up. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Every variable the product reads, with its default; the README's table is generated from the same facts. */
export const ENVIRONMENT = {
  PORT: { default: '3000', help: 'HTTP port of the gateway (or of a role started alone)' },
  HOST: { default: '0.0.0.0', help: 'HTTP bind address' },
  DATA_DIR: { default: './var', help: 'where SQLite files and other local data live' },
  SQLITE_FILE: { default: '<DATA_DIR>/<process>.db', help: 'local SQLite file; shared by all roles in the embedded default' },
  SQLITE_SYNCHRONOUS: { default: 'NORMAL', help: 'NORMAL (WAL, fsync at checkpoints) or FULL (fsync every commit)' },
  SQLITE_CHECKPOINT: {
    default: 'background',
    help: "background (a worker thread copies the WAL into the database file, off the event loop) or inline (SQLite's auto-checkpoint inside commits)",
  },
  PROJECTIONS_APPLY: {
    default: 'thread',
    help: 'thread (the read models of the SQLite file are written by a worker thread with its own connection, on the second core: more deliveries/s and read models current within ~30 ms at saturation; docs/design/performance.md) or inline (on the event loop)',
  },
  SQLITE_STREAM_CACHE_MB: {
    default: '16',
    help: 'recently read event streams kept in memory by the SQLite store (millions of JSON characters; 0 = off): a read of a held stream queries only what was appended since, or nothing',
  },
  EVENT_STORE: { default: 'sqlite', help: 'sqlite | kurrentdb | postgres' },
  EVENTSTORE_CONNECTION_STRING: { default: '', help: 'required when EVENT_STORE=kurrentdb, e.g. kurrentdb://127.0.0.1:2113?tls=false' },
  DATABASE_URL: { default: '', help: 'required when EVENT_STORE=postgres, e.g. postgres://sigillum@127.0.0.1:5432/sigillum' },
  PG_SCHEMA: { default: 'sigillum', help: 'PostgreSQL schema of the event store (created and migrated at start)' },
  EVENT_BUS: { default: 'kafka when KAFKA_BROKERS is set, else embedded', help: 'embedded | kafka; EVENT_BUS=embedded with KAFKA_BROKERS set is refused' },
  KAFKA_BROKERS: { default: '', help: 'comma-separated host:port list; required when EVENT_BUS=kafka; enables the Kafka test suites' },
  KAFKA_CLIENT_ID: { default: 'sigillum', help: 'kafkajs client id prefix' },
  KAFKA_TOPIC_PARTITIONS: { default: '3', help: 'partitions of topics the bus creates' },
  KAFKA_TOPIC_PREFIX: {
    default: '',
    help: "put before every topic and consumer group name (e.g. acme. gives acme.sigillum.party.events), so two deployments share a broker without seeing each other's records",
  },
  INSTANCE_ID: {
    default: '<hostname>-<pid>',
    help: 'name of this process among the instances of its role (letters, digits, . _ -); keep it stable across restarts of the same instance',
  },
  ROLE_URLS: {
    default: '',
    help: 'gateway only: roles served by other processes, e.g. directory=http://10.0.0.5:3001,processor=http://10.0.0.6:3004|http://10.0.0.7:3004; the gateway forwards their routes',
  },
  KAFKA_SASL_MECHANISM: { default: '', help: 'SASL login to the brokers: plain | scram-sha-256 | scram-sha-512; empty: none' },
  KAFKA_SASL_USERNAME: { default: '', help: 'SASL user (the Kafka principal User:<name>); required with KAFKA_SASL_MECHANISM' },
  KAFKA_SASL_PASSWORD: { default: '', help: 'SASL password; prefer KAFKA_SASL_PASSWORD_FILE; never logged' },
  KAFKA_SASL_PASSWORD_FILE: { default: '', help: 'file holding the SASL password (a trailing newline is ignored); instead of KAFKA_SASL_PASSWORD' },
  KAFKA_SSL: { default: 'false', help: 'true: TLS to the brokers (required with KAFKA_SASL_MECHANISM=plain unless every broker is on loopback)' },
  KAFKA_SSL_CA_FILE: { default: '', help: "PEM file of the CAs that sign the brokers' certificates, instead of Node's list; needs KAFKA_SSL=true" },
  CONSUMER_MAX_ATTEMPTS: { default: '3', help: 'attempts before a failing message goes to the dead-letter topic' },
  BUS_IN_FLIGHT: {
    default: '256',
    help: "embedded bus: messages each role's consumer group handles at once, never two of one key (those of a key stay in log order); 1 handles a group's messages one at a time",
  },
  ROLES: { default: 'all', help: 'roles the gateway process runs: all, or a comma list of directory, certifier, domicile, processor, projections' },
  ROLE_THREADS: {
    default: '',
    help: 'roles this process runs on worker threads of their own, e.g. certifier: their own event loop (the second core) and connection to the SQLite file, their routes forwarded by the gateway; empty: every role on the main thread',
  },
  KEYSTORE_DIR: {
    default: '<DATA_DIR>/keys',
    help: 'the key store directory; instances of a deployment that must sign as one (two processors, two certifiers, the session verifier key) share it (a mounted secret volume)',
  },
  KEYSTORE_PASSPHRASE: {
    default: '(generated beside the keys)',
    help: 'passphrase that encrypts private keys and HMAC keys under <DATA_DIR>/keys; set it in production',
  },
  LOG_LEVEL: { default: 'log', help: 'error | warn | log | debug | verbose' },
  // Read by @sigillum/runtime (json-limits.ts) when it builds the HTTP app.
  HTTP_JSON_MAX_BYTES: {
    default: '1048576',
    help: 'largest JSON or form request body: bytes, or a number with KiB or MiB (1 KiB to 64 MiB); larger bodies answer 413 before validation',
  },
  HTTP_JSON_MAX_DEPTH: { default: '32', help: 'deepest nesting of objects and arrays in a request body (1-256); deeper bodies answer 400 before validation' },
  // Read by @sigillum/runtime (https-listener.ts): the HTTPS listener with mutual TLS.
  HTTPS_PORT: {
    default: '',
    help: 'port of the HTTPS listener with mutual TLS (client certificates of the Sigillum CA), beside PORT; unset: no HTTPS listener; 0: any free port',
  },
  TLS_CERT_FILE: {
    default: '',
    help: "server certificate (PEM) of the HTTPS listener, with TLS_KEY_FILE; unset: one issued at start-up by the process's own CA (certifier role) for TLS_SERVER_NAMES",
  },
  TLS_KEY_FILE: { default: '', help: 'unencrypted PEM private key of TLS_CERT_FILE' },
  TLS_CLIENT_CA_FILE: { default: '', help: "CA certificate(s) (PEM) client certificates must chain to; unset: the process's own CA (certifier role)" },
  TLS_SERVER_NAMES: { default: 'localhost,127.0.0.1', help: 'DNS names and IP addresses of the server certificate issued at start-up (comma list)' },
  TLS_MIN_VERSION: { default: 'TLSv1.2', help: 'oldest TLS version the HTTPS listener accepts: TLSv1.2 or TLSv1.3' },
} as const;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\nFix the environment variables above and start again.`);
    this.name = 'ConfigError';
  }
}

const LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;

/** Reads and validates the environment; throws ConfigError naming every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv, processName = 'sigillum'): SigillumConfig {
  const problems: string[] = [];
  const read = (name: keyof typeof ENVIRONMENT) => {
    const value = env[name];
    return value === undefined || value === '' ? ENVIRONMENT[name].default : value.trim();
  };
  const integer = (name: keyof typeof ENVIRONMENT, min: number, max: number) => {
    const raw = read(name);
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name}="${raw}" must be an integer between ${min} and ${max}`);
    }
    return value;
  };
  const oneOf = <T extends string>(name: keyof typeof ENVIRONMENT, allowed: readonly T[]): T => {
    const value = read(name) as T;
    if (!allowed.includes(value)) problems.push(`${name}="${value}" must be one of ${allowed.join(', ')}`);
    return value;
  };

  const port = integer('PORT', 0, 65535);
  const dataDir = path.resolve(read('DATA_DIR'));
  const sqliteFile = env.SQLITE_FILE ? path.resolve(env.SQLITE_FILE) : path.join(dataDir, `${processName}.db`);
  const sqliteSynchronous = oneOf('SQLITE_SYNCHRONOUS', ['NORMAL', 'FULL'] as const);
  const sqliteCheckpoint = oneOf('SQLITE_CHECKPOINT', ['background', 'inline'] as const);
  const projectionsApply = oneOf('PROJECTIONS_APPLY', ['thread', 'inline'] as const);
  const sqliteStreamCacheChars = integer('SQLITE_STREAM_CACHE_MB', 0, 4096) * 1024 * 1024;

  const storeKind = oneOf('EVENT_STORE', ['sqlite', 'kurrentdb', 'postgres'] as const);
  const connectionString = read('EVENTSTORE_CONNECTION_STRING');
  if (storeKind === 'kurrentdb' && !connectionString) {
    problems.push('EVENTSTORE_CONNECTION_STRING is required when EVENT_STORE=kurrentdb (e.g. kurrentdb://127.0.0.1:2113?tls=false)');
  }
  // PostgreSQL event store: DATABASE_URL (never quoted back: it may hold a password) and PG_SCHEMA.
  const databaseUrl = read('DATABASE_URL');
  const pgSchema = read('PG_SCHEMA');
  if (storeKind === 'postgres') {
    if (!databaseUrl) {
      problems.push('DATABASE_URL is required when EVENT_STORE=postgres (e.g. postgres://sigillum@127.0.0.1:5432/sigillum)');
    } else if (!isPostgresUrl(databaseUrl)) {
      problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL with a host (e.g. postgres://sigillum@127.0.0.1:5432/sigillum)');
    }
    if (!/^[a-z_][a-z0-9_]{0,47}$/.test(pgSchema)) {
      problems.push(`PG_SCHEMA="${pgSchema}" must be 1-48 lower-case letters, digits and underscores, not starting with a digit`);
    }
  }

  const brokers = read('KAFKA_BROKERS')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  // One rule for npm start, the demos and the benches: KAFKA_BROKERS implies the Kafka bus; naming a broker while
  // asking for the embedded bus is refused rather than silently ignored.
  const explicitBus = env.EVENT_BUS?.trim();
  const busKind = explicitBus ? oneOf('EVENT_BUS', ['embedded', 'kafka'] as const) : brokers.length > 0 ? 'kafka' : 'embedded';
  if (explicitBus === 'embedded' && brokers.length > 0) {
    problems.push(
      'KAFKA_BROKERS is set but EVENT_BUS=embedded: unset KAFKA_BROKERS for the embedded bus, or unset EVENT_BUS (KAFKA_BROKERS implies EVENT_BUS=kafka)',
    );
  }
  if (busKind === 'kafka' && brokers.length === 0) {
    problems.push('KAFKA_BROKERS is required when EVENT_BUS=kafka (e.g. 127.0.0.1:9092; `bash scripts/kafka.sh start` runs one)');
  }
  for (const broker of brokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(broker)) problems.push(`KAFKA_BROKERS entry "${broker}" must be host:port`);
  }
  if (storeKind === 'kurrentdb' && busKind === 'embedded') {
    problems.push('EVENT_BUS=embedded reads the SQLite log, so it needs EVENT_STORE=sqlite; use EVENT_BUS=kafka with KurrentDB');
  }
  if (storeKind === 'postgres' && busKind === 'embedded') {
    problems.push('EVENT_BUS=embedded reads the SQLite log, so it needs EVENT_STORE=sqlite; use EVENT_BUS=kafka (set KAFKA_BROKERS) with PostgreSQL');
  }
  const partitions = integer('KAFKA_TOPIC_PARTITIONS', 1, 1000);
  const topicPrefix = read('KAFKA_TOPIC_PREFIX');
  if (topicPrefix && !/^[A-Za-z0-9._-]{1,64}$/.test(topicPrefix)) {
    problems.push(`KAFKA_TOPIC_PREFIX="${topicPrefix}" must be 1-64 letters, digits, '.', '_' or '-' (Kafka topic characters)`);
  }
  const instanceId = env.INSTANCE_ID?.trim() || `${hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(instanceId)) problems.push(`INSTANCE_ID="${instanceId}" must be 1-64 letters, digits, '.', '_' or '-'`);
  const roleUrls = parseRoleUrls(read('ROLE_URLS'), problems);
  const { sasl, ssl } = kafkaSecurity(env, brokers, problems);
  const consumerMaxAttempts = integer('CONSUMER_MAX_ATTEMPTS', 1, 100);
  const busInFlight = integer('BUS_IN_FLIGHT', 1, 4096);
  const level = oneOf('LOG_LEVEL', LEVELS);
  const rolesRaw = read('ROLES');
  const roles =
    rolesRaw === 'all'
      ? [...ROLES]
      : rolesRaw
          .split(',')
          .map((r) => r.trim())
          .filter(Boolean);
  for (const role of roles) {
    if (!ROLES.includes(role as Role)) problems.push(`ROLES entry "${role}" must be one of ${ROLES.join(', ')} (or ROLES=all)`);
  }
  const roleThreads = read('ROLE_THREADS')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  for (const role of roleThreads) {
    if (!ROLES.includes(role as Role) || role === 'gateway') {
      problems.push(`ROLE_THREADS entry "${role}" must be one of ${ROLES.filter((r) => r !== 'gateway').join(', ')}`);
    } else if (!roles.includes(role)) problems.push(`ROLE_THREADS entry "${role}" is not in ROLES: a role runs on a thread of the process that runs it`);
  }
  if (new Set(roleThreads).size !== roleThreads.length) problems.push('ROLE_THREADS names a role twice');

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port,
    host: read('HOST'),
    dataDir,
    sqliteFile,
    sqliteSynchronous,
    sqliteCheckpoint,
    projectionsApply,
    sqliteStreamCacheChars,
    eventStore:
      storeKind === 'kurrentdb'
        ? { kind: 'kurrentdb', connectionString }
        : storeKind === 'postgres'
          ? { kind: 'postgres', connectionString: databaseUrl, schema: pgSchema }
          : { kind: 'sqlite' },
    eventBus:
      busKind === 'kafka'
        ? { kind: 'kafka', brokers, clientId: read('KAFKA_CLIENT_ID'), partitions, topicPrefix, ...(sasl && { sasl }), ...(ssl && { ssl }) }
        : { kind: 'embedded' },
    consumerMaxAttempts,
    busInFlight,
    instanceId,
    roleUrls,
    roles: roles as Role[],
    roleThreads: roleThreads as Role[],
    logLevels: [...LEVELS.slice(0, LEVELS.indexOf(level) + 1)],
    env: { ...env },
  };
}

/** ROLE_URLS: `role=url|url,role=url`; each URL http(s) with a host, no path beyond '/'. */
function parseRoleUrls(raw: string, problems: string[]): Partial<Record<Role, string[]>> {
  const result: Partial<Record<Role, string[]>> = {};
  if (!raw) return result;
  for (const entry of raw
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [role, urls] = entry.split('=', 2).map((part) => part?.trim() ?? '');
    if (!ROLES.includes(role as Role) || role === 'gateway') {
      problems.push(`ROLE_URLS entry "${entry}" must start with one of ${ROLES.filter((r) => r !== 'gateway').join(', ')} then '='`);
      continue;
    }
    const list = (urls ?? '')
      .split('|')
      .map((u) => u.trim())
      .filter(Boolean);
    if (list.length === 0) problems.push(`ROLE_URLS entry "${entry}" names no URL (role=http://host:port)`);
    for (const url of list) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(url);
      } catch {
        parsed = undefined;
      }
      if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.pathname.replace(/\/$/, '') !== '' || parsed.search) {
        problems.push(`ROLE_URLS URL "${url}" for ${role} must be http(s)://host:port with no path`);
      }
    }
    result[role as Role] = [...(result[role as Role] ?? []), ...list.map((u) => u.replace(/\/$/, ''))];
  }
  return result;
}

/** A postgres:// or postgresql:// URL naming a host (pg also reads other forms; the configuration asks for this one). */
function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
  } catch {
    return false;
  }
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[?::1\]?)$/i;

/** KAFKA_SASL_* and KAFKA_SSL*: checked whatever EVENT_BUS says, so that a typo shows at once. Problems never quote a secret. */
function kafkaSecurity(env: NodeJS.ProcessEnv, brokers: readonly string[], problems: string[]): { sasl?: KafkaSaslConfig; ssl?: KafkaSslConfig } {
  const value = (name: keyof typeof ENVIRONMENT) => env[name]?.trim() || '';
  const readFile = (name: keyof typeof ENVIRONMENT, what: string): string | undefined => {
    try {
      return readFileSync(value(name), 'utf8');
    } catch (error) {
      problems.push(
        `${name}="${value(name)}" cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): it must be a readable file holding ${what}`,
      );
      return undefined;
    }
  };

  const sslRaw = value('KAFKA_SSL').toLowerCase() || ENVIRONMENT.KAFKA_SSL.default;
  if (sslRaw !== 'true' && sslRaw !== 'false') problems.push(`KAFKA_SSL="${value('KAFKA_SSL')}" must be true or false`);
  const tls = sslRaw === 'true';
  let ssl: KafkaSslConfig | undefined = tls ? true : undefined;
  if (value('KAFKA_SSL_CA_FILE')) {
    if (!tls) problems.push('KAFKA_SSL_CA_FILE is set but KAFKA_SSL is not true: set KAFKA_SSL=true to use TLS');
    const pem = readFile('KAFKA_SSL_CA_FILE', 'PEM certificates');
    if (pem !== undefined && !pem.includes('-----BEGIN CERTIFICATE-----')) {
      problems.push(`KAFKA_SSL_CA_FILE="${value('KAFKA_SSL_CA_FILE')}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    } else if (pem !== undefined && tls) {
      ssl = { ca: [pem] };
    }
  }

  const mechanism = value('KAFKA_SASL_MECHANISM').toLowerCase() as KafkaSaslConfig['mechanism'] | '';
  const username = value('KAFKA_SASL_USERNAME');
  const hasPassword = (env.KAFKA_SASL_PASSWORD ?? '') !== '';
  const hasPasswordFile = value('KAFKA_SASL_PASSWORD_FILE') !== '';
  if (!mechanism) {
    if (username || hasPassword || hasPasswordFile) {
      problems.push(
        `KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD(_FILE) are set but KAFKA_SASL_MECHANISM is not: set it to one of ${KAFKA_SASL_MECHANISMS.join(', ')}`,
      );
    }
    return { ssl };
  }
  if (!KAFKA_SASL_MECHANISMS.includes(mechanism)) {
    problems.push(`KAFKA_SASL_MECHANISM="${value('KAFKA_SASL_MECHANISM')}" must be one of ${KAFKA_SASL_MECHANISMS.join(', ')} (or empty for no SASL)`);
    return { ssl };
  }
  if (!username) problems.push(`KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM=${mechanism}`);
  let password: string | undefined;
  if (hasPassword && hasPasswordFile) {
    problems.push('KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set: keep one');
  } else if (hasPasswordFile) {
    password = readFile('KAFKA_SASL_PASSWORD_FILE', 'the SASL password')?.replace(/\r?\n$/, '');
    if (password === '') problems.push(`KAFKA_SASL_PASSWORD_FILE="${value('KAFKA_SASL_PASSWORD_FILE')}" is empty`);
  } else if (hasPassword) {
    password = env.KAFKA_SASL_PASSWORD;
  } else {
    problems.push(`KAFKA_SASL_PASSWORD_FILE (or KAFKA_SASL_PASSWORD) is required with KAFKA_SASL_MECHANISM=${mechanism}`);
  }
  if (mechanism === 'plain' && !tls && !brokers.every((broker) => LOOPBACK.test(broker.replace(/:\d+$/, '')))) {
    problems.push('KAFKA_SASL_MECHANISM=plain would send the password in clear to a remote broker: set KAFKA_SSL=true, or use scram-sha-512');
  }
  if (!username || !password) return { ssl };
  const sasl = { mechanism, username } as KafkaSaslConfig;
  Object.defineProperty(sasl, 'password', { value: password, enumerable: false });
  return { sasl, ssl };
}
