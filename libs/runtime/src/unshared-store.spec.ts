import { loadConfig } from '@sigillum/config';
import { type RoleSpec, unsharedStoreProblem } from './bootstrap';

const spec = (role: RoleSpec['role']): RoleSpec => ({ role, module: class {}, ownedCategories: [], consumes: false });
const all = (['directory', 'certifier', 'domicile', 'processor', 'projections'] as const).map(spec);

describe('unsharedStoreProblem: roles in separate processes need one store', () => {
  it('refuses a role alone on Kafka with its own SQLite store, saying what to do', () => {
    const config = loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092' }, 'certifier');
    expect(unsharedStoreProblem(config, [spec('certifier')])).toMatch(/certifier alone on Kafka.*EVENT_STORE=postgres and DATABASE_URL/);
  });

  it('accepts every role in one process, the embedded bus, PostgreSQL, a shared SQLITE_FILE and a lone gateway', () => {
    expect(unsharedStoreProblem(loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092' }), [spec('gateway'), ...all])).toBeUndefined();
    expect(unsharedStoreProblem(loadConfig({}), [spec('certifier')])).toBeUndefined();
    const postgres = loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', EVENT_STORE: 'postgres', DATABASE_URL: 'postgres://u@127.0.0.1:5432/db' });
    expect(unsharedStoreProblem(postgres, [spec('processor')])).toBeUndefined();
    expect(unsharedStoreProblem(loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', SQLITE_FILE: '/tmp/shared.db' }), [spec('processor')])).toBeUndefined();
    expect(unsharedStoreProblem(loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092' }), [spec('gateway')])).toBeUndefined();
  });
});
