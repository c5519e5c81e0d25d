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

  const get = () => request(app.getHttpServer()).get('/health');

  /**
   * The controller called directly on a fake clock (no HTTP, whose sockets run on real time): what it answered,
   * or undefined while it has not.
   */
  function askOnFakeClock(): { answer: () => { status: number; body: { components: Record<string, unknown> } } | undefined } {
    let answer: { status: number; body: { components: Record<string, unknown> } } | undefined;
    let status = 0;
    const response = { status: (code: number) => ((status = code), response), json: (body: never) => void (answer = { status, body }) };
    void app.get(HealthController).health(response as never);
    return { answer: () => answer };
  }

  it('is 200 and up when every component answers up', async () => {
    const response = await get();
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      status: 'up',
      roles: ['directory'],
      components: { eventStore: { up: true }, bus: { up: true, detail: 'bus ok' }, relay: { up: true }, secondChannels: { up: true }, timers: { up: true } },
    });
  });

  it('answers 503, naming the component whose check never answers', async () => {
    checks.bus = never;
    // That it answers at all is the point (the check never does): jest's test timeout catches a hang.
    const response = await get();

    expect(response.status).toBe(503);
    expect(response.body.status).toBe('down');
    expect(response.body.components.bus).toEqual({ up: false, detail: `no answer within ${HEALTH_CHECK_DEADLINE_MS} ms` });
    expect(response.body.components.eventStore).toMatchObject({ up: true, detail: 'store ok' });
    expect(response.body.components.relay).toMatchObject({ up: true, detail: 'relay ok' });
  });

  it('reports slow but timely checks as they answered', async () => {
    checks.store = after(500);
    checks.bus = after(500);
    checks.relay = after(500, false);
    const response = await get();

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
    const response = await get();

    expect(response.status).toBe(503);
    expect(response.body.components.eventStore).toEqual({ up: false, detail: 'database is locked' });
    expect(response.body.components.relay).toEqual({ up: false, detail: `no answer within ${HEALTH_CHECK_DEADLINE_MS} ms` });
    expect(response.body.components.bus).toMatchObject({ up: true });
  });

  describe('on a fake clock', () => {
    beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));
    afterEach(() => jest.useRealTimers());

    it('a check that never answers is reported down when the deadline fires, not before', async () => {
      checks.bus = never;
      const asked = askOnFakeClock();
      await jest.advanceTimersByTimeAsync(HEALTH_CHECK_DEADLINE_MS - 1);
      expect(asked.answer()).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1);
      expect(asked.answer()).toMatchObject({
        status: 503,
        body: { components: { bus: { up: false, detail: `no answer within ${HEALTH_CHECK_DEADLINE_MS} ms` } } },
      });
    });

    it('runs the checks at once: three checks of 500 ms each answer together at 500 ms', async () => {
      checks.store = after(500);
      checks.bus = after(500);
      checks.relay = after(500, false);
      const asked = askOnFakeClock();
      await jest.advanceTimersByTimeAsync(499);
      expect(asked.answer()).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1);
      expect(asked.answer()).toMatchObject({
        status: 503,
        body: { components: { eventStore: { up: true }, bus: { up: true }, relay: { up: false, detail: 'answered after 500 ms' } } },
      });
    });
  });
});
