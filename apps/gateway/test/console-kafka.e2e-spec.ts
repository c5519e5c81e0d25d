import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { createSigillumApp } from '@sigillum/runtime';
import { baseUrlOf, eventually, issueStaffToken } from '@sigillum/testing';
import { rolesFor } from '../src/roles';

/** Signs in through the console's form; returns the session cookie. */
async function consoleCookie(base: string, token: string): Promise<string> {
  const login = await fetch(`${base}/console/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  expect(login.status).toBe(303);
  return (login.headers.get('set-cookie') ?? '').split(';')[0];
}

/**
 * The console on the Kafka bus when the brokers cannot be reached (KAFKA_BROKERS names a port nobody listens on): the
 * bus query answers 200 saying why, and the overview shows it in a cell instead of failing. The gateway and the
 * directory (for the staff credentials) in one process, their consumers not started; no broker needed.
 */
describe('operator console on an unreachable Kafka bus', () => {
  let app: INestApplication;
  let dataDir: string;
  let base: string;
  let ops: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-console-kafka-'));
    const config = loadConfig({
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'error',
      ROLES: 'directory',
      KAFKA_BROKERS: '127.0.0.1:1',
      KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret',
    });
    expect(config.eventBus.kind).toBe('kafka');
    app = await createSigillumApp(config, rolesFor(config.roles));
    await app.listen(0, '127.0.0.1'); // no startAllMicroservices: their consumers would wait for the brokers
    base = baseUrlOf(app.getHttpServer());
    ops = await issueStaffToken(base, dataDir, ['ops'], 'ops-on-call');
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  // No wall-clock bound: the read's own 3 s limit is checked on a fake clock (consumer-lag.int-spec.ts); this test's
  // timeout, 30 s (10x that limit), is the hang guard.
  it('GET /ops/bus: 200, with why the brokers could not be read', async () => {
    const response = await fetch(`${base}/ops/bus`, { headers: { authorization: `Bearer ${ops}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { bus: string; lag: unknown[]; deadLetters: unknown[]; unreachable?: string };
    expect(body).toMatchObject({ bus: 'kafka', lag: [], deadLetters: [] });
    expect(body.unreachable).toMatch(/127\.0\.0\.1:1/);
  }, 30_000);

  it('the overview: a "bus unreachable: <reason>, check KAFKA_BROKERS" cell, not a 500', async () => {
    const cookie = await consoleCookie(base, ops);
    const overview = await fetch(`${base}/console`, { headers: { cookie }, redirect: 'manual' });
    expect(overview.status).toBe(200);
    const page = await overview.text();
    expect(page).toMatch(/data-testid="bus-unreachable">bus unreachable: [^<]*127\.0\.0\.1:1[^<]*, check KAFKA_BROKERS<\/td>/);
  }, 30_000);
});

const brokers = process.env.KAFKA_BROKERS?.trim();
const SKIP_MESSAGE = 'Kafka suites SKIPPED: set KAFKA_BROKERS=127.0.0.1:9092 (bash scripts/kafka.sh start)';
if (!brokers) process.stdout.write(`console on Kafka: ${SKIP_MESSAGE}\n`);

/**
 * The console on a real broker (KAFKA_BROKERS; a topic prefix of its own): the directory's consumer groups, with their
 * committed and log-end offsets and lag, as the brokers know them, on the overview.
 */
(brokers ? describe : describe.skip)('operator console on a Kafka bus (real broker)', () => {
  let app: INestApplication;
  let dataDir: string;
  let base: string;
  let ops: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-console-kafka-live-'));
    const config = loadConfig({
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'error',
      ROLES: 'directory',
      KAFKA_BROKERS: brokers ?? '',
      KAFKA_TOPIC_PREFIX: `console${randomBytes(4).toString('hex')}.`,
      KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret',
    });
    app = await createSigillumApp(config, rolesFor(config.roles));
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    base = baseUrlOf(app.getHttpServer());
    ops = await issueStaffToken(base, dataDir, ['ops'], 'ops-on-call'); // a staff event, relayed to Kafka
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('GET /ops/bus and the overview: per group and topic the committed offset, the log-end offset and the lag', async () => {
    type Bus = { bus: string; unreachable?: string; lag: { group: string; topic: string; checkpoint: number; head: number; behind: number }[] };
    const bus = await eventually(async () => {
      const body = (await (await fetch(`${base}/ops/bus`, { headers: { authorization: `Bearer ${ops}` } })).json()) as Bus;
      expect(body.unreachable).toBeUndefined();
      expect(body.lag.some((row) => row.group.startsWith('sigillum.directory'))).toBe(true);
      return body;
    }, 30_000);
    expect(bus.bus).toBe('kafka');
    for (const row of bus.lag) expect(row.behind).toBe(row.head - row.checkpoint);
    const cookie = await consoleCookie(base, ops);
    const page = await (await fetch(`${base}/console`, { headers: { cookie } })).text();
    expect(page).toContain('<th>committed offset</th><th>log-end offset</th><th>lag</th>');
    const row = bus.lag.find((r) => r.group.startsWith('sigillum.directory'))!;
    expect(page).toContain(`<td>${row.group}</td><td>${row.topic}</td>`);
    expect(page).not.toContain('bus unreachable');
  }, 60_000);
});
