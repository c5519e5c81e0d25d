import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { type KafkaRecord, OrderedBatchConsumer, type RecordOutcome } from './ordered-batch-consumer';

/** A batch of one partition whose records have these keys, offsets 0…n-1; what the consumer resolved and committed. */
function batchOf(keys: readonly string[]) {
  const resolved: string[] = [];
  let commits = 0;
  const messages = keys.map((key, offset) => ({ key: Buffer.from(key), value: Buffer.from(`m${offset}`), offset: String(offset) }) as unknown as KafkaMessage);
  const payload = {
    batch: { topic: 't', partition: 0, highWatermark: String(keys.length), messages },
    resolveOffset: (offset: string) => void resolved.push(offset),
    heartbeat: async () => undefined,
    commitOffsetsIfNecessary: async () => void (commits += 1),
    uncommittedOffsets: () => ({ topics: [] }),
    isRunning: () => true,
    isStale: () => false,
  } as unknown as EachBatchPayload;
  return { payload, resolved, commits: () => commits };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A handler whose records finish when released (by offset), recording when each starts. */
function gatedHandler() {
  const started: string[] = [];
  const gates = new Map<string, { release: (outcome: RecordOutcome | Error) => void }>();
  const handle = (record: KafkaRecord) =>
    new Promise<RecordOutcome>((resolve, reject) => {
      const offset = record.message.offset;
      started.push(offset);
      gates.set(offset, { release: (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)) });
    });
  const release = async (offset: string, outcome: RecordOutcome | Error = 'done') => {
    gates.get(offset)!.release(outcome);
    await tick();
    await tick();
  };
  return { handle, started, release };
}

describe('OrderedBatchConsumer: one partition, keys in parallel, offsets in order', () => {
  const never = new AbortController().signal;

  it('handles records of different keys at once and records of one key one after the other', async () => {
    const { handle, started, release } = gatedHandler();
    const consumer = new OrderedBatchConsumer(never, handle, () => undefined);
    const { payload, resolved } = batchOf(['a', 'b', 'a', 'c']);
    const run = consumer.eachBatch(payload);
    await tick();
    expect(started).toEqual(['0', '1', '3']); // '2' waits for '0' (same key)
    await release('1');
    expect(resolved).toEqual([]); // '0' is not done: nothing after it is resolved
    await release('0');
    expect(started).toEqual(['0', '1', '3', '2']);
    expect(resolved).toEqual(['0', '1']);
    await release('3');
    await release('2');
    await run;
    expect(resolved).toEqual(['0', '1', '2', '3']);
  });

  it('handles the partition strictly in log order with maxInFlight 1', async () => {
    const { handle, started, release } = gatedHandler();
    const consumer = new OrderedBatchConsumer(never, handle, () => undefined, undefined, 1);
    const { payload, resolved } = batchOf(['a', 'b', 'c']);
    const run = consumer.eachBatch(payload);
    await tick();
    expect(started).toEqual(['0']);
    await release('0');
    expect(started).toEqual(['0', '1']);
    await release('1');
    await release('2');
    await run;
    expect(resolved).toEqual(['0', '1', '2']);
  });

  it('never resolves a record that failed nor any record after it, lets the others finish, then throws', async () => {
    const { handle, started, release } = gatedHandler();
    const consumer = new OrderedBatchConsumer(never, handle, () => undefined);
    const { payload, resolved } = batchOf(['a', 'b', 'a', 'c']);
    const run = consumer.eachBatch(payload);
    const settled = run.then(
      () => 'resolved',
      (error: Error) => error.message,
    );
    await tick();
    await release('0');
    await release('1', new Error('dead-letter topic unreachable'));
    await release('3');
    await release('2');
    expect(await settled).toBe('dead-letter topic unreachable');
    expect(resolved).toEqual(['0']);
    expect(started).toEqual(['0', '1', '3', '2']);
  });

  it('stops at an abandoned record: the later records of its key are not handled, none after it is resolved', async () => {
    const { handle, started, release } = gatedHandler();
    const consumer = new OrderedBatchConsumer(never, handle, () => undefined);
    const { payload, resolved } = batchOf(['a', 'b', 'a']);
    const run = consumer.eachBatch(payload);
    await tick();
    await release('0', 'abandoned');
    await release('1');
    await run;
    expect(started).toEqual(['0', '1']);
    expect(resolved).toEqual([]);
  });
});
