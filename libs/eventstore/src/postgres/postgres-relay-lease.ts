import { Client, Pool } from 'pg';
import type { RelayLease } from '../relay-lease.port';
import { migratePostgresSchema, quotedSchema, RELAY_LOCK_CLASS } from './migrations';

export interface PostgresRelayLeaseOptions {
  readonly connectionString: string;
  readonly schema: string;
  /** The relay's name: the same for every instance of a role (e.g. `relay:job`), different between roles. */
  readonly name: string;
  /** Who holds it, recorded beside the checkpoint (INSTANCE_ID). */
  readonly holder: string;
  /** How often a standing-by instance tries to take the lease; default 1000 ms. */
  readonly retryMs?: number;
}

/**
 * A relay lease in PostgreSQL: a session advisory lock held on a connection of its own (released by the server the
 * moment that connection or its process dies, so a standing-by instance takes over within `retryMs`), and the
 * checkpoint in `<schema>.relay_checkpoints`, written only while the lock is held. A holder that lost its
 * connection stops publishing (onLost); a batch it published just before is published again by the next holder
 * (at least once, as after any crash).
 */
export class PostgresRelayLease implements RelayLease {
  readonly description: string;
  private client?: Client;
  private held = false;
  private migrated = false;
  private readonly table: string;

  constructor(private readonly options: PostgresRelayLeaseOptions) {
    this.table = `${quotedSchema(options.schema)}.relay_checkpoints`;
    this.description = `relay lease "${options.name}" in PostgreSQL schema ${options.schema}`;
  }

  async acquire(signal: AbortSignal, onLost: (reason: Error) => void): Promise<void> {
    const retryMs = this.options.retryMs ?? 1_000;
    for (;;) {
      signal.throwIfAborted();
      try {
        if (await this.tryOnce(onLost)) return;
      } catch {
        await this.drop(); // unreachable server: try again later, as when another instance holds the lease
      }
      await new Promise<void>((resolve) => {
        const onAbort = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort); // a standby waits for hours: one listener at a time
          resolve();
        }, retryMs);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  private async tryOnce(onLost: (reason: Error) => void): Promise<boolean> {
    if (!this.client) {
      const client = new Client({ connectionString: this.options.connectionString, connectionTimeoutMillis: 5_000, application_name: `sigillum-relay-lease` });
      client.on('error', () => undefined); // reported through 'end' below
      await client.connect();
      this.client = client;
      if (!this.migrated) {
        // The checkpoint table comes with the store's schema (migration 2); the store of this process may not be ready yet.
        const pool = new Pool({ connectionString: this.options.connectionString, max: 1, connectionTimeoutMillis: 5_000 });
        pool.on('error', () => undefined);
        try {
          await migratePostgresSchema(pool, this.options.schema);
          this.migrated = true;
        } finally {
          await pool.end().catch(() => undefined);
        }
      }
    }
    const { rows } = await this.client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [
      RELAY_LOCK_CLASS,
      `${this.options.schema}:${this.options.name}`,
    ]);
    if (!rows[0]?.locked) return false;
    this.held = true;
    const client = this.client;
    client.once('end', () => {
      if (this.client !== client || !this.held) return;
      this.held = false;
      this.client = undefined;
      onLost(new Error(`the connection holding ${this.description} ended`));
    });
    return true;
  }

  async readCheckpoint(): Promise<bigint | undefined> {
    const client = this.heldClient('read the checkpoint');
    const { rows } = await client.query<{ position: string }>(`SELECT position FROM ${this.table} WHERE name = $1`, [this.options.name]);
    return rows[0] ? BigInt(rows[0].position) : undefined;
  }

  async saveCheckpoint(position: bigint): Promise<void> {
    const client = this.heldClient('save the checkpoint');
    await client.query(
      `INSERT INTO ${this.table} (name, position, holder) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET position = excluded.position, holder = excluded.holder, updated_at = now()`,
      [this.options.name, position.toString(), this.options.holder],
    );
  }

  async release(): Promise<void> {
    this.held = false;
    await this.drop();
  }

  private heldClient(what: string): Client {
    if (!this.held || !this.client) throw new Error(`Cannot ${what}: ${this.description} is not held by this process`);
    return this.client;
  }

  private async drop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined); // ending the connection releases the advisory lock
  }
}
