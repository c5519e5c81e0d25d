import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { Logger } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { ThreadWriteLock } from '@sigillum/eventstore/sqlite/thread-write-lock';
import { startSourceWorker } from '@sigillum/runtime/threads/source-worker';
import { shareFileWithThreads } from '@sigillum/runtime/threads/shared-file';
import type { HostedRole } from '../roles';
import type { FromRoleThread, RoleThreadData, ToRoleThread } from './role-thread-worker';

/** How long a role thread may take to start (its Nest app, its consumers, its listener). */
const START_TIMEOUT_MS = 120_000;
/** How long a stopping role thread may take to finish what it holds before it is terminated. */
const STOP_TIMEOUT_MS = 15_000;

/**
 * One role of this process on a worker thread of its own (ROLE_THREADS): started before the main thread's app, it
 * listens on a loopback port the gateway forwards the role's routes to. `urls` is the list the gateway's proxy and
 * GET /health/roles read: when the thread stops unexpectedly, it is started again and its new address replaces the
 * old one in place (meanwhile the role's routes answer 502 and /health/roles names it).
 */
export class RoleThread {
  readonly urls: string[] = [];
  private worker: Worker | undefined;
  private stopping: Promise<void> | undefined;
  private restarts = 0;

  private constructor(
    readonly role: HostedRole,
    private readonly data: RoleThreadData,
    private readonly log: Logger,
  ) {}

  /** Starts `role` on its thread; resolves once it listens, rejects (saying why) when it cannot start. */
  static async start(role: HostedRole, config: SigillumConfig, lock: SharedArrayBuffer | undefined): Promise<RoleThread> {
    const env = { ...config.env, ROLES: role, ROLE_THREADS: '', ROLE_URLS: '', PORT: '0', HOST: '127.0.0.1', HTTPS_PORT: '', SQLITE_FILE: config.sqliteFile };
    const data: RoleThreadData = { role, env, ...(lock && { shared: { file: config.sqliteFile, lock } }) };
    const thread = new RoleThread(role, data, new Logger(`RoleThread(${role})`));
    await thread.launch();
    return thread;
  }

  /** Asks the thread to stop (its consumers finish, its checkpoints are written); terminates it after 15 s. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const worker = this.worker;
      if (!worker) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage({ type: 'stop' } satisfies ToRoleThread);
      const timer = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    })();
    return this.stopping;
  }

  /** Ends the thread at once, as a crash would (what it held is redelivered to the thread started in its place). */
  async crash(): Promise<void> {
    await this.worker?.terminate();
  }

  private launch(): Promise<void> {
    const entry = path.join(__dirname, `role-thread-worker${path.extname(__filename)}`);
    const worker = startSourceWorker(entry, 'runRoleThread', this.data, { env: { ...this.data.env } });
    this.worker = worker;
    const threadId = worker.threadId;
    return new Promise<void>((resolve, reject) => {
      let listening = false;
      const timer = setTimeout(() => {
        reject(new Error(`the ${this.role} thread did not listen within ${START_TIMEOUT_MS / 1000} s`));
        void worker.terminate();
      }, START_TIMEOUT_MS);
      worker.on('message', (message: FromRoleThread) => {
        if (message.type === 'listening') {
          listening = true;
          clearTimeout(timer);
          this.urls.splice(0, this.urls.length, message.url);
          this.log.log(`${this.role} runs on a worker thread of its own, its routes at ${message.url}`);
          resolve();
        } else if (message.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`the ${this.role} thread could not start: ${message.message}`));
        }
      });
      worker.on('error', (error) => this.log.error(`The ${this.role} thread failed: ${error.message}`));
      worker.on('exit', (code) => {
        clearTimeout(timer);
        if (this.data.shared) ThreadWriteLock.forFile(this.data.shared.file).releaseHeldBy(threadId); // never leave the others waiting
        const current = this.worker === worker;
        if (current) this.worker = undefined; // stop() then has nothing to wait for
        if (!listening) return reject(new Error(`the ${this.role} thread stopped (exit code ${code}) before it listened`));
        if (this.stopping || !current) return;
        this.urls.splice(0, this.urls.length);
        this.restart(code);
      });
    });
  }

  /** After an unexpected stop: started again at once, then with a growing delay (up to 30 s) while it keeps stopping. */
  private restart(code: number): void {
    const delayMs = Math.min(30_000, this.restarts === 0 ? 0 : 1_000 * 2 ** Math.min(this.restarts, 5));
    this.restarts++;
    this.log.error(`The ${this.role} thread stopped (exit code ${code}); starting it again in ${delayMs} ms (restart ${this.restarts})`);
    setTimeout(() => {
      if (this.stopping) return;
      this.launch().catch((error: Error) => {
        this.log.error(`${error.message}; trying again`);
        if (!this.stopping && this.urls.length === 0) this.restart(1);
      });
    }, delayMs).unref();
  }
}

/** The roles of ROLE_THREADS, each started on its thread (in turn: their first start writes keys and streams). */
export async function startRoleThreads(config: SigillumConfig): Promise<RoleThread[]> {
  const roles = config.roleThreads.filter((role): role is HostedRole => role !== 'gateway');
  if (roles.length === 0) return [];
  const lock = config.eventStore.kind === 'sqlite' ? shareFileWithThreads(config.sqliteFile) : undefined;
  const threads: RoleThread[] = [];
  try {
    for (const role of roles) threads.push(await RoleThread.start(role, config, lock));
  } catch (error) {
    await Promise.all(threads.map((thread) => thread.stop()));
    throw error;
  }
  return threads;
}
