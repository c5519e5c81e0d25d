import { randomBytes, randomUUID } from 'node:crypto';
import { Topics, type BusMessage, type PendingEvent } from '@sigillum/contracts';
import { integerSetting, synchronousSetting, refuseProblems } from '../common/report';

// What bus.bench.ts measures with: its settings from the environment and the payloads every phase shares.

/** SqliteEventStore's default maxBatchSize; passed explicitly so the raw ceiling and the store batch alike. */
export const STORE_BATCH_SIZE = 512;
/** KafkaEventBus's MAX_MESSAGES_PER_SEND; the raw producer sends the same chunks. */
export const KAFKA_SEND_BATCH = 500;
/** The sub-second SQLite ceilings are each run this many times and the best kept: a ceiling is the best case. */
export const CEILING_RUNS = 3;
export const CATEGORY = 'bench';
export const EVENT_TYPE = 'LetterDeposited';
export const SOURCE = 'sigillum/bench';

// ---------------------------------------------------------------- settings

export interface Settings {
  readonly events: number;
  readonly payloadBytes: number;
  readonly synchronous: 'NORMAL' | 'FULL';
  readonly brokers?: readonly string[];
  readonly partitions: number;
  readonly phaseTimeoutMs: number;
}

export function readSettings(env: NodeJS.ProcessEnv): Settings {
  const problems: string[] = [];
  const integer = integerSetting(env, problems);
  const events = integer('BENCH_EVENTS', 20_000, 1);
  const payloadBytes = integer('BENCH_PAYLOAD_BYTES', 300, 64);
  const partitions = integer('KAFKA_TOPIC_PARTITIONS', 3, 1);
  const phaseTimeoutS = integer('BENCH_PHASE_TIMEOUT_S', 120, 1);
  const synchronous = synchronousSetting(env, problems);
  const brokers = env.KAFKA_BROKERS?.split(',')
    .map((broker) => broker.trim())
    .filter(Boolean);
  if (brokers?.some((broker) => !/^[^\s:]+:\d+$/.test(broker))) {
    problems.push(`KAFKA_BROKERS=${JSON.stringify(env.KAFKA_BROKERS)} must be host:port[,host:port...], e.g. KAFKA_BROKERS=127.0.0.1:9092`);
  }
  refuseProblems(problems);
  return {
    events,
    payloadBytes,
    synchronous,
    brokers: brokers && brokers.length > 0 ? brokers : undefined,
    partitions,
    phaseTimeoutMs: phaseTimeoutS * 1000,
  };
}

// ---------------------------------------------------------------- payloads

export interface Payload {
  readonly streamId: string;
  readonly pending: PendingEvent;
  /** The bus message of this event; `topic` is replaced per phase. */
  readonly message: BusMessage;
}

export function randomHex(length: number): string {
  return randomBytes(Math.ceil(length / 2))
    .toString('hex')
    .slice(0, length);
}

/** N events on N distinct streams; each event's data is a JSON object of about `payloadBytes`. */
export function makePayloads(count: number, payloadBytes: number): Payload[] {
  const occurredAt = new Date().toISOString();
  return Array.from({ length: count }, (_, index) => {
    const eventId = randomUUID();
    const streamId = `${CATEGORY}-${index.toString(36).padStart(5, '0')}${randomHex(6)}`;
    const data: Record<string, unknown> = {
      letterId: eventId,
      seq: index,
      sender: `party-${randomHex(12)}`,
      recipient: `party-${randomHex(12)}`,
      subject: `Registered letter ${index}`,
      digest: randomHex(64),
      padding: '',
    };
    data.padding = randomHex(Math.max(0, payloadBytes - JSON.stringify(data).length));
    const metadata = { eventId, correlationId: eventId, causationId: eventId, occurredAt, source: SOURCE };
    return {
      streamId,
      pending: { event: { type: EVENT_TYPE, version: 1, data }, metadata },
      message: {
        topic: Topics.eventsOf(CATEGORY),
        key: streamId,
        id: eventId,
        type: `sigillum.${CATEGORY}.${EVENT_TYPE}`,
        source: SOURCE,
        time: occurredAt,
        correlationId: eventId,
        causationId: eventId,
        dataVersion: 1,
        data,
      },
    };
  });
}
