import { performance } from 'node:perf_hooks';
import { KafkaEventBus, EventRelay, toKafkaMessage } from '@sigillum/bus';
import type { SqliteEventStore } from '@sigillum/eventstore';
import type Database from 'better-sqlite3';
import { Kafka, Partitioners, logLevel, type Admin, type LogEntry, type Message } from 'kafkajs';
import { BenchError, formatInt, progressLine, within } from '../common/report';
import { benchLogger, CountingBus } from './counting-bus';
import { Countdown, formatRatio, notes, Progress, rateOf, record, seconds } from './results';
import { KAFKA_SEND_BATCH, type Payload, randomHex, type Settings } from './setup';

// The Kafka phases of bus.bench.ts: raw kafkajs produce and consume, KafkaEventBus, and the relay to Kafka.

export const KAFKA_HINT =
  'Start a broker with `bash scripts/kafka.sh start` (check it with `bash scripts/kafka.sh status`, logs with `bash scripts/kafka.sh logs`), or unset KAFKA_BROKERS to run the SQLite part only.';

export async function benchKafka(
  settings: Settings,
  payloads: readonly Payload[],
  store: SqliteEventStore,
  storeDb: Database.Database,
  cleanups: Array<() => Promise<void>>,
): Promise<void> {
  const brokers = [...settings.brokers!];
  const n = payloads.length;
  const suffix = `${Date.now()}-${randomHex(4)}`;
  const topics = { raw: `bench.raw.${suffix}`, bus: `bench.bus.${suffix}`, relay: `bench.relay.${suffix}` };
  const groups = { raw: `bench.raw.${suffix}`, rawCommit: `bench.raw-commit.${suffix}`, bus: `bench.bus.${suffix}` };
  const timeout = settings.phaseTimeoutMs;
  const kafka = new Kafka({
    clientId: 'sigillum-bench',
    brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { retries: 3 },
    logLevel: logLevel.ERROR,
    logCreator:
      () =>
      ({ namespace, log }: LogEntry) =>
        process.stderr.write(`[kafkajs ${namespace}] ERROR ${log.message}\n`),
  });

  const admin: Admin = kafka.admin();
  let replicationFactor: number;
  try {
    await admin.connect();
    replicationFactor = Math.min(3, (await admin.describeCluster()).brokers.length);
  } catch (error) {
    await admin.disconnect().catch(() => undefined);
    throw new BenchError(`Cannot reach Kafka at ${brokers.join(',')} (${(error as Error).message}). ${KAFKA_HINT}`);
  }
  const created: string[] = [];
  cleanups.push(async () => {
    // Groups first (they must be empty: every consumer has left by now), then the topics.
    await admin.deleteGroups(Object.values(groups)).catch(() => undefined);
    const existing = new Set(await admin.listTopics().catch(() => [] as string[]));
    const toDelete = created.filter((topic) => existing.has(topic));
    if (toDelete.length > 0) {
      try {
        await admin.deleteTopics({ topics: toDelete, timeout: 10_000 });
        progressLine(`deleted Kafka topics ${toDelete.join(', ')}`);
      } catch (error) {
        progressLine(
          `could not delete Kafka topics ${toDelete.join(', ')} (${(error as Error).message}); ` +
            'delete them by hand with kafka-topics.sh --delete, or `bash scripts/kafka.sh stop --clean` to wipe the local broker.',
        );
      }
    }
    await admin.disconnect().catch(() => undefined);
  });
  progressLine(`Kafka ${brokers.join(',')}: ${settings.partitions} partition(s) per topic, replication factor ${replicationFactor}, topics *.${suffix}`);

  // 4a. Raw kafkajs produce: idempotent, acks=all, sends of KAFKA_SEND_BATCH records, the same records the bus writes.
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: topics.raw, numPartitions: settings.partitions, replicationFactor }] });
  created.push(topics.raw);
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  cleanups.unshift(() => producer.disconnect().catch(() => undefined));
  const records: Message[] = payloads.map((p) => toKafkaMessage({ ...p.message, topic: topics.raw }));
  progressLine(`raw kafkajs produce (idempotent, acks=all, ${KAFKA_SEND_BATCH} per send) to ${topics.raw}`);
  let progress = new Progress('raw produce', n);
  let start = performance.now();
  for (let from = 0; from < n; from += KAFKA_SEND_BATCH) {
    await within(
      producer.send({ topic: topics.raw, acks: -1, messages: records.slice(from, from + KAFKA_SEND_BATCH) }),
      timeout,
      () => `A raw produce to ${topics.raw} got no answer within ${timeout / 1000} s. ${KAFKA_HINT}`,
    );
    progress.update(Math.min(from + KAFKA_SEND_BATCH, n));
  }
  record({
    id: 'kafka.raw.produce',
    adapter: 'kafkajs (raw)',
    operation: `produce, idempotent acks=all, ${KAFKA_SEND_BATCH}/send`,
    count: n,
    seconds: seconds(start),
  });

  // 4b. Raw kafkajs consume: eachBatch, auto-commit, parse each value. Timed from the group join (connect and join excluded).
  const rawConsumer = kafka.consumer({ groupId: groups.raw, allowAutoTopicCreation: false });
  const rawConsumed = new Countdown('raw consume', n);
  progressLine(`raw kafkajs consume (eachBatch, auto-commit) from ${topics.raw}`);
  start = performance.now();
  let joinedAt: number | undefined;
  rawConsumer.on(rawConsumer.events.GROUP_JOIN, () => (joinedAt ??= performance.now()));
  await rawConsumer.connect();
  cleanups.unshift(() => rawConsumer.disconnect().catch(() => undefined));
  await rawConsumer.subscribe({ topics: [topics.raw], fromBeginning: true });
  await rawConsumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) JSON.parse(message.value!.toString('utf8'));
      rawConsumed.add(batch.messages.length);
    },
  });
  let end = await within(
    rawConsumed.done,
    timeout,
    () => `The raw kafkajs consumer received only ${rawConsumed.count} of ${n} records from ${topics.raw} within ${timeout / 1000} s. ${KAFKA_HINT}`,
  );
  let joined = Math.min(joinedAt ?? Infinity, rawConsumed.first!);
  notes.push(
    `Kafka consumers are timed from the moment their group is joined to the last record handled; connecting and joining ` +
      `(${seconds(start, joined).toFixed(3)} s for the raw eachBatch consumer) are left out.`,
  );
  await rawConsumer.disconnect();
  record({ id: 'kafka.raw.consume', adapter: 'kafkajs (raw)', operation: 'consume, eachBatch + auto-commit', count: n, seconds: seconds(joined, end) });

  // 4b'. The consume pattern KafkaEventBus used before its batched commits, without the adapter: eachMessage, then commitOffsets of that message.
  const commitConsumer = kafka.consumer({ groupId: groups.rawCommit, allowAutoTopicCreation: false });
  const commitConsumed = new Countdown('raw consume, commit per message', n);
  progressLine(`raw kafkajs consume (eachMessage + commitOffsets per message) from ${topics.raw}`);
  joinedAt = undefined;
  commitConsumer.on(commitConsumer.events.GROUP_JOIN, () => (joinedAt ??= performance.now()));
  await commitConsumer.connect();
  cleanups.unshift(() => commitConsumer.disconnect().catch(() => undefined));
  await commitConsumer.subscribe({ topics: [topics.raw], fromBeginning: true });
  await commitConsumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      JSON.parse(message.value!.toString('utf8'));
      await commitConsumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      commitConsumed.add();
    },
  });
  end = await within(
    commitConsumed.done,
    timeout,
    () =>
      `The raw kafkajs consumer (commit per message) received only ${commitConsumed.count} of ${n} records within ${timeout / 1000} s. ` +
      `Rerun with a smaller BENCH_EVENTS or a larger BENCH_PHASE_TIMEOUT_S; if it received none, ${KAFKA_HINT}`,
  );
  await commitConsumer.disconnect();
  joined = Math.min(joinedAt ?? Infinity, commitConsumed.first!);
  record({
    id: 'kafka.raw.consume.commit',
    adapter: 'kafkajs (raw)',
    operation: 'consume, eachMessage + commit each',
    count: n,
    seconds: seconds(joined, end),
    ceiling: 'kafka.raw.consume',
  });

  // 4c. KafkaEventBus publish of the same payloads (topic created and producer connected beforehand, as in a running process).
  const bus = new KafkaEventBus({
    brokers,
    clientId: 'sigillum-bench',
    defaultPartitions: settings.partitions,
    replicationFactor,
    logLevel: 'error',
    logger: benchLogger('KafkaEventBus'),
  });
  cleanups.unshift(() => bus.close());
  await bus.ensureTopics([topics.bus, topics.relay]);
  created.push(topics.bus, topics.relay);
  await bus.connectedProducer();
  const messages = payloads.map((p) => ({ ...p.message, topic: topics.bus }));
  const quarter = Math.ceil(n / 4);
  progressLine(`KafkaEventBus.publish to ${topics.bus} (${formatInt(quarter)} messages per call)`);
  progress = new Progress('bus publish', n);
  start = performance.now();
  for (let from = 0; from < n; from += quarter) {
    await within(
      bus.publish(messages.slice(from, from + quarter)),
      timeout,
      () => `KafkaEventBus.publish to ${topics.bus} got no answer within ${timeout / 1000} s. ${KAFKA_HINT}`,
    );
    progress.update(Math.min(from + quarter, n));
  }
  record({ id: 'kafka.bus.publish', adapter: 'KafkaEventBus', operation: 'publish', count: n, seconds: seconds(start), ceiling: 'kafka.raw.produce' });

  // 4d. KafkaEventBus consume: one group, runtime defaults (eachBatch, partitions in parallel, batched commits of handled offsets).
  const busConsumed = new Countdown('bus consume', n);
  progressLine(`KafkaEventBus.consume from ${topics.bus} (group ${groups.bus}, runtime defaults)`);
  start = performance.now();
  const busConsumer = await bus.consume({ group: groups.bus, topics: [topics.bus], fromBeginning: true, handler: async () => busConsumed.add() });
  const consumeResolvedAt = performance.now(); // consume() resolves once the group is joined
  end = await within(
    busConsumed.done,
    timeout,
    () =>
      `The KafkaEventBus consumer handled only ${busConsumed.count} of ${n} messages from ${topics.bus} within ${timeout / 1000} s. ` +
      `Rerun with a smaller BENCH_EVENTS or a larger BENCH_PHASE_TIMEOUT_S; if it handled none, ${KAFKA_HINT}`,
  );
  await busConsumer.stop();
  joined = Math.min(consumeResolvedAt, busConsumed.first!);
  notes.push(`KafkaEventBus.consume() took ${seconds(start, joined).toFixed(3)} s to connect and join its group (left out of its rate).`);
  record({
    id: 'kafka.bus.consume',
    adapter: 'KafkaEventBus',
    operation: 'consume (group, eachBatch, batched commits)',
    count: n,
    seconds: seconds(joined, end),
    ceiling: 'kafka.raw.consume',
  });
  const vsCommitEach = rateOf('kafka.bus.consume')! / rateOf('kafka.raw.consume.commit')!;
  notes.push(
    `KafkaEventBus.consume runs at ${formatRatio(rateOf('kafka.bus.consume')! / rateOf('kafka.raw.consume')!)} of raw kafkajs eachBatch ` +
      `and ${formatRatio(vsCommitEach)} of raw kafkajs committing after every message: it handles each partition in order (partitions in ` +
      'parallel), resolves each offset once its message is handled or dead-lettered, and commits the resolved offsets every ' +
      '1000 ms / 1000 messages and at the end of each fetched batch; the rest of its gap is decoding, the retry policy and a heartbeat check per message.',
  );

  // 4e. Relay store -> KafkaEventBus: the production path with EVENT_BUS=kafka, catching up on the store of 2a.
  const relayed = new CountingBus(bus, 'relay -> Kafka', n);
  const relay = new EventRelay({ store, bus: relayed, db: storeDb, name: 'bench-kafka', topicOf: () => topics.relay, logger: benchLogger('EventRelay') });
  cleanups.unshift(() => relay.stop());
  progressLine(`EventRelay: store -> KafkaEventBus (${topics.relay}), catch-up`);
  start = performance.now();
  await relay.start();
  end = await within(
    relayed.countdown.done,
    timeout,
    () =>
      `The relay published only ${relayed.countdown.count} of ${n} events to Kafka within ${timeout / 1000} s. ` +
      `Look for [EventRelay] errors above. ${KAFKA_HINT}`,
  );
  await relay.stop();
  record({
    id: 'kafka.relay',
    adapter: 'EventRelay -> Kafka',
    operation: 'relay store -> bus (catch-up)',
    count: n,
    seconds: seconds(start, end),
    ceiling: 'kafka.raw.produce',
  });
}
