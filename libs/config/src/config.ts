import * as path from 'node:path';

export type EventStoreKind = 'sqlite' | 'kurrentdb';
export type EventBusKind = 'embedded' | 'kafka';
export const ROLES = ['directory', 'certifier', 'domicile', 'processor', 'projections', 'gateway'] as const;
export type Role = (typeof ROLES)[number];

export interface SigillumConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** The local SQLite file: the event store in the embedded default, checkpoints and read models always. */
  readonly sqliteFile: string;
  readonly sqliteSynchronous: 'NORMAL' | 'FULL';
  /** Where WAL checkpoints run: `background` on a worker thread (off the event loop), `inline` inside commits (SQLite's auto-checkpoint). */
  readonly sqliteCheckpoint: 'background' | 'inline';
  readonly eventStore: { kind: 'sqlite' } | { kind: 'kurrentdb'; connectionString: string };
  readonly eventBus:
    | { kind: 'embedded' }
    | { kind: 'kafka'; brokers: string[]; clientId: string; partitions: number };
  readonly consumerMaxAttempts: number;
  /** Roles the gateway process hosts besides itself (`ROLES`). */
  readonly roles: readonly Role[];
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
    help: 'background (a worker thread copies the WAL into the database file, off the event loop) or inline (SQLite\'s auto-checkpoint inside commits)',
  },
  EVENT_STORE: { default: 'sqlite', help: 'sqlite | kurrentdb' },
  EVENTSTORE_CONNECTION_STRING: { default: '', help: 'required when EVENT_STORE=kurrentdb, e.g. kurrentdb://127.0.0.1:2113?tls=false' },
  EVENT_BUS: { default: 'embedded', help: 'embedded | kafka' },
  KAFKA_BROKERS: { default: '', help: 'comma-separated host:port list; required when EVENT_BUS=kafka; enables the Kafka test suites' },
  KAFKA_CLIENT_ID: { default: 'sigillum', help: 'kafkajs client id prefix' },
  KAFKA_TOPIC_PARTITIONS: { default: '3', help: 'partitions of topics the bus creates' },
  CONSUMER_MAX_ATTEMPTS: { default: '3', help: 'attempts before a failing message goes to the dead-letter topic' },
  ROLES: { default: 'all', help: 'roles the gateway process runs: all, or a comma list of directory, certifier, domicile, processor, projections' },
  KEYSTORE_PASSPHRASE: { default: '(generated beside the keys)', help: 'passphrase that encrypts private keys and HMAC keys under <DATA_DIR>/keys; set it in production' },
  LOG_LEVEL: { default: 'log', help: 'error | warn | log | debug | verbose' },
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

  const storeKind = oneOf('EVENT_STORE', ['sqlite', 'kurrentdb'] as const);
  const connectionString = read('EVENTSTORE_CONNECTION_STRING');
  if (storeKind === 'kurrentdb' && !connectionString) {
    problems.push('EVENTSTORE_CONNECTION_STRING is required when EVENT_STORE=kurrentdb (e.g. kurrentdb://127.0.0.1:2113?tls=false)');
  }

  const busKind = oneOf('EVENT_BUS', ['embedded', 'kafka'] as const);
  const brokers = read('KAFKA_BROKERS').split(',').map((b) => b.trim()).filter(Boolean);
  if (busKind === 'kafka' && brokers.length === 0) {
    problems.push('KAFKA_BROKERS is required when EVENT_BUS=kafka (e.g. 127.0.0.1:9092; `bash scripts/kafka.sh start` runs one)');
  }
  for (const broker of brokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(broker)) problems.push(`KAFKA_BROKERS entry "${broker}" must be host:port`);
  }
  if (storeKind === 'kurrentdb' && busKind === 'embedded') {
    problems.push('EVENT_BUS=embedded reads the SQLite log, so it needs EVENT_STORE=sqlite; use EVENT_BUS=kafka with KurrentDB');
  }
  const partitions = integer('KAFKA_TOPIC_PARTITIONS', 1, 1000);
  const consumerMaxAttempts = integer('CONSUMER_MAX_ATTEMPTS', 1, 100);
  const level = oneOf('LOG_LEVEL', LEVELS);
  const rolesRaw = read('ROLES');
  const roles = rolesRaw === 'all' ? [...ROLES] : rolesRaw.split(',').map((r) => r.trim()).filter(Boolean);
  for (const role of roles) {
    if (!ROLES.includes(role as Role)) problems.push(`ROLES entry "${role}" must be one of ${ROLES.join(', ')} (or ROLES=all)`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port,
    host: read('HOST'),
    dataDir,
    sqliteFile,
    sqliteSynchronous,
    sqliteCheckpoint,
    eventStore: storeKind === 'kurrentdb' ? { kind: 'kurrentdb', connectionString } : { kind: 'sqlite' },
    eventBus:
      busKind === 'kafka'
        ? { kind: 'kafka', brokers, clientId: read('KAFKA_CLIENT_ID'), partitions }
        : { kind: 'embedded' },
    consumerMaxAttempts,
    roles: roles as Role[],
    logLevels: [...LEVELS.slice(0, LEVELS.indexOf(level) + 1)],
    env: { ...env },
  };
}
