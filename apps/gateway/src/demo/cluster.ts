/**
 * The distributed Sigillum of scripts/cluster.sh, driven from a program (the demo with SIGILLUM_CLUSTER=1, the cluster
 * end-to-end test): start, kill -9 an instance, start it again, restart the broker, stop; the gateway as the one HTTP
 * address; the shared PostgreSQL store read to see what happened. Nothing here reaches into a role: what an operator
 * and a client see.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Pool } from 'pg';
import type { RecordedEvent } from '@sigillum/contracts';
import { PostgresEventStore } from '@sigillum/eventstore';
import type { Api } from './story';

/** The repository: the nearest directory above this file with scripts/cluster.sh (it runs from the sources, dist/ or a bench build). */
const ROOT = repositoryRoot(__dirname);

function repositoryRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'scripts', 'cluster.sh'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '../../../..');
  }
}
const run = promisify(execFile);

export const LOCAL_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Whether pg can connect to `url` now (synchronous: suites are declared synchronously). */
export function postgresAnswers(url: string): boolean {
  const probe = spawnSync(
    process.execPath,
    ['-e', "const c=new (require('pg').Client)(process.argv[1]);c.connect().then(()=>c.query('select 1')).then(()=>process.exit(0),()=>process.exit(1))", url],
    { timeout: 5_000, stdio: 'ignore' },
  );
  return probe.status === 0;
}

export interface ClusterOptions {
  readonly name: string;
  readonly dir: string;
  readonly basePort: number;
  readonly brokers: string;
  readonly databaseUrl: string;
  /** Passed to every instance (SMTP of the caller's mailbox, timers...). */
  readonly env: Record<string, string>;
}

export class Cluster {
  readonly gatewayUrl: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(readonly options: ClusterOptions) {
    this.gatewayUrl = `http://127.0.0.1:${options.basePort}`;
    this.env = {
      ...process.env,
      ...options.env,
      CLUSTER_NAME: options.name,
      CLUSTER_DIR: options.dir,
      CLUSTER_BASE_PORT: String(options.basePort),
      KAFKA_BROKERS: options.brokers,
      DATABASE_URL: options.databaseUrl,
    };
  }

  private script(...args: string[]) {
    return run('bash', [path.join(ROOT, 'scripts/cluster.sh'), ...args], { env: this.env, cwd: ROOT, timeout: 240_000, maxBuffer: 4 << 20 });
  }

  /** Starts every instance that is not running, each waited for until its /health answers 200; `progress` gets its lines. */
  async start(progress?: (line: string) => void): Promise<void> {
    try {
      const started = this.script('start');
      if (progress) started.child.stderr?.on('data', (chunk: Buffer) => chunk.toString().split('\n').filter(Boolean).forEach(progress));
      await started;
    } catch (error) {
      const { stderr } = error as { stderr?: string };
      throw new Error(`scripts/cluster.sh start failed:\n${stderr ?? (error as Error).message}`);
    }
  }

  async kill(instance: string): Promise<void> {
    await this.script('kill', instance);
  }

  async stop(): Promise<void> {
    await this.script('stop').catch(() => undefined);
  }

  async status(): Promise<string> {
    return (await this.script('status').catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }))).stdout;
  }

  logTail(instance: string, lines = 40): string {
    const file = path.join(this.options.dir, `${instance}.log`);
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : '(no log)';
  }

  adminCredential(): string {
    return fs.readFileSync(path.join(this.options.dir, 'directory', 'admin-credential'), 'utf8').trim();
  }

  /** An HTTP client of the gateway: JSON in and out; a status >= 400 throws with the body. */
  api(): Api {
    return async (method, url, body, headers = {}) => {
      const answer = await fetch(`${this.gatewayUrl}${url}`, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await answer.text();
      const json = text ? JSON.parse(text) : undefined;
      if (answer.status >= 400) throw new Error(`${method} ${url} answered ${answer.status}: ${text.slice(0, 500)}`);
      return json;
    };
  }

  /** Reads the shared event store, as an auditor with database access would. */
  async readAll(): Promise<RecordedEvent[]> {
    const store = new PostgresEventStore({ connectionString: this.options.databaseUrl, schema: this.options.name, listen: false });
    try {
      return await store.readAll();
    } finally {
      await store.close();
    }
  }

  /**
   * Bytes on disk the cluster holds: its PostgreSQL schema (tables and indexes), each instance's SQLite files and
   * the archive under CLUSTER_DIR, and the Kafka partitions of its prefixed topics when the broker is the local one of
   * scripts/kafka.sh (its data directory is read; undefined otherwise).
   */
  async bytesOnDisk(): Promise<{ postgres: number; instances: number; byInstance: Record<string, number>; kafka?: number }> {
    const admin = new Pool({ connectionString: this.options.databaseUrl, max: 1 });
    let postgres = 0;
    try {
      const { rows } = await admin.query<{ bytes: string }>(
        `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::text AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind = 'r'`,
        [this.options.name],
      );
      postgres = Number(rows[0]?.bytes ?? 0);
    } finally {
      await admin.end();
    }
    const sizeOf = (target: string): number => {
      const stat = fs.statSync(target, { throwIfNoEntry: false });
      if (!stat) return 0;
      if (!stat.isDirectory()) return stat.blocks * 512; // allocated, not apparent: Kafka's index files are sparse
      return fs.readdirSync(target).reduce((sum, entry) => sum + sizeOf(path.join(target, entry)), 0);
    };
    const byInstance: Record<string, number> = {};
    for (const entry of fs.readdirSync(this.options.dir)) {
      if (entry !== 'keys' && fs.statSync(path.join(this.options.dir, entry)).isDirectory()) byInstance[entry] = sizeOf(path.join(this.options.dir, entry));
    }
    const instances = Object.values(byInstance).reduce((sum, bytes) => sum + bytes, 0);
    const kafkaData = path.join(process.env.KAFKA_STATE_DIR?.trim() || path.join(ROOT, '.kafka', 'state'), 'data');
    const kafka = fs.existsSync(kafkaData)
      ? fs
          .readdirSync(kafkaData)
          .filter((entry) => entry.startsWith(`${this.options.name}.`))
          .reduce((sum, entry) => sum + sizeOf(path.join(kafkaData, entry)), 0)
      : undefined;
    return { postgres, instances, byInstance, kafka };
  }

  /** Drops the cluster's PostgreSQL schema (the test's own). */
  async dropSchema(): Promise<void> {
    const admin = new Pool({ connectionString: this.options.databaseUrl, max: 1 });
    await admin.query(`DROP SCHEMA IF EXISTS "${this.options.name}" CASCADE`).finally(() => admin.end());
  }
}

/** Restarts the broker of scripts/kafka.sh (the one this run started); undefined when it does not manage `brokers`. */
export async function restartableBroker(brokers: string): Promise<{ restart: () => Promise<void> } | undefined> {
  const script = path.join(ROOT, 'scripts/kafka.sh');
  const status = await run('bash', [script, 'status'], { cwd: ROOT, timeout: 30_000 }).catch(() => undefined);
  const port = brokers.split(',')[0]?.split(':')[1];
  if (!status || !port || !status.stdout.includes(`:${port}`)) return undefined;
  return {
    restart: async () => {
      await run('bash', [script, 'stop'], { cwd: ROOT, timeout: 120_000 });
      await run('bash', [script, 'start'], { cwd: ROOT, timeout: 180_000 });
    },
  };
}
