import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Topics, type DeliveredMessage } from '@sigillum/contracts';
import { loadConfig } from '@sigillum/config';
import { busMessage, eventually } from '@sigillum/testing';
import { Kafka, logLevel, type KafkaConfig, type KafkaMessage } from 'kafkajs';
import { DeadLetterHeaders, PoisonMessageError, type BusConsumer } from '../event-bus.port';
import { KafkaEventBus } from './kafka-event-bus';

/*
 * The broker's secure mode (bash scripts/kafka.sh start --secure): SASL/SCRAM-SHA-512, StandardAuthorizer,
 * deny by default. The app principal publishes and consumes through KafkaEventBus configured from the
 * KAFKA_SASL_* variables; a partner principal (added here with `kafka.sh add-partner`) cannot forge a record
 * on an events topic, can write its own inbound topic and read what its ACLs allow; a wrong password is refused.
 *
 *   KAFKA_SECURE_BROKERS=127.0.0.1:9094 KAFKA_SECURE_STATE_DIR=.kafka/state-secure npx jest libs/bus/src/kafka/kafka-secure
 *
 * KAFKA_SECURE_STATE_DIR is the broker's state dir (its credentials/ hold the 0600 password files);
 * KAFKA_SECURE_APP_USER the app principal (default sigillum). .ci/run sets both.
 */

const brokers = process.env.KAFKA_SECURE_BROKERS?.trim();
const stateDir = process.env.KAFKA_SECURE_STATE_DIR?.trim() || path.resolve(__dirname, '../../../../.kafka/state-secure');
const appUser = process.env.KAFKA_SECURE_APP_USER?.trim() || 'sigillum';
const REPO = path.resolve(__dirname, '../../../..');
const SKIP_MESSAGE =
  'secure Kafka suite SKIPPED: start the secure broker with `bash scripts/kafka.sh start --secure` and set ' +
  'KAFKA_SECURE_BROKERS=127.0.0.1:9094 (and KAFKA_SECURE_STATE_DIR if not .kafka/state-secure) to run it';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const passwordFile = (user: string) => path.join(stateDir, 'credentials', `${user}.password`);
const readPassword = (user: string) => fs.readFileSync(passwordFile(user), 'utf8').replace(/\r?\n$/, '');

/** Error types (kafkajs `type`), names and messages along an error's cause chain, for assertions. */
function describeError(error: unknown): string {
  const parts: string[] = [];
  let current = error as { type?: string; name?: string; message?: string; cause?: unknown; originalError?: unknown } | undefined;
  for (let depth = 0; current && depth < 6; depth++) {
    parts.push([current.type, current.name, current.message].filter(Boolean).join(' '));
    current = (current.cause ?? current.originalError) as typeof current;
  }
  return parts.join(' <- ');
}

async function failure(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (error) {
    return describeError(error);
  }
  throw new Error('expected the broker to refuse, and it accepted');
}

if (!brokers) {
  process.stdout.write(`\n[SKIPPED] ${SKIP_MESSAGE}\n`);
  describe.skip(`Kafka secure mode — ${SKIP_MESSAGE}`, () => {
    it('runs against the secure broker only', () => undefined);
  });
} else {
  const brokerList = brokers.split(',').map((b) => b.trim());
  const port = brokerList[0].split(':').pop()!;
  const run = randomBytes(4).toString('hex');
  const partner = 'e2e';
  const partnerUser = `partner-${partner}`;
  const inbound = `sigillum.partner.${partner}.inbound`;
  const partyTopic = Topics.eventsOf('party');
  const secretTopic = Topics.eventsOf('secret');

  const client = (user: string, password: string, extra: Partial<KafkaConfig> = {}) =>
    new Kafka({
      clientId: `secure-e2e-${user}`,
      brokers: brokerList,
      sasl: { mechanism: 'scram-sha-512', username: user, password },
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3_000,
      ...extra,
    });

  /** Every record of the topic up to its end offsets now, read with the given client in a fresh group. */
  async function readAll(kafka: Kafka, group: string, topic: string): Promise<KafkaMessage[]> {
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
    const remaining = new Map(ends.filter((p) => Number(p.high) > 0).map((p) => [p.partition, Number(p.high)]));
    const seen: KafkaMessage[] = [];
    if (remaining.size === 0) return seen;
    const consumer = kafka.consumer({ groupId: group, sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      let done!: () => void;
      const finished = new Promise<void>((resolve) => (done = resolve));
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          seen.push(message);
          if (Number(message.offset) + 1 >= (remaining.get(partition) ?? 0)) remaining.delete(partition);
          if (remaining.size === 0) done();
        },
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${topic}: end offsets not reached in 30 s`)), 30_000)));
      await Promise.race([finished, timeout]).finally(() => clearTimeout(timer));
    } finally {
      await consumer.disconnect();
    }
    return seen;
  }

  describe('Kafka secure mode (SASL/SCRAM-SHA-512 + ACLs)', () => {
    jest.setTimeout(90_000);
    let bus: KafkaEventBus;
    let partnerPassword: string;
    const consumers: BusConsumer[] = [];

    beforeAll(async () => {
      // The partner principal, exactly as an operator adds one: SCRAM user + ACLs (idempotent).
      const { stdout } = await promisify(execFile)('bash', [path.join(REPO, 'scripts/kafka.sh'), 'add-partner', partner, '--read', 'party'], {
        env: { ...process.env, KAFKA_STATE_DIR: stateDir, KAFKA_PORT: port, KAFKA_SECURITY: 'sasl' },
        timeout: 60_000,
      });
      expect(stdout).toContain(`KAFKA_SASL_USERNAME=${partnerUser}`);
      partnerPassword = readPassword(partnerUser);
      expect(fs.statSync(passwordFile(partnerUser)).mode & 0o077).toBe(0);

      // The app principal's bus, configured the way the product is: from the KAFKA_* variables.
      const config = loadConfig({
        EVENT_BUS: 'kafka',
        KAFKA_BROKERS: brokers,
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: appUser,
        KAFKA_SASL_PASSWORD_FILE: passwordFile(appUser),
      });
      if (config.eventBus.kind !== 'kafka') throw new Error('expected the Kafka bus');
      expect(config.eventBus.sasl?.username).toBe(appUser);
      bus = new KafkaEventBus({
        brokers: config.eventBus.brokers,
        clientId: `sigillum-secure-e2e-${run}`,
        security: { sasl: config.eventBus.sasl, ssl: config.eventBus.ssl },
        consumer: { sessionTimeout: 6_000, heartbeatInterval: 500, rebalanceTimeout: 5_000, maxWaitTimeInMs: 100 },
        retryBackoffMs: 10,
        logLevel: 'error',
        logger: quiet,
      });
    }, 90_000);

    afterAll(async () => {
      await Promise.all(consumers.splice(0).map((c) => c.stop()));
      await bus?.close();
    }, 30_000);

    it('(a) the app principal publishes and consumes over SASL, and dead-letters', async () => {
      const topic = Topics.eventsOf(`securee2e${run}`);
      const messages = [1, 2, 3, 4].map((seq) => busMessage(topic, `k-${seq % 2}`, seq));
      const poison = busMessage(topic, 'k-poison', 99);
      const received: string[] = [];
      consumers.push(
        await bus.consume({
          group: `sigillum.secure-e2e.${run}`,
          topics: [topic],
          maxAttempts: 1,
          handler: async (message: DeliveredMessage) => {
            if (message.id === poison.id) throw new PoisonMessageError('e2e poison');
            received.push(message.id);
          },
        }),
      );
      await bus.publish([...messages, poison]);
      await eventually(() => expect(received.sort()).toEqual(messages.map((m) => m.id).sort()), 30_000);

      // The dead letter went to <topic>.dlq, which only the app principal may write.
      const app = client(appUser, readPassword(appUser));
      await eventually(async () => {
        const dead = await readAll(app, `sigillum.secure-e2e.dlq.${randomBytes(3).toString('hex')}`, Topics.deadLetterOf(topic));
        expect(dead.map((m) => m.headers?.[DeadLetterHeaders.reason]?.toString())).toEqual([expect.stringContaining('e2e poison')]);
      }, 30_000);
      expect((await bus.health()).up).toBe(true);
    });

    it('(b) a partner principal cannot forge a record on an events topic: TOPIC_AUTHORIZATION_FAILED, nothing lands', async () => {
      // A genuine party event first (so the topic exists and the partner has something to read).
      const genuine = busMessage(partyTopic, `party-${run}`, 1, { type: 'sigillum.party.PartyEnrolled' });
      await bus.publish([genuine]);

      const forgedId = `forged-${run}`;
      const producer = client(partnerUser, partnerPassword, { retry: { retries: 1 } }).producer({ allowAutoTopicCreation: false });
      await producer.connect();
      try {
        const refused = await failure(
          producer.send({
            topic: partyTopic,
            acks: -1,
            messages: [{ key: `party-${run}`, value: JSON.stringify({ forged: true }), headers: { ce_id: forgedId, ce_type: 'sigillum.party.PartyEnrolled' } }],
          }),
        );
        expect(refused).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
        // Nor the dead-letter topic, nor creating a topic of its own outside its inbound one.
        expect(await failure(producer.send({ topic: Topics.deadLetterOf(partyTopic), messages: [{ value: 'x' }] }))).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
        expect(await failure(producer.send({ topic: Topics.eventsOf(`forged${run}`), messages: [{ value: 'x' }] }))).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
      } finally {
        await producer.disconnect();
      }

      // The same through KafkaEventBus with the partner's login: refused, and the error says why.
      const partnerBus = new KafkaEventBus({
        brokers: brokerList,
        clientId: `partner-bus-${run}`,
        security: { sasl: { mechanism: 'scram-sha-512', username: partnerUser, password: partnerPassword } },
        retries: 1,
        logLevel: 'nothing',
        logger: quiet,
      });
      try {
        await expect(partnerBus.publish([busMessage(partyTopic, `party-${run}`, 2, { id: forgedId })])).rejects.toThrow(
          /ACLs refuse this principal \(TOPIC_AUTHORIZATION_FAILED\)/,
        );
      } finally {
        await partnerBus.close();
      }

      // Read back, as the app principal, everything the topic holds: the genuine record, never the forged one.
      const app = client(appUser, readPassword(appUser));
      const records = await readAll(app, `sigillum.secure-e2e.check.${run}`, partyTopic);
      const ids = records.map((m) => m.headers?.ce_id?.toString());
      expect(ids).toContain(genuine.id);
      expect(ids).not.toContain(forgedId);
      expect(records.some((m) => m.value?.toString().includes('"forged"'))).toBe(false);
    });

    it('(c) the partner writes its own inbound topic and reads what its ACLs allow, nothing else', async () => {
      const kafka = client(partnerUser, partnerPassword, { retry: { retries: 1 } });
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      const reply = `reply-${run}`;
      try {
        const [ack] = await producer.send({ topic: inbound, acks: -1, messages: [{ key: 'acme', value: reply }] });
        expect(ack.errorCode).toBe(0);
      } finally {
        await producer.disconnect();
      }

      // Its inbound topic and sigillum.party.events, in a group under its own prefix.
      const back = await readAll(kafka, `sigillum.partner.${partner}.reader.${run}`, inbound);
      expect(back.map((m) => m.value?.toString())).toContain(reply);
      const party = await readAll(kafka, `sigillum.partner.${partner}.party.${run}`, partyTopic);
      expect(party.length).toBeGreaterThan(0);
      // The app principal sees the partner's record too (the product reads the inbound topic).
      const app = client(appUser, readPassword(appUser));
      expect((await readAll(app, `sigillum.secure-e2e.inbound.${run}`, inbound)).map((m) => m.value?.toString())).toContain(reply);

      // Not a topic it was not granted, nor a group outside its prefix (the product's own groups).
      await bus.publish([busMessage(secretTopic, `secret-${run}`, 1)]);
      expect(await failure(readAll(kafka, `sigillum.partner.${partner}.secret.${run}`, secretTopic))).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
      // (kafkajs reports a refused FindCoordinator as "coordinator not found"; the broker's answer is in its debug log.)
      const brokerAnswers: string[] = [];
      const watched = client(partnerUser, partnerPassword, {
        retry: { retries: 0 },
        logLevel: logLevel.DEBUG,
        logCreator: () => (entry) => {
          const error = entry.log.error as unknown;
          if (error) brokerAnswers.push(describeError(error));
        },
      });
      const admin = watched.admin();
      await admin.connect();
      try {
        await admin.fetchTopicMetadata({ topics: [inbound] }); // fills the broker pool (retries: 0 below)
        expect(await failure(admin.describeGroups(['sigillum.projections']))).toMatch(/coordinator|GROUP_AUTHORIZATION_FAILED/i);
        expect(brokerAnswers.join('\n')).toMatch(/GROUP_AUTHORIZATION_FAILED/);
        // Its own prefix is fine.
        await expect(admin.describeGroups([`sigillum.partner.${partner}.reader.${run}`])).resolves.toBeDefined();
      } finally {
        await admin.disconnect();
      }
    });

    it('(d) a wrong password, an unknown user and a client without SASL are refused', async () => {
      const attempt = (kafka: Kafka) => {
        const admin = kafka.admin();
        return admin
          .connect()
          .then(() => admin.listTopics())
          .finally(() => admin.disconnect());
      };
      expect(await failure(attempt(client(partnerUser, `${partnerPassword}x`, { retry: { retries: 0 } })))).toMatch(/SASL SCRAM SHA512 authentication failed/);
      expect(await failure(attempt(client(appUser, 'not-the-password', { retry: { retries: 0 } })))).toMatch(/Authentication failed/i);
      expect(await failure(attempt(client(`nobody-${run}`, 'whatever-password', { retry: { retries: 0 } })))).toMatch(/Authentication failed/i);
      const wrongBus = new KafkaEventBus({
        brokers: brokerList,
        security: { sasl: { mechanism: 'scram-sha-512', username: appUser, password: 'not-the-password' } },
        retries: 0,
        logLevel: 'nothing',
        logger: quiet,
      });
      const health = await wrongBus.health();
      await wrongBus.close();
      expect(health.up).toBe(false);
      expect(health.detail).toMatch(/refused the login: check KAFKA_SASL_MECHANISM/);
      expect(health.detail).not.toContain('not-the-password');
      const plain = new Kafka({
        clientId: 'secure-e2e-plain',
        brokers: brokerList,
        logLevel: logLevel.NOTHING,
        connectionTimeout: 2_000,
        requestTimeout: 3_000,
        retry: { retries: 0 },
      });
      await expect(attempt(plain)).rejects.toThrow();
    });
  });
}
