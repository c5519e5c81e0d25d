#!/usr/bin/env node
'use strict';
/*
 * Waits until a Kafka broker really accepts clients: a kafkajs admin client must connect,
 * list topics and describe the cluster. Used by scripts/kafka.sh start.
 *
 * With --warm it then creates the internal topics that a fresh broker only creates on first use
 * (__consumer_offsets via a group-coordinator lookup, __transaction_state via the InitProducerId of a
 * transactional producer), so the first test does not hit COORDINATOR_NOT_AVAILABLE /
 * COORDINATOR_LOAD_IN_PROGRESS retries. Warm-up failures are reported but not fatal.
 *
 *   node scripts/kafka-wait.js [--brokers 127.0.0.1:9092] [--sasl scram-sha-512 --username U --password-file F]
 *                              [--timeout 90] [--pid <broker pid>] [--warm]
 *
 * Prints a progress dot per failed attempt (on stderr). Exit codes:
 *   0 broker ready, 1 timeout, 2 the broker process (--pid) exited, 4 kafkajs not installed.
 */

const { arg, connectionOptions } = require('./kafka-client');

// --brokers, and --sasl/--username/--password-file for a secure broker (kafka-client.js).
const connection = connectionOptions();
const { brokers } = connection;
const timeoutMs = Number(arg('timeout', '90')) * 1000;
const pid = arg('pid') ? Number(arg('pid')) : undefined;

let kafkajs;
try {
  kafkajs = require('kafkajs');
} catch (e) {
  console.error(`kafka-wait: cannot load kafkajs (${e.code || e.message}); run 'npm ci' in the repo root first.`);
  process.exit(4);
}
const { Kafka, logLevel } = kafkajs;

function processAlive(p) {
  try {
    process.kill(p, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function attempt() {
  const kafka = new Kafka({
    clientId: 'sigillum-kafka-wait',
    ...connection,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topics = await admin.listTopics();
    const cluster = await admin.describeCluster();
    if (!cluster.brokers || cluster.brokers.length === 0) throw new Error('no broker registered yet');
    return { topics, cluster };
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function warm() {
  const t0 = Date.now();
  const kafka = new Kafka({
    clientId: 'sigillum-kafka-wait',
    ...connection,
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 2000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // FindCoordinator(GROUP) auto-creates __consumer_offsets; kafkajs retries until it is loaded.
    await admin.describeGroups(['sigillum-kafka-wait']);
  } finally {
    await admin.disconnect().catch(() => {});
  }
  // connect() sends a non-transactional InitProducerId (warms the broker's producer-id block);
  // transaction() sends FindCoordinator(TRANSACTION) + a transactional InitProducerId, which
  // create and load __transaction_state. The empty transaction is then aborted.
  const producer = kafka.producer({ transactionalId: 'sigillum-kafka-wait', idempotent: true, maxInFlightRequests: 1 });
  try {
    await producer.connect();
    const txn = await producer.transaction();
    await txn.abort();
  } finally {
    await producer.disconnect().catch(() => {});
  }
  return Date.now() - t0;
}

(async () => {
  const started = Date.now();
  let lastErr;
  for (;;) {
    if (pid !== undefined && !processAlive(pid)) {
      process.stderr.write('\n');
      console.error(`kafka-wait: broker process ${pid} exited before accepting clients.`);
      process.exit(2);
    }
    try {
      const { topics, cluster } = await attempt();
      process.stderr.write('\n');
      console.log(
        `kafka-wait: broker ready after ${((Date.now() - started) / 1000).toFixed(1)}s ` +
          `(cluster ${cluster.clusterId}, brokers ${cluster.brokers.map((b) => `${b.nodeId}@${b.host}:${b.port}`).join(',')}, ` +
          `${topics.length} topic(s))`,
      );
      if (process.argv.includes('--warm')) {
        try {
          const ms = await warm();
          console.log(`kafka-wait: internal topics (__consumer_offsets, __transaction_state) ready in ${(ms / 1000).toFixed(1)}s`);
        } catch (e) {
          console.error(`kafka-wait: warning: warm-up failed (${e.message}); the first client may see coordinator retries.`);
        }
      }
      process.exit(0);
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() - started > timeoutMs) {
      process.stderr.write('\n');
      console.error(`kafka-wait: broker at ${brokers.join(',')} not ready after ${timeoutMs / 1000}s: ${lastErr && lastErr.message}`);
      process.exit(1);
    }
    process.stderr.write('.');
    await sleep(1000);
  }
})();
