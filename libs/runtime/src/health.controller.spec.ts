import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { EVENT_BUS } from '@sigillum/bus';
import { OUT_OF_BAND_SENDER } from '@sigillum/channels';
import { EVENT_STORE } from '@sigillum/eventstore';
import request from 'supertest';
import { HEALTH_CHECK_DEADLINE_MS, HealthController } from './health.controller';
import { DURABLE_TIMERS } from './timers/durable-timers';
import { EVENT_RELAY, PROCESS_ROLES } from './tokens';

type Check = () => Promise<{ up: boolean; detail?: string }>;

describe('GET /health', () => {
  let app: INestApplication;
  const checks: { store: Check; bus: Check; relay: Check } = {
    store: async () => ({ up: true }),
    bus: async () => ({ up: true }),
    relay: async () => ({ up: true }),
  };
  const never: Check = () => new Promise(() => undefined);
  const after =
    (ms: number, up = true): Check =>
    () =>
      new Promise((resolve) => setTimeout(() => resolve({ up, detail: `answered after ${ms} ms` }), ms));

  beforeEach(async () => {
    checks.store = async () => ({ up: true, detail: 'store ok' });
    checks.bus = async () => ({ up: true, detail: 'bus ok' });
    checks.relay = async () => ({ up: true, detail: 'relay ok' });
    const moduleRef = await Test.createTestingModule({
      controllers: [HealthController],
      providers: [
        { provide: EVENT_STORE, useValue: { health: () => checks.store() } },
        { provide: EVENT_BUS, useValue: { health: () => checks.bus() } },
        { provide: EVENT_RELAY, useValue: { health: () => checks.relay() } },
        { provide: PROCESS_ROLES, useValue: ['directory'] },
        { provide: OUT_OF_BAND_SENDER, useValue: { describe: () => ({ email: 'file' }) } },
        { provide: DURABLE_TIMERS, useValue: { stats: () => ({ pending: 0, failing: 0, lastPollAt: null }) } },
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterEach(async () => {
    await app.close();
  });

  async function timedGet() {
    const started = Date.now();
    const response = await request(app.getHttpServer()).get('/health');
    return { response, elapsed: Date.now() - started };
  }

  it('is 200 and up when every component answers up', async () => {
    const { response } = await timedGet();
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      status: 'up',
      roles: ['directory'],
      components: { eventStore: { up: true }, bus: { up: true, detail: 'bus ok' }, relay: { up: true }, secondChannels: { up: true }, timers: { up: true } },
    });
  });

  it('answers within 1 s with 503, naming the component whose check never answers', async () => {
    checks.bus = never;
    const { response, elapsed } = await timedGet();

    expect(elapsed).toBeLessThan(1_000);
    expect(elapsed).toBeGreaterThanOrEqual(HEALTH_CHECK_DEADLINE_MS - 50);
    expect(response.status).toBe(503);
    expect(response.body.status).toBe('down');
    expect(response.body.components.bus).toEqual({ up: false, detail: `no answer within ${HEALTH_CHECK_DEADLINE_MS} ms` });
    expect(response.body.components.eventStore).toMatchObject({ up: true, detail: 'store ok' });
    expect(response.body.components.relay).toMatchObject({ up: true, detail: 'relay ok' });
  });

  it('runs the checks at once: three slow but timely checks still answer within 1 s', async () => {
    checks.store = after(500);
    checks.bus = after(500);
    checks.relay = after(500, false);
    const { response, elapsed } = await timedGet();

    expect(elapsed).toBeLessThan(1_000);
    expect(response.status).toBe(503);
    expect(response.body.components).toMatchObject({
      eventStore: { up: true, detail: 'answered after 500 ms' },
      bus: { up: true },
      relay: { up: false, detail: 'answered after 500 ms' },
    });
  });

  it('reports a check that throws (even synchronously) as down with its message', async () => {
    checks.store = () => {
      throw new Error('database is locked');
    };
    checks.relay = never;
    const { response, elapsed } = await timedGet();

    expect(elapsed).toBeLessThan(1_000);
    expect(response.status).toBe(503);
    expect(response.body.components.eventStore).toEqual({ up: false, detail: 'database is locked' });
    expect(response.body.components.relay).toEqual({ up: false, detail: `no answer within ${HEALTH_CHECK_DEADLINE_MS} ms` });
    expect(response.body.components.bus).toMatchObject({ up: true });
  });
});
