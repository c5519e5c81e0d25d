import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { EmbeddedEventBus } from '@sigillum/bus/embedded/embedded-event-bus';
import type { DeliveredMessage, RecordedEvent } from '@sigillum/contracts';
import type { StoreSubscription } from '@sigillum/eventstore';
import { SqliteEventStore } from '@sigillum/eventstore/sqlite/sqlite-event-store';
import { ThreadWriteLock } from '@sigillum/eventstore/sqlite/thread-write-lock';
import { eventually } from '@sigillum/testing';
import { isGuestOf, shareFileWithThreads } from './shared-file';
import type { AppendRequest, SharedFileWorkerData } from './shared-file-worker.test-kit';
import { startSourceWorker } from './source-worker';

/** An hour: a subscription or consumer that got another thread's commit within seconds was woken, not polling. */
const NO_POLL_MS = 3_600_000;

function nextMessage(worker: Worker): Promise<{ type: string; message?: string }> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/**
 * Roles on threads of one process share the SQLite file: a commit on one thread wakes the store subscriptions (of the
 * categories it wrote) and the bus consumers (of the topics it published to) of the others at once, without a poll.
 */
describe('a SQLite file shared by the threads of a process (role threads)', () => {
  let dir: string;
  let file: string;
  let store: SqliteEventStore;
  let bus: EmbeddedEventBus;
  let worker: Worker;
  const subscriptions: StoreSubscription[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sigillum-shared-file-'));
    file = join(dir, 'shared.db');
    const lock = shareFileWithThreads(file);
    store = new SqliteEventStore({ filename: file, pollIntervalMs: NO_POLL_MS });
    bus = new EmbeddedEventBus({ db: store.database, pollIntervalMs: NO_POLL_MS, pruning: false });
    const data: SharedFileWorkerData = { file, lock };
    worker = startSourceWorker(join(__dirname, 'shared-file-worker.test-kit.ts'), 'runSharedFileWorker', data);
    expect(await nextMessage(worker)).toEqual({ type: 'ready' });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(subscriptions.map((subscription) => subscription.stop()));
    await worker?.terminate();
    await bus?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function appendOnTheOtherThread(request: AppendRequest): Promise<void> {
    const answer = nextMessage(worker);
    worker.postMessage(request);
    expect(await answer).toMatchObject({ type: 'appended' });
  }

  it('shares the write lock of the file with the threads it starts; only they are its guests', () => {
    expect(ThreadWriteLock.of(store.database)?.buffer).toBe(shareFileWithThreads(file));
    expect(isGuestOf(file)).toBe(false); // the main thread keeps the file (checkpoints, pruning)
  });

  it("wakes a store subscription at once for another thread's commit of its category", async () => {
    const seen: RecordedEvent[] = [];
    subscriptions.push(store.subscribeAll(async (event) => void seen.push(event), { categories: ['note'] }));
    await new Promise((resolve) => setTimeout(resolve, 100)); // the subscription reads the (empty) file and waits
    await appendOnTheOtherThread({ stream: 'note-1', topic: 'notes' });
    await eventually(() => expect(seen.map((event) => event.streamId)).toEqual(['note-1']), 5_000);
    await appendOnTheOtherThread({ stream: 'other-1', topic: 'others' });
    await appendOnTheOtherThread({ stream: 'note-2', topic: 'notes' });
    await eventually(() => expect(seen.map((event) => event.streamId)).toEqual(['note-1', 'note-2']), 5_000);
  }, 20_000);

  it('wakes a bus consumer at once for a message another thread published to its topic', async () => {
    const seen: DeliveredMessage[] = [];
    await bus.consume({ group: 'g-threads', topics: ['letters'], fromBeginning: true, handler: async (message) => void seen.push(message) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await appendOnTheOtherThread({ stream: 'letter-1', topic: 'letters' });
    await eventually(() => expect(seen.map((message) => message.key)).toEqual(['letter-1']), 5_000);
  }, 20_000);
});
