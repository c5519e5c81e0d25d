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
        'EVENT_STORE="mongo" must be one of sqlite, kurrentdb',
        'KAFKA_BROKERS entry "nohost" must be host:port',
      ]);
    }
  });

  it('refuses KurrentDB without a connection string, and with the embedded bus', () => {
    expect(() => loadConfig({ EVENT_STORE: 'kurrentdb' })).toThrow(/EVENTSTORE_CONNECTION_STRING is required/);
    expect(() => loadConfig({ EVENT_STORE: 'kurrentdb', EVENTSTORE_CONNECTION_STRING: 'kurrentdb://h:2113' })).toThrow(
      /needs EVENT_STORE=sqlite/,
    );
  });

  it('reads a Kafka configuration', () => {
    const config = loadConfig({ EVENT_BUS: 'kafka', KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.1:9094' });
    expect(config.eventBus).toEqual({ kind: 'kafka', brokers: ['127.0.0.1:9092', '127.0.0.1:9094'], clientId: 'sigillum', partitions: 3 });
  });
});
