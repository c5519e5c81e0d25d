import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Topics, streamIdOf } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { eventually, pendingEvent } from '@sigillum/testing';
import Database from 'better-sqlite3';
import { EmbeddedEventBus } from '../embedded/embedded-event-bus';
import type { EventBus } from '../event-bus.port';
import { KafkaEventBus } from '../kafka/kafka-event-bus';
import { EventRelay } from './event-relay';
import { RestartProjection, type RestartWorkerConfig } from '@sigillum/testing/event-bus-restart/restart-projection';

/**
 * Kill-and-restart, per adapter: 300 events in 10 streams go store → relay → bus → a deduplicating
 * SQLite projection whose consumer is (1) SIGKILLed in a child process right after a handling committed
 * but before the bus committed it, (2) stopped mid-stream in this process, (3) restarted to the end.
 * The relay itself is stopped and restarted from its checkpoint half-way. Every event must be projected
 * exactly once: 300 rows, `applied` = 300, each stream in revision order, and at least one redelivery dropped.
 */
const N = 300;
const STREAMS = 10;
const CRASH_AFTER = 60;
const FIXTURE = path.resolve(__dirname, '../../../testing/src/event-bus-restart');
const quiet = { log: () => undefined, warn: () => undefined, error: (text: string) => console.error(text) };
const KAFKA_CONSUMER = { sessionTimeout: 6_000, heartbeatInterval: 500, rebalanceTimeout: 5_000, maxWaitTimeInMs: 100 };

const brokers = process.env.KAFKA_BROKERS?.trim();
const adapters: ('embedded' | 'kafka')[] = brokers ? ['embedded', 'kafka'] : ['embedded'];
if (!brokers) process.stdout.write('Kafka suites SKIPPED: set KAFKA_BROKERS=127.0.0.1:9092 (bash scripts/kafka.sh start)\n');

describe.each(adapters)('relay and consumer kill-and-restart on the %s bus', (adapter) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sigillum-restart-${adapter}-`));
  const suffix = randomBytes(4).toString('hex');
  const category = `restart${suffix}`;
  const topic = Topics.eventsOf(category);
  const group = `restart.projection.${suffix}`;
  const storeFile = path.join(dir, 'store.db');
  const closers: (() => Promise<void> | void)[] = [];

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('projects every event exactly once, none lost, through a crash and a mid-stream stop', async () => {
    const store = new SqliteEventStore({ filename: storeFile, pollIntervalMs: 50 });
    closers.push(() => store.close());
    let bus: EventBus;
    let localDb: Database.Database; // relay checkpoint and projection: the store file when embedded, a local file on Kafka
    if (adapter === 'embedded') {
      bus = new EmbeddedEventBus({ db: store.database, pollIntervalMs: 50, logger: quiet });
      localDb = store.database;
    } else {
      bus = new KafkaEventBus({ brokers: brokers!.split(','), clientId: 'sigillum-restart', consumer: KAFKA_CONSUMER, logLevel: 'error', logger: quiet });
      localDb = new Database(path.join(dir, 'local.db'));
      localDb.pragma('journal_mode = WAL');
      localDb.pragma('busy_timeout = 5000');
      closers.push(() => {
        localDb.close();
      });
    }
    closers.push(() => bus.close());

    // Events: 10 streams, appended a round (one event per stream) at a time.
    const streams = Array.from({ length: STREAMS }, (_, index) => streamIdOf(category, `s${index}`));
    const eventIds: string[] = [];
    let rounds = 0;
    const appendRounds = async (count: number) => {
      for (let round = 0; round < count; round++, rounds++) {
        const revision = rounds;
        await Promise.all(
          streams.map((streamId) => {
            const event = pendingEvent('Noted', { revision });
            eventIds.push(event.metadata.eventId);
            return store.append(streamId, [event], revision === 0 ? 'no-stream' : revision - 1);
          }),
        );
      }
    };
    const relayOptions = { store, bus, db: localDb, name: `relay-${suffix}`, categories: [category], maxBatchSize: 40, logger: quiet };

    // The relay runs while events arrive, is stopped, misses some, and a new one resumes from the checkpoint.
    await appendRounds(10);
    const firstRelay = new EventRelay(relayOptions);
    await firstRelay.start();
    await appendRounds(10);
    await eventually(async () => expect(Number((await firstRelay.health()).checkpoint)).toBeGreaterThan(0), 20_000);
    await firstRelay.stop();
    await appendRounds(N / STREAMS - 20);
    const relay = new EventRelay(relayOptions);
    closers.push(() => relay.stop());
    await relay.start();

    // (1) A consumer in a child process handles 60 messages and is SIGKILLed after the 60th handling, before its commit.
    const worker = await runWorker({
      adapter,
      brokers: brokers?.split(','),
      file: adapter === 'embedded' ? storeFile : localDb.name,
      group,
      topic,
      crashAfter: CRASH_AFTER,
    });
    expect(worker.signal).toBe('SIGKILL');
    const projection = new RestartProjection(localDb);
    expect(projection.stats(group)).toEqual({ projected: CRASH_AFTER, applied: CRASH_AFTER, processedIds: CRASH_AFTER });

    // (2) Restarted here, then stopped while messages are still flowing.
    const slowHandler = projection.handler(group);
    const handler = async (message: Parameters<typeof slowHandler>[0]) => {
      await delay(1);
      await slowHandler(message);
    };
    const second = await bus.consume({ group, topics: [topic], handler });
    await eventually(() => expect(projection.stats(group).projected).toBeGreaterThanOrEqual(150), 60_000);
    await second.stop();
    const atStop = projection.stats(group).projected;
    expect(atStop).toBeLessThan(N);

    // (3) Restarted again, to the end.
    const third = await bus.consume({ group, topics: [topic], handler });
    closers.push(() => third.stop());
    await eventually(() => expect(projection.stats(group).projected).toBe(N), 60_000);
    await eventually(async () => expect((await relay.health()).lag).toBe(0), 20_000);
    await third.stop();

    expect(projection.stats(group)).toEqual({ projected: N, applied: N, processedIds: N });
    expect(projection.eventIds().sort()).toEqual([...eventIds].sort());
    for (const streamId of streams) {
      expect(projection.revisionsByStream().get(streamId)).toEqual(Array.from({ length: N / STREAMS }, (_, revision) => revision));
    }
    // The message handled just before the kill came back and was dropped (more, on the embedded bus's batched checkpoints).
    expect(projection.deliveries - (N - CRASH_AFTER)).toBeGreaterThanOrEqual(1);
  }, 180_000);
});

/** Runs the projection worker to its end (here: its own SIGKILL); fails with its stderr if it exits otherwise. */
function runWorker(config: RestartWorkerConfig): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', path.join(FIXTURE, 'ts-register.js'), path.join(FIXTURE, 'projection-worker.ts'), JSON.stringify(config)], {
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, 90_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`projection worker did not reach its crash point within 90 s:\n${stderr}`));
      else if (signal !== 'SIGKILL') reject(new Error(`projection worker exited with code ${code}, signal ${signal}:\n${stderr}`));
      else resolve({ code, signal });
    });
  });
}
