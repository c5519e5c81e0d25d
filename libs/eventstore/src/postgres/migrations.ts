import type { Pool, PoolClient } from 'pg';

/**
 * Bits of a global position below the transaction id: `global_position = (transaction_id << 20) + index`, the index
 * being the event's 1-based place in its append. So global order is (transaction id, place in the append).
 */
export const POSITION_SHIFT = 20n;
/** Events one append may carry (the index must fit below the transaction id). */
export const MAX_EVENTS_PER_APPEND = Number((1n << POSITION_SHIFT) - 1n);

/** Advisory lock class (the two-int key space) of schema migrations; stream locks use {@link STREAM_LOCK_CLASS}. */
export const MIGRATION_LOCK_CLASS = 0x5369_6701;
export const STREAM_LOCK_CLASS = 0x5369_6702;
/** Advisory lock class of relay leases (pg_try_advisory_lock(class, hashtext(schema:relay))). */
export const RELAY_LOCK_CLASS = 0x5369_6703;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

/** Checks a schema name (PG_SCHEMA) before it is put in SQL text; returns it quoted. */
export function quotedSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(
      `Invalid PostgreSQL schema name ${JSON.stringify(schema)} (PG_SCHEMA): use 1-48 lower-case letters, digits and ` +
        'underscores, not starting with a digit, e.g. "sigillum".',
    );
  }
  return `"${schema}"`;
}

interface Migration {
  readonly version: number;
  readonly name: string;
  /** SQL with `$schema` standing for the quoted schema name. */
  readonly sql: string;
}

/** Append-only: never edit a released migration, add the next one. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events',
    sql: `
      CREATE TABLE $schema.events (
        global_position bigint      PRIMARY KEY,
        transaction_id  xid8        NOT NULL,
        stream_id       text        NOT NULL,
        stream_revision bigint      NOT NULL,
        category        text        NOT NULL,
        event_id        uuid        NOT NULL UNIQUE,
        event_type      text        NOT NULL,
        event_version   integer     NOT NULL,
        data            json        NOT NULL,
        metadata        json        NOT NULL,
        recorded_at     timestamptz NOT NULL DEFAULT now(),
        UNIQUE (stream_id, stream_revision),
        CHECK (global_position >> ${POSITION_SHIFT} = transaction_id::text::bigint)
      );
      CREATE INDEX events_by_category ON $schema.events (category, global_position);
    `,
  },
  {
    version: 2,
    name: 'relay checkpoints',
    // One row per relay (a role's categories): shared by that role's instances, written only by the lease holder.
    sql: `
      CREATE TABLE $schema.relay_checkpoints (
        name       text        PRIMARY KEY,
        position   text        NOT NULL,
        holder     text        NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings `schema` to the current version: each pending migration in its own transaction, recorded in
 * `schema_migrations`. A session advisory lock per schema makes processes that start together take turns
 * (the second finds the work done). Refuses a schema written by a newer release.
 */
export async function migratePostgresSchema(pool: Pool, schema: string): Promise<{ applied: number[] }> {
  const quoted = quotedSchema(schema);
  const client = await pool.connect();
  const applied: number[] = [];
  let locked = false;
  try {
    await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, schema]);
    locked = true;
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quoted}.schema_migrations (
         version    integer     PRIMARY KEY,
         name       text        NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${quoted}.schema_migrations`);
    const current = rows[0]?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new Error(
        `PostgreSQL schema "${schema}" has event store schema version ${current}, but this build knows only up to ` +
          `${MIGRATIONS.length}. Upgrade Sigillum, or point PG_SCHEMA at another schema.`,
      );
    }
    for (const migration of MIGRATIONS.filter((candidate) => candidate.version > current)) {
      await inTransaction(client, async () => {
        await client.query(migration.sql.replaceAll('$schema', quoted));
        await client.query(`INSERT INTO ${quoted}.schema_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      });
      applied.push(migration.version);
    }
    return { applied };
  } finally {
    if (locked) await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, schema]).catch(() => undefined);
    client.release();
  }
}

async function inTransaction(client: PoolClient, work: () => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await work();
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
