import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { Logger } from '@nestjs/common';
import { PoisonMessageError } from '@sigillum/bus/event-bus.port';
import type { DeliveredMessage } from '@sigillum/contracts';
import { ApplyElsewhereUnavailable, type Outcome } from '@sigillum/eventstore/sqlite/batched-projector';
import type { ThreadWriteLock } from '@sigillum/eventstore/sqlite/thread-write-lock';
import type { RebuildableProjection } from '../rebuild/log-replay';
import { type FromLiveApplyWorker, type LiveApplyWorkerData, type ToLiveApplyWorker, toWire, type WireError } from './live-apply-worker';
import { startSourceWorker } from '@sigillum/runtime/threads/source-worker';

export interface LiveApplyThreadOptions {
  /** The SQLite file of the read models (and of the log). */
  readonly file: string;
  readonly synchronous: 'NORMAL' | 'FULL';
  readonly autocheckpoint: number;
  readonly busyTimeoutMs?: number;
  /** The projections it applies: each must name where a worker finds it (`worker`). */
  readonly projections: readonly RebuildableProjection[];
  /** Unexpected exits of the worker tolerated (it is started again each time); after that, batches are applied on the main thread. */
  readonly maxRestarts?: number;
  /** The write lock the main connection's turns take (ThreadWriteLock.shareFrom of its handle). */
  readonly writeLock: ThreadWriteLock;
}

interface Batch {
  readonly projection: string;
  readonly messages: readonly DeliveredMessage[];
  readonly resolve: (outcomes: Outcome[]) => void;
  readonly reject: (error: unknown) => void;
}

/** The error as the bus sees it: a refused message stays refused (dead-lettered at once), anything else is retried. */
function errorFromWire(error: WireError): Error {
  const revived = error.name === 'PoisonMessageError' ? new PoisonMessageError(error.message) : new Error(error.message);
  if (error.name !== 'PoisonMessageError') revived.name = error.name;
  return revived;
}

/**
 * The projections' live apply on a worker thread of its own (live-apply-worker.ts), with its own connection to the
 * SQLite file: the read models' writes, and the projections' work per event, on the second core instead of the event
 * loop. A batch is answered once its transaction committed there, so a consumer awaiting it acknowledges only what is
 * durable, as on the main thread. The worker starts with the first batch. When it dies, the batches it held are sent
 * again to a new one (each message is applied once: the event ids are recorded with the rows, so a batch committed
 * just before the death is skipped the second time); after `maxRestarts` deaths, or when it cannot start at all, every
 * batch is refused with ApplyElsewhereUnavailable and the BatchedProjector applies it on the main thread.
 */
export class LiveApplyThread {
  private worker: Worker | undefined;
  private readonly inFlight = new Map<number, Batch>();
  /** The promises of the batches in flight (close waits for them). */
  private readonly answers = new Set<Promise<Outcome[]>>();
  private nextBatch = 0;
  private restarts = 0;
  private unavailable: string | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly options: LiveApplyThreadOptions,
    private readonly log: Pick<Logger, 'log' | 'warn' | 'error'>,
  ) {
    for (const projection of options.projections) {
      if (!projection.worker) throw new Error(`Projection ${projection.name} names no module a worker thread can load (worker)`);
    }
  }

  /** Where the batches are applied now, for GET /health. */
  state(): { readonly where: 'thread' | 'main thread'; readonly restarts: number; readonly detail: string } {
    if (this.unavailable !== undefined) return { where: 'main thread', restarts: this.restarts, detail: this.unavailable };
    const started = this.worker ? 'running' : 'started by the next batch';
    return { where: 'thread', restarts: this.restarts, detail: `live apply on a worker thread (${started}; ${this.restarts} restart(s))` };
  }

  /** Applies `messages` to `projection`'s read model on the thread; rejects with ApplyElsewhereUnavailable when it cannot. */
  apply(projection: string, messages: readonly DeliveredMessage[]): Promise<Outcome[]> {
    if (this.unavailable !== undefined) return Promise.reject(new ApplyElsewhereUnavailable(this.unavailable));
    if (this.closing) return Promise.reject(new ApplyElsewhereUnavailable('the live apply thread is stopping'));
    const answer = new Promise<Outcome[]>((resolve, reject) => {
      const batch = this.nextBatch++;
      this.inFlight.set(batch, { projection, messages, resolve, reject });
      this.post(batch);
    });
    this.answers.add(answer);
    const forget = () => void this.answers.delete(answer);
    answer.then(forget, forget);
    return answer;
  }

  /** Waits for the batches in flight, then stops the worker; later batches are applied on the main thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.answers]);
      const worker = this.worker;
      this.worker = undefined;
      if (!worker) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage({ type: 'stop' } satisfies ToLiveApplyWorker);
      await exited;
    })();
    return this.closing;
  }

  private post(batch: number): void {
    const entry = this.inFlight.get(batch)!;
    const message: ToLiveApplyWorker = { type: 'apply', batch, projection: entry.projection, messages: entry.messages.map(toWire) };
    (this.worker ??= this.start()).postMessage(message);
  }

  private start(): Worker {
    const data: LiveApplyWorkerData = {
      file: path.resolve(this.options.file),
      synchronous: this.options.synchronous,
      autocheckpoint: this.options.autocheckpoint,
      busyTimeoutMs: this.options.busyTimeoutMs ?? 5000,
      writeLock: this.options.writeLock.buffer,
      projections: this.options.projections.map(({ name, worker }) => ({ name, module: worker!.module, exportName: worker!.exportName })),
    };
    const entry = path.join(__dirname, `live-apply-worker${path.extname(__filename)}`);
    const worker = startSourceWorker(entry, 'runLiveApplyWorker', data);
    worker.unref();
    const threadId = worker.threadId; // -1 once it exited
    let started = false;
    worker.on('message', (message: FromLiveApplyWorker) => {
      if (message.type === 'ready') {
        started = true;
        this.log.log(`Live apply of ${data.projections.map((p) => p.name).join(', ')} on a worker thread (its own connection to ${data.file})`);
      } else if (message.type === 'failed') this.giveUp(worker, `the live apply thread could not start: ${message.message}`);
      else this.settle(message);
    });
    worker.on('error', (error) => this.log.error(`Live apply thread: ${error.message}`));
    worker.on('exit', (code) => {
      this.options.writeLock.releaseHeldBy(threadId); // a thread stopped mid-batch must not leave the main thread waiting
      if (this.worker !== worker) return; // stopped on purpose, or replaced after a failed start
      this.worker = undefined;
      if (!started) return this.giveUp(worker, `the live apply thread stopped (exit code ${code}) before it was ready`);
      if (++this.restarts > (this.options.maxRestarts ?? 3)) return this.giveUp(worker, `the live apply thread stopped ${this.restarts} times`);
      this.log.warn(`The live apply thread stopped (exit code ${code}); starting it again with the ${this.inFlight.size} batch(es) it held`);
      for (const batch of [...this.inFlight.keys()].sort((a, b) => a - b)) this.post(batch);
    });
    return worker;
  }

  private settle(message: Extract<FromLiveApplyWorker, { type: 'applied' | 'rejected' }>): void {
    const batch = this.inFlight.get(message.batch);
    if (!batch) return;
    this.inFlight.delete(message.batch);
    if (message.type === 'rejected') batch.reject(errorFromWire(message.error));
    else batch.resolve(message.outcomes.map((outcome): Outcome => ('error' in outcome ? { error: errorFromWire(outcome.error) } : outcome)));
  }

  /** No worker from now on: the batches it held, and every later one, go back to the main thread. */
  private giveUp(worker: Worker, reason: string): void {
    if (this.unavailable !== undefined) return;
    this.unavailable = `${reason}; the read models are written on the main thread (set PROJECTIONS_APPLY=inline to say so)`;
    this.log.error(`Live apply: ${this.unavailable}`);
    if (this.worker === worker) this.worker = undefined;
    void worker.terminate();
    const held = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const batch of held) batch.reject(new ApplyElsewhereUnavailable(this.unavailable));
  }
}
