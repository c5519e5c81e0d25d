import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { EmbeddedEventBus, KafkaEventBus, type BusConsumer, type EventBus } from '@sigillum/bus';
import type { DeliveredMessage } from '@sigillum/contracts';
import { openSealed } from '@sigillum/crypto/sealed-box';
import { eventually, kafkaBrokers, newGroup, reportSkippedKafka } from '@sigillum/testing';
import Database from 'better-sqlite3';
import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { captureLogger, sampleMessage } from '../testing-fixtures';
import {
  DELIVERY_REQUESTED_TYPE,
  KafkaGatewaySender,
  OUT_OF_BAND_REQUESTS_TOPIC,
  type DeliveryRequested,
  type DeliveryRequestSecret,
  type GatewayKey,
} from './kafka-gateway-sender';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const gatewayX25519 = generateKeyPairSync('x25519');
const gatewayRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string;

/** A message with a fresh id and code, so that tests sharing a topic tell their messages apart. */
function freshMessage(kind: 'email' | 'sms') {
  const code = String(100000 + Math.floor(Math.random() * 900000));
  return sampleMessage({
    messageId: `msg-${randomUUID()}`,
    code,
    reference: randomUUID().replace(/\d/g, 'a'), // no digit run that could match the code by chance
    channel: kind === 'email' ? { channelId: 'chan-e', kind, address: 'jeanne.martin@example.org' } : { channelId: 'chan-s', kind, address: '+33612345678' },
    correlationId: `corr-${randomUUID()}`,
    causationId: `evt-${randomUUID()}`,
  });
}

function resolverFor(keys: Partial<Record<'email' | 'sms', GatewayKey>>) {
  return async (kind: 'email' | 'sms') => keys[kind];
}

/** What every adapter must show: the request carries the code sealed, and only the gateway's key opens it. */
function expectSealedRequest(data: DeliveryRequested, message: ReturnType<typeof freshMessage>, gatewayId: string, privateKey: KeyObject) {
  expect(data).toEqual({
    messageId: message.messageId,
    gatewayId,
    keyId: `${gatewayId}-enc-1`,
    purpose: 'session-code',
    reference: message.reference,
    channelKind: message.channel.kind,
    address: message.channel.address,
    expiresAt: message.expiresAt,
    sealed: expect.objectContaining({ alg: expect.any(String), iv: expect.any(String), tag: expect.any(String), ciphertext: expect.any(String) }),
  });
  const secret = JSON.parse(openSealed(privateKey, data.sealed, message.messageId).toString('utf8')) as DeliveryRequestSecret;
  expect(secret.code).toBe(message.code);
  expect(secret.text).toContain(message.code);
  expect(() => openSealed(privateKey, data.sealed, 'another-message')).toThrow(/authentication failed/);
  return secret;
}

describe('KafkaGatewaySender on the embedded bus (SQLite file)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-oob-'));
  let db: Database.Database;
  let bus: EmbeddedEventBus;
  const consumers: BusConsumer[] = [];
  beforeAll(() => {
    db = new Database(path.join(dir, 'embedded.db'));
    db.pragma('journal_mode = WAL');
    bus = new EmbeddedEventBus({ db, pollIntervalMs: 100, logger: quiet });
  });
  afterAll(async () => {
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    await bus.close();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('publishes a DeliveryRequested keyed by gateway whose only secret is sealed to the X25519 gateway key', async () => {
    const logger = captureLogger();
    const sender = new KafkaGatewaySender({
      bus,
      kinds: ['sms'],
      resolveGatewayKey: resolverFor({ sms: { gatewayId: 'gw-sms-1', publicKeyPem: spki(gatewayX25519.publicKey), keyId: 'gw-sms-1-enc-1' } }),
      logger,
      clock: () => new Date('2025-06-30T13:55:00.000Z'),
    });
    const message = freshMessage('sms');
    const received: DeliveredMessage[] = [];
    consumers.push(
      await bus.consume({ group: newGroup('gateway'), topics: [OUT_OF_BAND_REQUESTS_TOPIC], handler: async (delivered) => void received.push(delivered) }),
    );

    const receipt = await sender.send(message);

    expect(receipt).toEqual({
      transport: 'kafka-gateway',
      acceptedAt: '2025-06-30T13:55:00.000Z',
      transportReference: `${OUT_OF_BAND_REQUESTS_TOPIC}/${message.messageId}`,
    });
    await eventually(() => expect(received.filter((delivered) => delivered.id === message.messageId)).toHaveLength(1));
    const delivered = received.find((candidate) => candidate.id === message.messageId)!;
    expect(delivered).toMatchObject({
      topic: OUT_OF_BAND_REQUESTS_TOPIC,
      key: 'gw-sms-1',
      type: DELIVERY_REQUESTED_TYPE,
      source: '/sigillum/certifier',
      correlationId: message.correlationId,
      causationId: message.causationId,
      dataVersion: 1,
    });
    const secret = expectSealedRequest(delivered.data as DeliveryRequested, message, 'gw-sms-1', gatewayX25519.privateKey);
    expect(secret.subject).toBeUndefined();
    expect(secret.text.length).toBeLessThanOrEqual(160);

    const rows = db.prepare('SELECT * FROM bus_messages WHERE message_id = ?').all(message.messageId);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(message.code);
    expect(logger.lines.join('\n')).not.toContain(message.code);
    expect(logger.lines.join('\n')).toContain('+33*******78');
  });

  it('a retried send of the same message is one request on the log', async () => {
    const sender = new KafkaGatewaySender({
      bus,
      resolveGatewayKey: resolverFor({ email: { gatewayId: 'gw-mail-1', publicKeyPem: spki(gatewayRsa.publicKey), keyId: 'gw-mail-1-enc-1' } }),
      logger: quiet,
    });
    const message = freshMessage('email');
    await sender.send(message);
    await sender.send(message);
    const rows = db.prepare('SELECT data FROM bus_messages WHERE message_id = ?').all(message.messageId) as { data: string }[];
    expect(rows).toHaveLength(1);
    const secret = expectSealedRequest(JSON.parse(rows[0].data) as DeliveryRequested, message, 'gw-mail-1', gatewayRsa.privateKey);
    expect(secret.subject).toBe(`Sigillum: your code to open session ${message.reference}`);
  });
});

const brokers = kafkaBrokers();
if (!brokers) {
  reportSkippedKafka('KafkaGatewaySender on Kafka');
  describe.skip('KafkaGatewaySender on Kafka (set KAFKA_BROKERS to run)', () => {
    it('runs against a real broker only', () => undefined);
  });
} else {
  const brokerList = brokers.split(',').map((broker) => broker.trim());

  describe('KafkaGatewaySender on Kafka', () => {
    let bus: EventBus;
    const raw = new Kafka({ clientId: 'sigillum-test-gateway', brokers: brokerList, logLevel: logLevel.NOTHING });
    const rawConsumers: Consumer[] = [];
    beforeAll(() => {
      bus = new KafkaEventBus({ brokers: brokerList, clientId: 'sigillum-test-oob', logLevel: 'error', logger: quiet });
    });
    afterAll(async () => {
      await Promise.all(rawConsumers.map((consumer) => consumer.disconnect()));
      await bus.close();
    }, 30_000);

    /** What a gateway operator sees on the wire: a plain kafkajs consumer of the requests topic. */
    async function readRaw(): Promise<KafkaMessage[]> {
      const consumer = raw.consumer({ groupId: newGroup('raw-gateway'), sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
      rawConsumers.push(consumer);
      const records: KafkaMessage[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic: OUT_OF_BAND_REQUESTS_TOPIC, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void records.push(message) });
      return records;
    }

    it('the raw Kafka record carries the code neither in value nor in headers; the gateway key opens it', async () => {
      const logger = captureLogger();
      const sender = new KafkaGatewaySender({
        bus,
        resolveGatewayKey: resolverFor({
          email: { gatewayId: 'gw-mail-1', publicKeyPem: spki(gatewayRsa.publicKey), keyId: 'gw-mail-1-enc-1' },
          sms: { gatewayId: 'gw-sms-1', publicKeyPem: spki(gatewayX25519.publicKey), keyId: 'gw-sms-1-enc-1' },
        }),
        logger,
      });
      const [email, sms] = [freshMessage('email'), freshMessage('sms')];
      await sender.send(email);
      await sender.send(sms);

      const records = await readRaw();
      const idOf = (record: KafkaMessage) => String(record.headers?.ce_id ?? '');
      await eventually(() => {
        expect(records.filter((record) => idOf(record) === email.messageId)).toHaveLength(1);
        expect(records.filter((record) => idOf(record) === sms.messageId)).toHaveLength(1);
      }, 30_000);

      for (const [message, gatewayId, privateKey] of [
        [email, 'gw-mail-1', gatewayRsa.privateKey],
        [sms, 'gw-sms-1', gatewayX25519.privateKey],
      ] as const) {
        const record = records.find((candidate) => idOf(candidate) === message.messageId)!;
        const value = record.value!.toString('utf8');
        const headers = Object.entries(record.headers ?? {})
          .map(([name, header]) => `${name}=${String(header)}`)
          .join('\n');
        expect(value).not.toContain(message.code);
        expect(headers).not.toContain(message.code);
        expect(record.key!.toString()).toBe(gatewayId);
        expect(String(record.headers!.ce_type)).toBe(DELIVERY_REQUESTED_TYPE);
        expectSealedRequest(JSON.parse(value) as DeliveryRequested, message, gatewayId, privateKey);
      }
      expect(logger.lines.join('\n')).not.toContain(email.code);
      expect(logger.lines.join('\n')).not.toContain(sms.code);
    }, 60_000);
  });
}
