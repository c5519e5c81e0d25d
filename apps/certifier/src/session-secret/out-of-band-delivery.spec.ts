import { OutOfBandDeliveryQueue } from './out-of-band-delivery';

/** A job that runs until released, counting how many run at once. */
function gatedJobs() {
  let running = 0;
  let most = 0;
  const releases: (() => void)[] = [];
  const job =
    (fail = false) =>
    async () => {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => releases.push(resolve));
      running--;
      if (fail) throw new Error('transport down');
    };
  const releaseAll = async () => {
    while (releases.length > 0 || running > 0) {
      releases.splice(0).forEach((release) => release());
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { job, releaseAll, most: () => most, running: () => running };
}

describe('OutOfBandDeliveryQueue', () => {
  it('runs at most `concurrency` jobs at once, queues the others, and runs every one', async () => {
    const queue = new OutOfBandDeliveryQueue(3);
    const jobs = gatedJobs();
    for (let i = 0; i < 10; i++) await queue.enqueue(jobs.job());
    expect(jobs.running()).toBe(3);
    expect(queue.pending).toBe(10);
    await jobs.releaseAll();
    expect(await queue.drain(1000)).toBe(true);
    expect(jobs.most()).toBe(3);
    expect(queue.pending).toBe(0);
  });

  it('goes on after a job fails or throws synchronously', async () => {
    const queue = new OutOfBandDeliveryQueue(1);
    const jobs = gatedJobs();
    await queue.enqueue(jobs.job(true));
    await queue.enqueue(() => {
      throw new Error('sync');
    });
    await queue.enqueue(jobs.job());
    await jobs.releaseAll();
    expect(await queue.drain(1000)).toBe(true);
  });

  it('drain gives up after the timeout while jobs are still pending', async () => {
    const queue = new OutOfBandDeliveryQueue(2);
    const jobs = gatedJobs();
    await queue.enqueue(jobs.job());
    expect(await queue.drain(20)).toBe(false);
    expect(queue.pending).toBe(1);
    await jobs.releaseAll();
    expect(await queue.drain(1000)).toBe(true);
  });

  it('makes enqueue wait when the backlog is full (back-pressure instead of unbounded memory)', async () => {
    const queue = new OutOfBandDeliveryQueue(1, 2);
    const jobs = gatedJobs();
    await queue.enqueue(jobs.job()); // runs
    await queue.enqueue(jobs.job()); // waits
    await queue.enqueue(jobs.job()); // waits: backlog full now
    let queued = false;
    const fourth = queue.enqueue(jobs.job()).then(() => (queued = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(queued).toBe(false);
    await jobs.releaseAll();
    await fourth;
    await jobs.releaseAll();
    expect(await queue.drain(1000)).toBe(true);
    expect(jobs.most()).toBe(1);
  });

  it('refuses a concurrency below 1', () => {
    expect(() => new OutOfBandDeliveryQueue(0)).toThrow(RangeError);
  });
});
