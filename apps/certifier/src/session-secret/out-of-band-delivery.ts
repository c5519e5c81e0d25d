/**
 * A bounded-concurrency, in-process queue of out-of-band sends. The consumer handler appends
 * SessionSecretIssued, hands the send here and takes the next message at once: a slow transport (SMTP, a
 * gateway) no longer caps how many sessions the certifier opens per second. At most `concurrency` sends run
 * at a time; beyond that jobs wait in memory, and once `maxBacklog` jobs wait, `enqueue` itself waits for room
 * (back-pressure on the consumer instead of unbounded memory).
 *
 * A job holds the code in memory until it ran; nothing of it is logged here (the job reports its own failure).
 */
export class OutOfBandDeliveryQueue {
  private readonly waiting: (() => Promise<void>)[] = [];
  private readonly roomWaiters: (() => void)[] = [];
  private readonly idleWaiters = new Set<() => void>();
  private running = 0;

  constructor(
    private readonly concurrency: number,
    private readonly maxBacklog = Math.max(1_000, concurrency * 64),
  ) {
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be an integer >= 1, not ${concurrency}`);
  }

  /** Jobs running or waiting. */
  get pending(): number {
    return this.running + this.waiting.length;
  }

  /**
   * Queues a job; it starts at once when fewer than `concurrency` run. Resolves as soon as the job is queued
   * (not when it ran); waits only when the backlog is full. A job must not throw (it records its own failure);
   * if it does, the error is swallowed so that the queue goes on.
   */
  async enqueue(job: () => Promise<void>): Promise<void> {
    while (this.waiting.length >= this.maxBacklog) await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    if (this.running < this.concurrency) this.start(job);
    else this.waiting.push(job);
  }

  /** Resolves once every queued job ran (true), or after `timeoutMs` with jobs still pending (false). */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.pending === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    const idle = new Promise<boolean>((resolve) => {
      wake = () => resolve(true);
      this.idleWaiters.add(wake);
    });
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs))));
    try {
      return await Promise.race([idle, timeout]);
    } finally {
      clearTimeout(timer);
      if (wake) this.idleWaiters.delete(wake);
    }
  }

  private start(job: () => Promise<void>): void {
    this.running++;
    let run: Promise<void>;
    try {
      run = job();
    } catch {
      run = Promise.resolve();
    }
    run.catch(() => undefined).finally(() => this.finished());
  }

  private finished(): void {
    this.running--;
    const next = this.waiting.shift();
    if (next) this.start(next);
    this.roomWaiters.shift()?.();
    if (this.pending === 0) for (const wake of [...this.idleWaiters]) wake();
  }
}
