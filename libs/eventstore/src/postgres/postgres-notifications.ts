import { EventEmitter } from 'node:events';
import type { Pool, PoolClient } from 'pg';

/**
 * The store's wake-ups: one LISTEN connection on the store's channel while someone subscribes, opened again
 * after `reconnectMs` when lost, and a counter bumped on every notification (and on reconnection), so a poller
 * can tell it missed one while busy. Without LISTEN (or while it is down) subscriptions fall back to polling.
 */
export class PostgresNotifications {
  private count = 0;
  private readonly wakes = new EventEmitter().setMaxListeners(0);
  private listener: PoolClient | undefined;
  private listenerStarting = false;
  private listenerRetry: NodeJS.Timeout | undefined;
  private listenerPid: number | undefined;

  /** `wanted`: whether a LISTEN connection should be up now (listening enabled, store open, someone subscribed). */
  constructor(
    private readonly pool: Pool,
    private readonly channel: string,
    private readonly ready: () => Promise<void>,
    private readonly reconnectMs: number,
    private readonly wanted: () => boolean,
  ) {}

  get wakeCount(): number {
    return this.count;
  }

  /** Backend pid of the LISTEN connection, while it is up. */
  get listenerProcessId(): number | undefined {
    return this.listener ? this.listenerPid : undefined;
  }

  /** Resolves on a notification, after `ms`, or on stop. */
  nextWake(signal: AbortSignal, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakes.off('wake', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakes.on('wake', done);
      signal.addEventListener('abort', done);
    });
  }

  private wake(): void {
    this.count++;
    this.wakes.emit('wake');
  }

  /** Opens the LISTEN connection unless it is up, opening, or not wanted. */
  start(): void {
    if (!this.wanted() || this.listener || this.listenerStarting) return;
    clearTimeout(this.listenerRetry);
    this.listenerRetry = undefined;
    this.listenerStarting = true;
    void (async () => {
      let client: PoolClient | undefined;
      try {
        await this.ready();
        client = await this.pool.connect();
        const connection = client;
        let lost = false;
        const onLost = (error?: Error) => {
          if (lost) return;
          lost = true;
          connection.removeListener('notification', onNotification);
          if (this.listener === connection) this.listener = undefined;
          connection.release(error ?? new Error('LISTEN connection ended'));
          this.scheduleListener();
        };
        const onNotification = () => this.wake();
        connection.on('error', (error) => onLost(error));
        connection.on('end', () => onLost());
        connection.on('notification', onNotification);
        await connection.query(`LISTEN "${this.channel}"`);
        const { rows } = await connection.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        if (lost) return;
        if (!this.wanted()) {
          lost = true;
          connection.removeListener('notification', onNotification);
          await connection.query(`UNLISTEN "${this.channel}"`).catch(() => undefined);
          connection.release();
          return;
        }
        this.listenerPid = rows[0].pid;
        this.listener = connection;
        this.wake(); // anything committed while no one listened
      } catch {
        client?.release(true);
        this.scheduleListener();
      } finally {
        this.listenerStarting = false;
      }
    })();
  }

  private scheduleListener(): void {
    if (!this.wanted() || this.listenerRetry) return;
    this.listenerRetry = setTimeout(() => {
      this.listenerRetry = undefined;
      this.start();
    }, this.reconnectMs);
    this.listenerRetry.unref();
  }

  /** Closes the LISTEN connection (and any reconnection planned). */
  stop(): void {
    clearTimeout(this.listenerRetry);
    this.listenerRetry = undefined;
    const connection = this.listener;
    if (!connection) return;
    this.listener = undefined;
    connection.removeAllListeners('notification');
    connection.removeAllListeners('end');
    connection.removeAllListeners('error');
    connection.on('error', () => undefined);
    // Destroyed rather than returned: a pooled connection must not keep listening.
    connection.release(true);
  }
}
