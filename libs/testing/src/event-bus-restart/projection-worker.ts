/**
 * Child process of the kill-and-restart test: consumes the topic into the projection and SIGKILLs itself
 * right after the projection of message `crashAfter` committed, before the bus could commit its offset.
 * Run with: node -r ./ts-register.js projection-worker.ts '<RestartWorkerConfig as JSON>'
 */
import Database from 'better-sqlite3';
import { EmbeddedEventBus } from '@sigillum/bus/embedded/embedded-event-bus';
import type { EventBus } from '@sigillum/bus/event-bus.port';
import { KafkaEventBus } from '@sigillum/bus/kafka/kafka-event-bus';
import { RestartProjection, type RestartWorkerConfig } from './restart-projection';

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as RestartWorkerConfig;
  const db = new Database(config.file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  const quiet = { log: () => undefined, warn: () => undefined, error: (text: string) => process.stderr.write(`${text}\n`) };
  const bus: EventBus =
    config.adapter === 'embedded'
      ? new EmbeddedEventBus({ db, pollIntervalMs: 20, logger: quiet })
      : new KafkaEventBus({
          brokers: config.brokers ?? [],
          clientId: 'sigillum-restart-worker',
          consumer: { sessionTimeout: 6_000, heartbeatInterval: 500, rebalanceTimeout: 5_000, maxWaitTimeInMs: 100 },
          logLevel: 'error',
          logger: quiet,
        });
  const projection = new RestartProjection(db);
  await bus.consume({
    group: config.group,
    topics: [config.topic],
    handler: projection.handler(config.group, (stats) => {
      if (stats.projected >= config.crashAfter) process.kill(process.pid, 'SIGKILL'); // handled, not committed
    }),
  });
}

main().catch((error) => {
  process.stderr.write(`projection worker failed: ${(error as Error).stack}\n`);
  process.exit(2);
});
