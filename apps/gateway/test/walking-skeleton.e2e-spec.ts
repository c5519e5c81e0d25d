import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { EVENT_BUS, type EventBus, deadLetterInfoOf } from '@sigillum/bus';
import { loadConfig } from '@sigillum/config';
import { PARTY_CATEGORY, Topics } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { baseUrlOf, bearer, eventually, issueStaffToken, kafkaAppEnv, kafkaBrokers, reportSkippedKafka } from '@sigillum/testing';
import request from 'supertest';
import { rolesFor } from '../src/roles';

/**
 * The walking skeleton, end to end over HTTP: a command accepted, decided, appended, relayed to the bus,
 * consumed by the projections role, projected, and read back. The same test runs on the embedded bus
 * and, when KAFKA_BROKERS is set, on the real Kafka broker.
 */
const runtimes: { name: string; env: Record<string, string> }[] = [{ name: 'embedded', env: {} }];
const brokers = kafkaBrokers();
if (brokers) runtimes.push({ name: 'kafka', env: kafkaAppEnv(brokers) });
else reportSkippedKafka('walking-skeleton e2e on Kafka');
// The broker in secure mode (SASL/SCRAM, ACLs deny by default): the whole app as its `sigillum` principal.
const secureBrokers = process.env.KAFKA_SECURE_BROKERS?.trim();
if (secureBrokers) {
  const stateDir = process.env.KAFKA_SECURE_STATE_DIR?.trim() || path.resolve(__dirname, '../../../.kafka/state-secure');
  runtimes.push({
    name: 'secure Kafka',
    env: {
      EVENT_BUS: 'kafka',
      KAFKA_BROKERS: secureBrokers,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: process.env.KAFKA_SECURE_APP_USER?.trim() || 'sigillum',
      KAFKA_SASL_PASSWORD_FILE: path.join(stateDir, 'credentials', `${process.env.KAFKA_SECURE_APP_USER?.trim() || 'sigillum'}.password`),
    },
  });
} else reportSkippedKafka('walking-skeleton e2e on the secure (SASL + ACL) broker (set KAFKA_SECURE_BROKERS)');

describe.each(runtimes)('walking skeleton on the $name bus', ({ env }) => {
  let app: INestApplication;
  let dataDir: string;
  let store: EventStore;
  let bus: EventBus;
  let staff: Record<string, string>;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-e2e-'));
    const config = loadConfig({ ...env, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', CONSUMER_MAX_ATTEMPTS: '2' });
    app = await createSigillumApp(config, rolesFor(config.roles));
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    store = app.get(EVENT_STORE);
    bus = app.get(EVENT_BUS);
    staff = bearer(await issueStaffToken(baseUrlOf(app.getHttpServer()), dataDir, ['registrar', 'ops']));
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  const server = () => request(app.getHttpServer());
  /** Requests as a registrar (who enrols and reads parties). */
  const http = () => {
    const agent = server();
    const as = <T extends { set(headers: Record<string, string>): T }>(test: T) => test.set(staff);
    return {
      get: (url: string) => as(agent.get(url)),
      post: (url: string) => as(agent.post(url)),
    };
  };

  it('registers a party over HTTP and reads it back from the projection', async () => {
    const created = await http().post('/parties').send({ kind: 'organisation', displayName: 'Acme Registered Mail' }).expect(201);
    const { partyId } = created.body as { partyId: string };
    expect(partyId).toMatch(/^[0-9a-f-]{36}$/);

    const view = await eventually(async () => (await http().get(`/parties/${partyId}`).expect(200)).body, 30_000);
    expect(view).toMatchObject({ partyId, kind: 'organisation', displayName: 'Acme Registered Mail', eventCount: 1 });

    await http().post(`/parties/${partyId}/name`).send({ displayName: 'Acme Trust Services' }).expect(200);
    const renamed = await eventually(async () => {
      const body = (await http().get(`/parties/${partyId}`).expect(200)).body;
      expect(body.eventCount).toBe(2);
      return body;
    }, 30_000);
    expect(renamed.displayName).toBe('Acme Trust Services');
  }, 90_000);

  it('answers /health with every component up', async () => {
    const health = await eventually(async () => (await server().get('/health').expect(200)).body, 20_000);
    expect(health.status).toBe('up');
    expect(Object.keys(health.components)).toEqual(['eventStore', 'bus', 'relay', 'secondChannels', 'timers', 'projections-live-apply', 'evidence-log']);
    for (const component of Object.values(health.components) as { up: boolean }[]) expect(component.up).toBe(true);
  });

  it('refuses bad input with 400 naming the field and the rule, and writes nothing', async () => {
    const before = (await store.readAll()).length;
    const wrongKind = await http().post('/parties').send({ kind: 'robot', displayName: 'R2' }).expect(400);
    expect(wrongKind.body.violations).toEqual([expect.objectContaining({ field: 'kind', rule: 'isIn' })]);

    const unknownField = await http().post('/parties').send({ kind: 'person', displayName: 'Eve', admin: true }).expect(400);
    expect(unknownField.body.violations).toEqual([expect.objectContaining({ field: 'admin', rule: 'whitelist' })]);

    const missing = await http().post('/parties').send({ kind: 'person' }).expect(400);
    expect(missing.body.violations.map((v: { field: string }) => v.field)).toContain('displayName');

    const malformed = await http().post('/parties').set('content-type', 'application/json').send('{"kind": "person",').expect(400);
    expect(malformed.body.statusCode).toBe(400);

    await http().get('/parties/not-a-uuid').expect(400);
    await http().post('/parties/00000000-0000-4000-8000-000000000000/name').send({ displayName: 'Nobody' }).expect(404);
    expect((await store.readAll()).length).toBe(before);
  });

  it('sends a malformed message on the party topic to the dead-letter topic and keeps consuming', async () => {
    const topic = Topics.eventsOf(PARTY_CATEGORY);
    const poisonId = `poison-${Date.now()}`;
    await bus.publish([
      {
        topic,
        key: 'party-poison',
        id: poisonId,
        type: 'sigillum.party.PartyRegistered',
        source: '/tests/e2e',
        time: new Date().toISOString(),
        correlationId: poisonId,
        causationId: poisonId,
        dataVersion: 1,
        data: { partyId: 'x' },
      },
    ]);
    const deadLetters: { id: string; reason: string }[] = [];
    const watcher = await bus.consume({
      group: `sigillum.e2e-dlq-watch-${poisonId}`, // the app principal may join groups under sigillum. only (secure mode)
      topics: [Topics.deadLetterOf(topic)],
      handler: async (message) => {
        deadLetters.push({ id: message.id, reason: deadLetterInfoOf(message)?.reason ?? '' });
      },
    });
    try {
      await eventually(async () => expect(deadLetters.map((d) => d.id)).toContain(poisonId), 30_000);
      const reason = deadLetters.find((d) => d.id === poisonId)?.reason ?? '';
      // The reason names what was wrong with the message, so an operator can fix the producer.
      expect(reason).toMatch(/displayName|kind|invalid|version/i);
    } finally {
      await watcher.stop();
    }
    const created = await http().post('/parties').send({ kind: 'person', displayName: 'After the poison' }).expect(201);
    await eventually(async () => http().get(`/parties/${created.body.partyId}`).expect(200), 30_000);
  }, 60_000);
});
