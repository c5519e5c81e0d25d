import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('gives the embedded default when nothing is set', () => {
    const config = loadConfig({}, 'sigillum');
    expect(config.port).toBe(3000);
    expect(config.eventStore).toEqual({ kind: 'sqlite' });
    expect(config.eventBus).toEqual({ kind: 'embedded' });
    expect(config.sqliteFile.endsWith('/var/sigillum.db')).toBe(true);
    expect(config.logLevels).toEqual(['error', 'warn', 'log']);
    expect(config.sqliteCheckpoint).toBe('background');
    expect(config.projectionsApply).toBe('thread');
  });

  it('reads SQLITE_STREAM_CACHE_MB (16 by default, 0 turns the cache off) and refuses what is not an integer in range', () => {
    expect(loadConfig({}).sqliteStreamCacheChars).toBe(16 * 1024 * 1024);
    expect(loadConfig({ SQLITE_STREAM_CACHE_MB: '0' }).sqliteStreamCacheChars).toBe(0);
    expect(() => loadConfig({ SQLITE_STREAM_CACHE_MB: 'lots' })).toThrow(/SQLITE_STREAM_CACHE_MB/);
    expect(() => loadConfig({ SQLITE_STREAM_CACHE_MB: '-1' })).toThrow(/SQLITE_STREAM_CACHE_MB/);
  });

  it('reads PROJECTIONS_APPLY and refuses other values', () => {
    expect(loadConfig({ PROJECTIONS_APPLY: 'inline' }).projectionsApply).toBe('inline');
    expect(() => loadConfig({ PROJECTIONS_APPLY: 'worker' })).toThrow(/PROJECTIONS_APPLY="worker" must be one of thread, inline/);
  });

  it('reads SQLITE_CHECKPOINT and refuses other values', () => {
    expect(loadConfig({ SQLITE_CHECKPOINT: 'inline' }).sqliteCheckpoint).toBe('inline');
    expect(loadConfig({ SQLITE_CHECKPOINT: ' background ' }).sqliteCheckpoint).toBe('background');
    expect(() => loadConfig({ SQLITE_CHECKPOINT: 'worker' })).toThrow(/SQLITE_CHECKPOINT="worker" must be one of background, inline/);
  });

  it('requires brokers for the Kafka bus and names the variable', () => {
    expect(() => loadConfig({ EVENT_BUS: 'kafka' })).toThrow(/KAFKA_BROKERS is required/);
  });

  it('reports every problem at once', () => {
    try {
      loadConfig({ PORT: 'eighty', EVENT_STORE: 'mongo', KAFKA_BROKERS: 'nohost' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems;
      expect(problems).toEqual([
        'PORT="eighty" must be an integer between 0 and 65535',
        'EVENT_STORE="mongo" must be one of sqlite, kurrentdb, postgres',
        'KAFKA_BROKERS entry "nohost" must be host:port',
      ]);
    }
  });

  it('refuses KurrentDB without a connection string, and with the embedded bus', () => {
    expect(() => loadConfig({ EVENT_STORE: 'kurrentdb' })).toThrow(/EVENTSTORE_CONNECTION_STRING is required/);
    expect(() => loadConfig({ EVENT_STORE: 'kurrentdb', EVENTSTORE_CONNECTION_STRING: 'kurrentdb://h:2113' })).toThrow(/needs EVENT_STORE=sqlite/);
  });

  it('reads a PostgreSQL event store: DATABASE_URL required and checked (never quoted back), PG_SCHEMA, the Kafka bus', () => {
    const kafka = { KAFKA_BROKERS: '127.0.0.1:9092' };
    expect(loadConfig({ ...kafka, EVENT_STORE: 'postgres', DATABASE_URL: 'postgres://sigillum@db:5432/sigillum' }).eventStore).toEqual({
      kind: 'postgres',
      connectionString: 'postgres://sigillum@db:5432/sigillum',
      schema: 'sigillum',
    });
    expect(loadConfig({ ...kafka, EVENT_STORE: 'postgres', DATABASE_URL: 'postgresql://u@db/s', PG_SCHEMA: 'run_42' }).eventStore).toMatchObject({
      kind: 'postgres',
      schema: 'run_42',
    });
    expect(() => loadConfig({ ...kafka, EVENT_STORE: 'postgres' })).toThrow(/DATABASE_URL is required when EVENT_STORE=postgres/);
    const secret = 'mysql://root:hunter2@db/s';
    expect(() => loadConfig({ ...kafka, EVENT_STORE: 'postgres', DATABASE_URL: secret })).toThrow(/DATABASE_URL must be a postgres:\/\//);
    try {
      loadConfig({ ...kafka, EVENT_STORE: 'postgres', DATABASE_URL: secret });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
    expect(() => loadConfig({ ...kafka, EVENT_STORE: 'postgres', DATABASE_URL: 'postgres://db/s', PG_SCHEMA: 'Bad-Name' })).toThrow(
      /PG_SCHEMA="Bad-Name" must be/,
    );
  });

  it('refuses the PostgreSQL store with the embedded bus, naming the fix', () => {
    expect(() => loadConfig({ EVENT_STORE: 'postgres', DATABASE_URL: 'postgres://db/s' })).toThrow(
      /EVENT_BUS=embedded reads the SQLite log.*use EVENT_BUS=kafka \(set KAFKA_BROKERS\) with PostgreSQL/,
    );
  });

  it('takes the Kafka bus from KAFKA_BROKERS alone, and refuses EVENT_BUS=embedded beside a broker', () => {
    expect(loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092' }).eventBus).toMatchObject({ kind: 'kafka', brokers: ['127.0.0.1:9092'] });
    expect(loadConfig({ KAFKA_BROKERS: '' }).eventBus).toEqual({ kind: 'embedded' });
    expect(() => loadConfig({ EVENT_BUS: 'embedded', KAFKA_BROKERS: '127.0.0.1:9092' })).toThrow(/KAFKA_BROKERS is set but EVENT_BUS=embedded/);
  });

  it('reads a Kafka configuration', () => {
    const config = loadConfig({ EVENT_BUS: 'kafka', KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.1:9094' });
    expect(config.eventBus).toEqual({ kind: 'kafka', brokers: ['127.0.0.1:9092', '127.0.0.1:9094'], clientId: 'sigillum', partitions: 3, topicPrefix: '' });
  });

  describe('Kafka SASL and TLS', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sigillum-config-'));
    const file = (name: string, content: string) => {
      const target = path.join(dir, name);
      writeFileSync(target, content, { mode: 0o600 });
      return target;
    };
    const kafka = { EVENT_BUS: 'kafka', KAFKA_BROKERS: '127.0.0.1:9094' };
    const problemsOf = (env: NodeJS.ProcessEnv): string[] => {
      try {
        loadConfig(env);
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    };

    it('has no SASL nor TLS unless asked', () => {
      const bus = loadConfig(kafka).eventBus;
      expect(bus).toEqual({ kind: 'kafka', brokers: ['127.0.0.1:9094'], clientId: 'sigillum', partitions: 3, topicPrefix: '' });
      expect('sasl' in bus || 'ssl' in bus).toBe(false);
    });

    it('reads SCRAM credentials from a password file, and never shows the password', () => {
      const secret = 'pa55-word-from-file';
      const config = loadConfig({
        ...kafka,
        KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
        KAFKA_SASL_USERNAME: 'sigillum',
        KAFKA_SASL_PASSWORD_FILE: file('app.password', `${secret}\n`),
      });
      const bus = config.eventBus as Extract<typeof config.eventBus, { kind: 'kafka' }>;
      expect(bus.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'sigillum' });
      expect(bus.sasl?.password).toBe(secret);
      expect(bus.ssl).toBeUndefined();
      // What a log line or a JSON dump of the bus config would show.
      expect(JSON.stringify(bus)).not.toContain(secret);
      expect(inspect(bus, { depth: 5 })).not.toContain(secret);
    });

    it('reads a password from KAFKA_SASL_PASSWORD, and TLS with a CA file', () => {
      const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
      const config = loadConfig({
        ...kafka,
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'sigillum',
        KAFKA_SASL_PASSWORD: 'from-env',
        KAFKA_SSL: 'true',
        KAFKA_SSL_CA_FILE: file('ca.pem', pem),
      });
      const bus = config.eventBus as Extract<typeof config.eventBus, { kind: 'kafka' }>;
      expect(bus.sasl?.mechanism).toBe('plain');
      expect(bus.sasl?.password).toBe('from-env');
      expect(bus.ssl).toEqual({ ca: [pem] });
      expect(loadConfig({ ...kafka, KAFKA_SSL: 'true' }).eventBus).toMatchObject({ ssl: true });
    });

    it('names every problem, without quoting a secret', () => {
      expect(problemsOf({ ...kafka, KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SSL: 'yes' })).toEqual([
        'KAFKA_SSL="yes" must be true or false',
        'KAFKA_SASL_MECHANISM="gssapi" must be one of plain, scram-sha-256, scram-sha-512 (or empty for no SASL)',
      ]);
      expect(problemsOf({ ...kafka, KAFKA_SASL_MECHANISM: 'scram-sha-512' })).toEqual([
        'KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM=scram-sha-512',
        'KAFKA_SASL_PASSWORD_FILE (or KAFKA_SASL_PASSWORD) is required with KAFKA_SASL_MECHANISM=scram-sha-512',
      ]);
      const both = problemsOf({
        ...kafka,
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'sigillum',
        KAFKA_SASL_PASSWORD: 'do-not-print-me',
        KAFKA_SASL_PASSWORD_FILE: file('other.password', 'x'),
      });
      expect(both).toEqual(['KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set: keep one']);
      expect(problemsOf({ ...kafka, KAFKA_SASL_USERNAME: 'sigillum', KAFKA_SASL_PASSWORD: 'do-not-print-me' })).toEqual([
        'KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD(_FILE) are set but KAFKA_SASL_MECHANISM is not: set it to one of plain, scram-sha-256, scram-sha-512',
      ]);
      const missing = path.join(dir, 'missing.password');
      expect(problemsOf({ ...kafka, KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: missing })).toEqual([
        `KAFKA_SASL_PASSWORD_FILE="${missing}" cannot be read (ENOENT): it must be a readable file holding the SASL password`,
      ]);
      expect(problemsOf({ ...kafka, KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: file('empty', '\n') })).toEqual([
        `KAFKA_SASL_PASSWORD_FILE="${path.join(dir, 'empty')}" is empty`,
      ]);
      expect(problemsOf({ ...kafka, KAFKA_SSL_CA_FILE: file('not-a-ca.pem', 'hello') })).toEqual([
        'KAFKA_SSL_CA_FILE is set but KAFKA_SSL is not true: set KAFKA_SSL=true to use TLS',
        `KAFKA_SSL_CA_FILE="${path.join(dir, 'not-a-ca.pem')}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      ]);
    });

    it('refuses SASL/PLAIN in clear to a remote broker, allows it on loopback', () => {
      const plain = { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'secret-value' };
      expect(problemsOf({ ...kafka, ...plain, KAFKA_BROKERS: 'kafka.example:9092' })).toEqual([
        'KAFKA_SASL_MECHANISM=plain would send the password in clear to a remote broker: set KAFKA_SSL=true, or use scram-sha-512',
      ]);
      expect(problemsOf({ ...kafka, ...plain, KAFKA_BROKERS: 'kafka.example:9092', KAFKA_SSL: 'true' })).toEqual([]);
      expect(problemsOf({ ...kafka, ...plain, KAFKA_BROKERS: 'localhost:9094,127.0.0.1:9094' })).toEqual([]);
    });
  });

  describe('distributed settings', () => {
    it('reads KAFKA_TOPIC_PREFIX, INSTANCE_ID and ROLE_URLS', () => {
      const config = loadConfig({
        KAFKA_BROKERS: '127.0.0.1:9092',
        KAFKA_TOPIC_PREFIX: 'acme.',
        INSTANCE_ID: 'processor-2',
        ROLE_URLS: 'directory=http://127.0.0.1:3101/, processor=http://127.0.0.1:3105|http://127.0.0.1:3107',
      });
      expect(config.eventBus).toMatchObject({ kind: 'kafka', topicPrefix: 'acme.' });
      expect(config.instanceId).toBe('processor-2');
      expect(config.roleUrls).toEqual({ directory: ['http://127.0.0.1:3101'], processor: ['http://127.0.0.1:3105', 'http://127.0.0.1:3107'] });
    });

    it('reads ROLE_THREADS (none by default) and BUS_IN_FLIGHT (256 by default)', () => {
      expect(loadConfig({})).toMatchObject({ roleThreads: [], busInFlight: 256 });
      expect(loadConfig({ ROLE_THREADS: ' certifier ,processor', BUS_IN_FLIGHT: '16' })).toMatchObject({
        roleThreads: ['certifier', 'processor'],
        busInFlight: 16,
      });
    });

    it('names a role thread that is no role, the gateway, a role this process does not run, a role twice; a bad in-flight count', () => {
      const problems = (env: Record<string, string>) => {
        try {
          loadConfig(env);
          return [];
        } catch (error) {
          return (error as ConfigError).problems;
        }
      };
      expect(problems({ ROLE_THREADS: 'mailer' })).toEqual([expect.stringMatching(/^ROLE_THREADS entry "mailer" must be one of directory, certifier/)]);
      expect(problems({ ROLE_THREADS: 'gateway' })).toEqual([expect.stringMatching(/^ROLE_THREADS entry "gateway" must be one of/)]);
      expect(problems({ ROLES: 'directory', ROLE_THREADS: 'certifier' })).toEqual([expect.stringMatching(/"certifier" is not in ROLES/)]);
      expect(problems({ ROLE_THREADS: 'certifier,certifier' })).toEqual(['ROLE_THREADS names a role twice']);
      expect(problems({ BUS_IN_FLIGHT: '0' })).toEqual([expect.stringMatching(/^BUS_IN_FLIGHT/)]);
    });

    it('names a bad prefix, instance id and role URL', () => {
      expect(() =>
        loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', KAFKA_TOPIC_PREFIX: 'a b', INSTANCE_ID: 'x/y', ROLE_URLS: 'mailer=http://a:1,directory=ftp://a/b' }),
      ).toThrow(/KAFKA_TOPIC_PREFIX[\s\S]*INSTANCE_ID[\s\S]*ROLE_URLS entry "mailer[\s\S]*ftp:\/\/a\/b/);
    });
  });
});
