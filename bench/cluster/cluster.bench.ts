/*
 * Registered deliveries end to end through the distributed mode: every role in its own process (scripts/cluster.sh:
 * directory, certifier, domicile, two processors, projections, the gateway), Kafka between them, PostgreSQL as the
 * shared event store. The same letters and the same measure as bench:delivery (send through the gateway → chain
 * completed and the recipient holding it, seen on the shared store), for the question the issue asks: one process on
 * one core (and the threadpool), or the roles spread over processes, hence over both cores.
 *
 *   npm run bench:cluster          # Kafka from KAFKA_BROKERS (default 127.0.0.1:9092), PostgreSQL from DATABASE_URL
 *
 * CPU is read from /proc for every process: the cluster's instances (their sum is the figure comparable with
 * bench:delivery's process CPU), the Kafka broker and PostgreSQL (server and backends) apart, and this process (the
 * HTTP client and the watch on the store). Signatures per delivery are counted in the events, as bench:delivery does;
 * node:crypto calls and SQLite statements of other processes are not counted.
 *
 * Environment: BENCH_DELIVERIES (default 300), BENCH_CONCURRENCY (64), BENCH_PAIRS (20), BENCH_PHASE_TIMEOUT_S (600),
 * KAFKA_BROKERS, DATABASE_URL, BENCH_CLUSTER_BASE_PORT (default 3400: the gateway, the instances on the next ports).
 * A benchmark, not a test: it asserts nothing about timings. Progress goes to stderr, the table to stdout.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LoopbackMailbox } from '@sigillum/channels';
import { PostgresEventStore } from '@sigillum/eventstore';
import { Cluster, LOCAL_DATABASE_URL } from '../../apps/gateway/src/demo/cluster';
import { countSignatures, resultLine } from '../common/ceiling';
import { DeliveryWatch, prepareDrafts, sendAll } from '../common/delivery-run';
import {
  Client,
  distribution,
  formatInt,
  integerSetting,
  notes,
  printTable,
  Progress,
  progressLine,
  refuseProblems,
  rows,
  runBench,
  within,
} from '../common/report';
import { clusterPids, cpuMsBetween, listenerPid, pidsNamed, sampleCpu } from './process-cpu';

/** Seconds the cluster is watched idle before the timed phase: what its processes use doing nothing (polls, heartbeats). */
const IDLE_SECONDS = 10;

async function main(): Promise<number> {
  const problems: string[] = [];
  const integer = integerSetting(process.env, problems);
  const settings = {
    deliveries: integer('BENCH_DELIVERIES', 300, 10),
    concurrency: integer('BENCH_CONCURRENCY', 64, 1),
    pairs: integer('BENCH_PAIRS', 20, 1),
    basePort: integer('BENCH_CLUSTER_BASE_PORT', 3400, 1024),
  };
  const timeoutMs = integer('BENCH_PHASE_TIMEOUT_S', 600, 1) * 1000;
  refuseProblems(problems);
  const brokers = process.env.KAFKA_BROKERS?.trim() || '127.0.0.1:9092';
  const databaseUrl = process.env.DATABASE_URL?.trim() || LOCAL_DATABASE_URL;
  const name = `bench${Date.now().toString(36)}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-bench-cluster-'));
  const mailbox = await new LoopbackMailbox().start();
  const cluster = new Cluster({
    name,
    dir,
    basePort: settings.basePort,
    brokers,
    databaseUrl,
    env: { ...mailbox.env(), LOG_LEVEL: 'warn', SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: '0' },
  });
  const store = new PostgresEventStore({ connectionString: databaseUrl, schema: name });
  const watch = new DeliveryWatch();
  const client = new Client('127.0.0.1', settings.basePort, Math.max(settings.concurrency, 4));
  try {
    progressLine(`starting scripts/cluster.sh (Kafka ${brokers}, PostgreSQL schema ${name}, state in ${dir})`);
    await cluster.start((line) => progressLine(line));
    progressLine(`setup: a hosted processing operator, ${settings.pairs} senders and recipients; ${formatInt(settings.deliveries)} drafts validated`);
    const prepared = await within(
      prepareDrafts(client, cluster.gatewayUrl, path.join(dir, 'directory'), mailbox, settings),
      timeoutMs,
      () => 'setup timed out',
    );
    await watch.startAtEnd(store);
    watch.recording = true;

    const instances = clusterPids(dir);
    const [brokerHost, brokerPort] = brokers.split(',')[0].trim().split(':');
    const broker = ['127.0.0.1', 'localhost'].includes(brokerHost) ? listenerPid(Number(brokerPort)) : undefined;
    const postgres = pidsNamed('postgres');
    const sample = () => ({ instances: sampleCpu(instances.values()), kafka: sampleCpu(broker ? [broker] : []), postgres: sampleCpu(pidsNamed('postgres')) });
    progressLine(`watching the cluster idle for ${IDLE_SECONDS} s`);
    const idleBefore = sample();
    await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
    const idle = sample();
    const idleCores = (at: 'instances' | 'kafka' | 'postgres') => cpuMsBetween(idleBefore[at], idle[at]) / (IDLE_SECONDS * 1000);
    progressLine(`sending ${formatInt(settings.deliveries)} registered deliveries, ${settings.concurrency} in flight, through the gateway`);
    const latencies: number[] = [];
    const progress = new Progress('delivered', settings.deliveries);
    const before = sample();
    const ownBefore = process.cpuUsage();
    const started = performance.now();
    await within(
      sendAll(client, prepared, watch, settings.concurrency, (elapsed) => {
        latencies.push(elapsed);
        progress.update(latencies.length);
      }),
      timeoutMs,
      () => `the deliveries did not all complete within ${timeoutMs / 1000} s (${latencies.length} did)`,
    );
    const elapsedMs = performance.now() - started;
    const after = sample();
    const own = process.cpuUsage(ownBefore);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    watch.recording = false;

    const n = settings.deliveries;
    const perSecond = n / (elapsedMs / 1000);
    const dist = distribution(latencies);
    const instanceMs = cpuMsBetween(before.instances, after.instances);
    const byInstance = [...instances].map(
      ([instance, pid]) => `${instance} ${(((after.instances.get(pid) ?? 0) - (before.instances.get(pid) ?? 0)) / n).toFixed(1)}`,
    );
    const kafkaMs = cpuMsBetween(before.kafka, after.kafka);
    const postgresMs = cpuMsBetween(before.postgres, after.postgres);
    const signatures = countSignatures(watch.events.map((recorded) => recorded.event.data));
    rows.push({ what: `registered delivery, send → chain completed + delivered (${instances.size} processes, Kafka, PostgreSQL)`, dist, perSecond });
    notes.push(
      `CPU per delivery (timed phase, /proc): the ${instances.size} instances ${(instanceMs / n).toFixed(1)} ms (${byInstance.join(', ')}); Kafka broker ${broker ? (kafkaMs / n).toFixed(1) : 'not found'} ms; PostgreSQL (${postgres.length} processes at the start) ${(postgresMs / n).toFixed(1)} ms; this bench (client, watch) ${((own.user + own.system) / 1000 / n).toFixed(1)} ms`,
    );
    notes.push(
      `cores busy through the timed phase: instances ${(instanceMs / elapsedMs).toFixed(2)}, all (Kafka, PostgreSQL, bench included) ${((instanceMs + kafkaMs + postgresMs + (own.user + own.system) / 1000) / elapsedMs).toFixed(2)}, of ${os.cpus().length}`,
    );
    notes.push(
      `idle, before the timed phase (${IDLE_SECONDS} s): instances ${idleCores('instances').toFixed(3)} cores, Kafka ${idleCores('kafka').toFixed(3)}, PostgreSQL ${idleCores('postgres').toFixed(3)}; over the timed phase that is ${((idleCores('instances') * elapsedMs) / n).toFixed(1)} ms of the instances' CPU per delivery`,
    );
    notes.push(`events per delivery ${(watch.events.length / n).toFixed(2)}; signatures in them ${((signatures.ed25519 + signatures.rsa) / n).toFixed(2)}`);
    process.stdout.write(`\nSigillum registered-delivery benchmark, distributed (${new Date().toISOString()})\n`);
    process.stdout.write(
      `  node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model?.trim() ?? 'cpu'}, ${formatInt(n)} deliveries, ${settings.concurrency} in flight, ${settings.pairs} pairs\n`,
    );
    printTable();
    for (const note of notes) process.stdout.write(`  ${note}\n`);
    process.stdout.write(
      `${resultLine({
        deliveries_per_s: perSecond,
        cpu_ms_per_delivery: instanceMs / n,
        p99_ms: dist.p99,
        infra_cpu_ms_per_delivery: (kafkaMs + postgresMs) / n,
        events_per_delivery: watch.events.length / n,
        signatures_per_delivery: (signatures.ed25519 + signatures.rsa) / n,
      })}\n`,
    );
    return 0;
  } finally {
    await watch.stop();
    client.close();
    await store.close();
    progressLine('stopping the cluster');
    await cluster.stop();
    await cluster.dropSchema().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    await mailbox.stop();
  }
}

runBench(
  main,
  'Needs Kafka (bash scripts/kafka.sh start) and PostgreSQL (DATABASE_URL, default the local cluster), and free ports from BENCH_CLUSTER_BASE_PORT.',
);
