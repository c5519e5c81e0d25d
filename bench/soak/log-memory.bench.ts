/*
 * The evidence log's memory per delivery, without the noise of a soak: what the log keeps live for every leaf.
 *
 *   D=/tmp/<you>-dist; npx tsc -p bench/tsconfig.json --outDir $D --tsBuildInfoFile $D/.tsbuildinfo
 *   BENCH_DIST=$D NODE_PATH=$PWD/node_modules node -r ./bench/register-paths.js $D/bench/soak/log-memory.bench.js
 *
 * Writes BENCH_LOG_DELIVERIES deliveries' evidence (BENCH_LOG_RECORDS records each, UUID ids, a ~1 kB record) to a
 * SQLite event store, then measures the process's memory after full collections before and after an EvidenceLog
 * reads all of it (its rebuild at start: tree, entries, index), and after it signed a checkpoint and answered for
 * every correspondence (leavesOf, verdictOn, completenessOf). Prints the live heap and the Buffers the log added per
 * delivery, the CPU time of the rebuild per leaf and of an answer. Environment: BENCH_LOG_DELIVERIES (5,000),
 * BENCH_LOG_RECORDS (11), TMPDIR.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { EVIDENCE_CATEGORY, type EvidenceRecorded, streamIdOf } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { uuidGenerator } from '@sigillum/runtime/ids';
import { ed25519NoteSigner, ed25519VerifierKey, rawEd25519PublicKey } from '@sigillum/tlog';
import { EvidenceLog } from '../../apps/certifier/src/evidence-log/evidence-log';
import type { EvidenceLogTsa } from '../../apps/certifier/src/evidence-log/evidence-log.tsa';
import { recordDigestOf } from '../../apps/certifier/src/evidence/evidence-record';
import { resultLine } from '../common/ceiling';
import { BenchError, integerSetting, progressLine, runBench } from '../common/report';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const ORIGIN = 'bench.test/sigillum/evidence';
const NAMES = ['SubmissionAcceptance', 'RelayAcceptance', 'ConsignmentNotification', 'ContentHandover', 'RetrievalNotice', 'Receipt'];

/** Heap and Buffers after full collections (twice: weak references and finalizers settle on the second). */
function live(): { heap: number; buffers: number } {
  gc();
  gc();
  const memory = process.memoryUsage();
  return { heap: memory.heapUsed, buffers: memory.arrayBuffers };
}

async function main(): Promise<number> {
  const problems: string[] = [];
  const setting = integerSetting(process.env, problems);
  const deliveries = setting('BENCH_LOG_DELIVERIES', 5_000, 1);
  const perDelivery = setting('BENCH_LOG_RECORDS', 11, 1);
  if (problems.length > 0) throw new BenchError(problems.join('\n'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-bench-log-memory-'));
  const store = new SqliteEventStore({ filename: path.join(dir, 'events.sqlite') });
  const ids: string[] = [];
  try {
    progressLine(`writing ${deliveries} deliveries x ${perDelivery} evidence records`);
    for (let d = 0; d < deliveries; d++) {
      const correspondenceId = randomUUID();
      ids.push(correspondenceId);
      const events = Array.from({ length: perDelivery }, (_, chainIndex) => {
        const record = {
          eventName: NAMES[chainIndex % NAMES.length],
          EvidenceIdentifier: randomUUID(),
          MessageIdentifier: correspondenceId,
          chainIndex,
          padding: 'x'.repeat(900),
        };
        const data: EvidenceRecorded['data'] = {
          evidenceId: record.EvidenceIdentifier,
          correspondenceId,
          chainIndex,
          eventName: record.eventName,
          record,
          recordDigest: recordDigestOf(record),
          previousEvidenceDigest: null,
          jws: 'x.y.z',
          recordedAt: new Date().toISOString(),
        };
        const eventId = uuidGenerator.next();
        const metadata = { eventId, correlationId: eventId, causationId: eventId, occurredAt: data.recordedAt, source: 'bench' };
        return { event: { type: 'EvidenceRecorded', version: 1, data } as EvidenceRecorded, metadata };
      });
      await store.append(streamIdOf(EVIDENCE_CATEGORY, correspondenceId), events, 'no-stream');
    }
    const { privateKey } = generateKeyPairSync('ed25519');
    const signer = { note: ed25519NoteSigner(ORIGIN, privateKey), verifierKey: ed25519VerifierKey(ORIGIN, rawEd25519PublicKey(privateKey)) };
    const tsa = { timeStamp: () => Buffer.from('token'), timeStampAsync: () => Promise.resolve(Buffer.from('token')) } as unknown as EvidenceLogTsa;
    const config = { origin: ORIGIN, checkpointMs: 3_600_000, checkpointLeaves: 1, tsaPolicyOid: '1.2.3', entriesDir: path.join(dir, 'log') };

    const before = live();
    const log = new EvidenceLog(store, { now: () => new Date() }, uuidGenerator, signer, tsa, config);
    const rebuildCpu = process.cpuUsage();
    await log.refresh();
    const rebuildUs = process.cpuUsage(rebuildCpu);
    const read = live();
    await log.tick(); // signs a checkpoint of every leaf
    const checkpoint = log.latest();
    const answerCpu = process.cpuUsage();
    for (const id of ids) {
      const leaves = await log.leavesOf(id, checkpoint);
      await log.verdictOn(
        id,
        leaves.map((leaf) => ({ evidenceId: leaf.evidenceId, chainIndex: leaf.chainIndex, eventName: leaf.eventName, record: leaf.record })),
      );
      log.completenessOf(id, checkpoint);
    }
    const answerUs = process.cpuUsage(answerCpu);
    const answered = live();
    await log.onModuleDestroy();

    const kb = (bytes: number) => (bytes / deliveries / 1024).toFixed(2);
    const leaves = deliveries * perDelivery;
    const rebuildPerLeafUs = (rebuildUs.user + rebuildUs.system) / leaves;
    const answerPerDeliveryUs = (answerUs.user + answerUs.system) / deliveries;
    process.stdout.write(`\nEvidence log memory (${new Date().toISOString()}): ${deliveries} deliveries, ${leaves} leaves, tree size ${log.size}\n`);
    process.stdout.write(
      `  after the rebuild: live heap +${kb(read.heap - before.heap)} kB a delivery, Buffers +${kb(read.buffers - before.buffers)} kB a delivery\n`,
    );
    process.stdout.write(
      `  after answering for every correspondence: live heap +${kb(answered.heap - before.heap)} kB a delivery, Buffers +${kb(answered.buffers - before.buffers)} kB a delivery\n`,
    );
    process.stdout.write(
      `  CPU: rebuild ${rebuildPerLeafUs.toFixed(1)} us a leaf; leavesOf + verdictOn + completenessOf ${answerPerDeliveryUs.toFixed(0)} us a correspondence\n`,
    );
    process.stdout.write(
      `${resultLine({
        heap_per_delivery_bytes: (read.heap - before.heap) / deliveries,
        buffers_per_delivery_bytes: (read.buffers - before.buffers) / deliveries,
        heap_per_delivery_answered_bytes: (answered.heap - before.heap) / deliveries,
        rebuild_cpu_us_per_leaf: rebuildPerLeafUs,
        answer_cpu_us: answerPerDeliveryUs,
      })}\n`,
    );
    return 0;
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
