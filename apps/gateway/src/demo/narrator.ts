/**
 * What both demos share: the run itself (a throw-away data directory, a loopback SMTP mailbox, the whole app in this
 * process — embedded, or on Kafka when KAFKA_BROKERS is set), a narrator printing each step with the events it
 * recorded, and a small HTTP client (anonymous; ./staff.ts makes staff actors of it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { LoopbackMailbox } from '@sigillum/channels';
import { ConfigError, loadConfig, type SigillumConfig } from '@sigillum/config';
import { EVENT_STORE, type EventStore, PostgresEventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { rolesFor } from '../roles';
import { Cluster, LOCAL_DATABASE_URL } from './cluster';
import { STAFF_SUBJECTS, type StaffActors, staffActors } from './staff';
import type { Api } from './story';

export const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
export const dim = (text: string) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[0m` : text);

export class Narrator {
  private step = 0;
  private position = -1n;

  constructor(private readonly store: EventStore) {}

  async skipHistory(): Promise<void> {
    const all = await this.store.readAll();
    if (all.length) this.position = all[all.length - 1].globalPosition;
  }

  title(text: string): void {
    this.step += 1;
    process.stdout.write(`\n${bold(`${this.step}. ${text}`)}\n`);
  }

  say(text: string): void {
    process.stdout.write(`   ${text}\n`);
  }

  /** Prints the events recorded since the last call, waiting briefly for the roles that react asynchronously. */
  async events(settleMs = 300): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const fresh = (await this.store.readAll()).filter((e) => e.globalPosition > this.position);
    for (const recorded of fresh) {
      this.position = recorded.globalPosition;
      process.stdout.write(`   ${dim('event')} ${recorded.streamId.padEnd(48)} ${bold(recorded.event.type)} ${dim(summary(recorded.event.data))}\n`);
    }
  }
}

/** A one-line view of an event's data without long values (verifiers, PEMs). */
export function summary(data: unknown): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries((data ?? {}) as Record<string, unknown>)) {
    if (/Pem$|verifier|Digest$|fingerprint|signature|jws|proof|^record$|^note$|Token$/i.test(key)) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      if (/Id$/.test(key) && typeof value === 'string' && value.length > 12) continue;
      parts.push(`${key}=${String(value).slice(0, 40)}`);
    } else if (key === 'verdicts' && Array.isArray(value)) {
      parts.push(`verdicts=[${value.map((v: { subjectRole: string; levelHeld: string | null }) => `${v.subjectRole}:${v.levelHeld ?? 'none'}`).join(' ')}]`);
    } else if (key === 'token' && value && typeof value === 'object') {
      const token = value as { step?: string; attempt?: number; operatorId?: string };
      parts.push(`step=${token.step} attempt=${token.attempt}`);
    } else if (key === 'report' && value && typeof value === 'object') {
      parts.push(`step=${(value as { step?: string }).step}`);
    } else if (key === 'roles' && Array.isArray(value)) {
      parts.push(`roles=${value.join(',')}`);
    } else if (key === 'channel' && value && typeof value === 'object') {
      parts.push(`channel=${(value as { maskedAddress?: string }).maskedAddress ?? ''}`);
    }
  }
  return parts.join(' ');
}

export async function call(base: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : {};
  if (response.status >= 400) {
    throw new Error(`${method} ${url} answered ${response.status}: ${text}`);
  }
  return json;
}

export interface DemoContext {
  readonly config: SigillumConfig;
  /** The data directory, where the directory wrote the first-start admin credential (admin-credential, 0600). */
  readonly dataDir: string;
  readonly base: string;
  /** An anonymous client: what a party's software is before its session opens. Staff actors: see ./staff.ts. */
  readonly api: Api;
  readonly mailbox: LoopbackMailbox;
  readonly narrator: Narrator;
}

/**
 * The first step of each demo: the operator's admin takes the credential the directory wrote at the first start
 * (`<DATA_DIR>/admin-credential`, 0600) and issues one to each member of the staff; everyone acts as themselves from
 * then on.
 */
export async function staffOf({ api, dataDir, narrator }: DemoContext): Promise<StaffActors> {
  const file = path.join(dataDir, 'admin-credential');
  narrator.title("The admin takes the first-start credential and issues credentials to the operator's staff");
  narrator.say(`the directory wrote it at the first start to ${file} (mode 0${(fs.statSync(file).mode & 0o777).toString(8)})`);
  const staff = await staffActors(api, dataDir);
  narrator.say(
    `${STAFF_SUBJECTS.registrar} (registrar) enrols and certifies parties; ${STAFF_SUBJECTS.ops} (ops) runs the platform; ${STAFF_SUBJECTS.auditor} (auditor) reads evidence and audit trails`,
  );
  narrator.say('each calls with its own "Authorization: Bearer <token>"; the tokens are shown once, and only their digests are recorded');
  await narrator.events();
  return staff;
}

/**
 * Runs one demo: boots the app on a fresh data directory with a loopback mailbox, prints the title and the set-up,
 * hands over to `story`, says "Done.", cleans up, and exits 0 — or 1 with what to do next.
 */
export function runDemo(options: { title: string; env?: Record<string, string>; story: (demo: DemoContext) => Promise<void> }): void {
  const run =
    process.env.SIGILLUM_CLUSTER?.trim() === '1'
      ? () => runThroughCluster(options)
      : async () => {
          const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-demo-'));
          const mailbox = await new LoopbackMailbox().start();
          const kafka = process.env.KAFKA_BROKERS?.trim();
          let app: INestApplication | undefined;
          try {
            const config = loadConfig({
              ...process.env,
              ...mailbox.env(),
              ...(kafka ? { EVENT_BUS: 'kafka' } : {}),
              DATA_DIR: dataDir,
              PORT: '0',
              HOST: '127.0.0.1',
              LOG_LEVEL: 'warn',
              KEYSTORE_PASSPHRASE: process.env.KEYSTORE_PASSPHRASE ?? 'demo passphrase for a throw-away data directory',
              ...options.env,
            });
            app = await createSigillumApp(config, rolesFor(config.roles));
            await app.startAllMicroservices();
            await app.listen(0, '127.0.0.1');
            const base = await app.getUrl();
            const narrator = new Narrator(app.get<EventStore>(EVENT_STORE));
            process.stdout.write(
              `${bold(options.title)}\n` +
                `   bus ${config.eventBus.kind}${kafka ? ` (${kafka})` : ''}, store ${config.eventStore.kind}, data in ${dataDir}\n` +
                `   the users' mailboxes are a local SMTP server on 127.0.0.1:${mailbox.port}\n`,
            );
            await narrator.events(500); // the CA and the level policy are established at first start
            await narrator.skipHistory();
            const api: Api = (method, url, body, headers) => call(base, method, url, body, headers);
            await options.story({ config, dataDir, base, api, mailbox, narrator });
            process.stdout.write(
              `\n${bold('Done.')} Every step above is an event in ${config.eventStore.kind}; none carries a code, a credential or a private key.\n`,
            );
          } finally {
            await app?.close();
            await mailbox.stop();
            fs.rmSync(dataDir, { recursive: true, force: true });
          }
        };
  run().then(
    () => process.exit(0),
    (error: unknown) => {
      if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
      else
        process.stderr.write(
          `\nThe demo stopped: ${(error as Error).message}\nIf it mentions Kafka, start a broker with \`bash scripts/kafka.sh start\` or unset KAFKA_BROKERS.\n`,
        );
      process.exit(1);
    },
  );
}

/**
 * SIGILLUM_CLUSTER=1: the same story through the distributed mode of scripts/cluster.sh, started for the demo (Kafka
 * from KAFKA_BROKERS or scripts/kafka.sh, PostgreSQL from DATABASE_URL or the local one; every role in its own
 * process and a second processor) and stopped after it. Every call goes to the gateway, the one address.
 */
async function runThroughCluster(options: { title: string; env?: Record<string, string>; story: (demo: DemoContext) => Promise<void> }): Promise<void> {
  const name = `demo${Date.now().toString(36)}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-demo-cluster-'));
  const mailbox = await new LoopbackMailbox().start();
  const brokers = process.env.KAFKA_BROKERS?.trim() || '127.0.0.1:9092';
  const databaseUrl = process.env.DATABASE_URL?.trim() || LOCAL_DATABASE_URL;
  const cluster = new Cluster({
    name,
    dir,
    basePort: Number(process.env.CLUSTER_BASE_PORT ?? 3100),
    brokers,
    databaseUrl,
    env: { ...mailbox.env(), LOG_LEVEL: 'warn', ...options.env },
  });
  const store = new PostgresEventStore({ connectionString: databaseUrl, schema: name, listen: false });
  try {
    process.stdout.write(
      `${bold(options.title)}\n   distributed: starting scripts/cluster.sh (Kafka ${brokers}, PostgreSQL schema ${name}, state in ${dir})\n`,
    );
    await cluster.start((line) => process.stdout.write(`   ${dim(line)}\n`));
    process.stdout.write(
      `   every call below goes to the gateway ${cluster.gatewayUrl}; the users' mailboxes are a local SMTP server on 127.0.0.1:${mailbox.port}\n`,
    );
    const config = loadConfig({ ...process.env, EVENT_STORE: 'postgres', DATABASE_URL: databaseUrl, PG_SCHEMA: name, KAFKA_BROKERS: brokers, DATA_DIR: dir });
    const narrator = new Narrator(store);
    await narrator.events(500);
    await narrator.skipHistory();
    const base = cluster.gatewayUrl;
    const api: Api = (method, url, body, headers) => call(base, method, url, body, headers);
    await options.story({ config, dataDir: path.join(dir, 'directory'), base, api, mailbox, narrator });
    process.stdout.write(
      `\n${bold('Done.')} Every step above is an event in the shared PostgreSQL store (schema ${name}), relayed to Kafka by the role that wrote it.\n`,
    );
    process.stdout.write(
      `${(await cluster.status())
        .trimEnd()
        .split('\n')
        .map((line) => `   ${dim(line)}`)
        .join('\n')}\n`,
    );
  } finally {
    await store.close();
    if (process.env.SIGILLUM_CLUSTER_KEEP?.trim() === '1') {
      process.stdout.write(`   the cluster keeps running (SIGILLUM_CLUSTER_KEEP=1): CLUSTER_NAME=${name} CLUSTER_DIR=${dir} bash scripts/cluster.sh stop\n`);
    } else {
      await cluster.stop();
      await cluster.dropSchema().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    await mailbox.stop();
  }
}
