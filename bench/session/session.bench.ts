/*
 * Opening a strongly authenticated session (claim 1), end to end through every role, in one process.
 *
 *   npm run bench:session                                              # embedded bus (the default)
 *   KAFKA_BROKERS=127.0.0.1:9092 npm run bench:session   # KAFKA_BROKERS implies EVENT_BUS=kafka (bash scripts/kafka.sh start)
 *
 * Target (issue): p99 <= 10 ms per opening in embedded mode, out-of-band transport excluded, and thousands
 * of openings per second on 2 cores.
 *
 * What it does: boots the whole app in-process (createSigillumApp, as `npm start` does) with the file
 * transport for e-mail codes (OOB_EMAIL_TRANSPORT=file, written to tmpfs when /dev/shm exists); as the operator's
 * staff (the first-start admin credential under DATA_DIR, and a registrar credential it issues) registers and
 * certifies a processing operator, BENCH_USERS users with a verified e-mail channel and as many counterparts
 * (setup, not timed); then, as the users' clients do, anonymously (opening a session is how a party authenticates),
 * measures:
 *   (a) latency, BENCH_SESSIONS openings one after the other, split into
 *       request = POST /sessions until it answers 201 "challenged" (trust check, secret issue, event hops),
 *       code    = POST /sessions/:id/code until 200 "open";
 *       the time between the two (the code travelling over the file channel, then read back) is left out
 *       and reported on its own, as is the time the file transport's send() took inside the certifier;
 *   (b) throughput, BENCH_SESSIONS openings with BENCH_CONCURRENCY of them in flight.
 * In the same run, the floors it compares with: a bare node:http server answering the same client (the HTTP
 * floor), GET /health of the app (Nest + express), and raw better-sqlite3 inserts of the very events an
 * opening writes, one transaction each as the product commits them (the storage floor).
 *
 * Environment: BENCH_SESSIONS (default 2000), BENCH_CONCURRENCY (32), BENCH_USERS (users, and as many
 * counterparts; default 50), BENCH_WARMUP (openings before measuring, default 200), SQLITE_SYNCHRONOUS
 * (NORMAL | FULL), BENCH_KAFKA=1 with KAFKA_BROKERS, BENCH_PHASE_TIMEOUT_S (default 300), TMPDIR (SQLite files),
 * BENCH_OUTBOX_DIR (where the file transport writes; default /dev/shm/… when it exists, else TMPDIR).
 * The domicile's abuse limits are lifted unless set in the environment (SESSION_CODES_PER_USER_PER_HOUR=10000,
 * SESSION_REQUESTS_PER_ADDRESS_PER_HOUR=0): one client address opens thousands of sessions for BENCH_USERS users.
 *
 * A benchmark, not a test: it asserts nothing about timings. Progress goes to stderr, the table to stdout.
 */
import '../bus/preflight';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { INestApplication } from '@nestjs/common';
import { OUT_OF_BAND_SENDER, type OutOfBandMessage, type OutOfBandReceipt, type OutOfBandSender } from '@sigillum/channels';
import { loadConfig, type SigillumConfig } from '@sigillum/config';
import type { RecordedEvent } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import Database from 'better-sqlite3';
import { rolesFor } from '../../apps/gateway/src/roles';
import { BenchError, Client, type Distribution, distribution, formatInt, formatRatio, ms, notes, printTable, Progress, progressLine, rows, within } from '../common/report';
import { benchStaff } from '../common/staff';


// ---------------------------------------------------------------- settings

interface Settings {
  readonly sessions: number;
  readonly concurrency: number;
  readonly users: number;
  readonly warmup: number;
  readonly synchronous: 'NORMAL' | 'FULL';
  readonly brokers?: string;
  readonly phaseTimeoutMs: number;
  readonly outboxRoot: string;
  /** The domicile's abuse limits for this run (as variables), lifted unless set. */
  readonly sessionLimits: { readonly SESSION_CODES_PER_USER_PER_HOUR: string; readonly SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: string };
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const problems: string[] = [];
  const integer = (name: string, fallback: number, min: number, example: string): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw.replace(/_/g, ''));
    if (!Number.isSafeInteger(value) || value < min) {
      problems.push(`${name}=${JSON.stringify(raw)} must be an integer >= ${min}, e.g. ${name}=${example}`);
      return fallback;
    }
    return value;
  };
  const sessions = integer('BENCH_SESSIONS', 2_000, 10, '2000');
  const concurrency = integer('BENCH_CONCURRENCY', 32, 1, '32');
  const users = integer('BENCH_USERS', 50, 1, '50');
  const warmup = integer('BENCH_WARMUP', 200, 0, '200');
  const phaseTimeoutS = integer('BENCH_PHASE_TIMEOUT_S', 300, 1, '300');
  const synchronous = (env.SQLITE_SYNCHRONOUS?.trim() || 'NORMAL').toUpperCase();
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
    problems.push(`SQLITE_SYNCHRONOUS=${JSON.stringify(env.SQLITE_SYNCHRONOUS)} must be NORMAL or FULL (as for the apps)`);
  }
  // The apps' rule: KAFKA_BROKERS implies the Kafka bus (BENCH_KAFKA=1 only insists on it).
  const brokers = env.KAFKA_BROKERS?.trim() || undefined;
  if (env.BENCH_KAFKA?.trim() === '1' && !brokers) {
    problems.push('BENCH_KAFKA=1 needs KAFKA_BROKERS, e.g. KAFKA_BROKERS=127.0.0.1:9092 (bash scripts/kafka.sh start)');
  }
  const shm = '/dev/shm';
  const outboxRoot = env.BENCH_OUTBOX_DIR?.trim() || (isWritableDir(shm) ? shm : os.tmpdir());
  if (problems.length > 0) throw new BenchError(`Invalid settings:\n  - ${problems.join('\n  - ')}\nFix them and run again.`);
  // One client address opening thousands of sessions for BENCH_USERS users is the load, not an abuse.
  const sessionLimits = {
    SESSION_CODES_PER_USER_PER_HOUR: env.SESSION_CODES_PER_USER_PER_HOUR?.trim() || '10000',
    SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: env.SESSION_REQUESTS_PER_ADDRESS_PER_HOUR?.trim() || '0',
  };
  return { sessions, concurrency, users, warmup, synchronous: synchronous as Settings['synchronous'], brokers, phaseTimeoutMs: phaseTimeoutS * 1000, outboxRoot, sessionLimits };
}

function isWritableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- the out-of-band file channel, observed

interface Delivery {
  readonly file: string;
  /** How long the file transport's send() took (rendering, mkdir, open, chmod, write, close). */
  readonly sendMs: number;
}

/**
 * Wraps the app's OutOfBandSender (the real RoutingOutOfBandSender → FileSender): every send still goes
 * through the product's code and writes its file; the wrapper only notes which file answered which
 * reference (session id or channel id) and how long the send took, so the bench finds the code at once
 * instead of scanning the directory.
 */
class OutboxWatch {
  private readonly waiting = new Map<string, { resolve: (d: Delivery) => void; reject: (e: Error) => void }>();
  private readonly arrived = new Map<string, Delivery | Error>();

  constructor(sender: OutOfBandSender) {
    const original = sender.send.bind(sender);
    sender.send = async (message: OutOfBandMessage): Promise<OutOfBandReceipt> => {
      const started = performance.now();
      try {
        const receipt = await original(message);
        this.settle(message.reference, { file: receipt.transportReference ?? '', sendMs: performance.now() - started });
        return receipt;
      } catch (error) {
        this.settle(message.reference, error as Error);
        throw error;
      }
    };
  }

  private settle(reference: string, outcome: Delivery | Error): void {
    const waiter = this.waiting.get(reference);
    if (!waiter) {
      this.arrived.set(reference, outcome);
      return;
    }
    this.waiting.delete(reference);
    if (outcome instanceof Error) waiter.reject(outcome);
    else waiter.resolve(outcome);
  }

  /** The delivery for `reference`, now or when it happens. */
  delivery(reference: string, timeoutMs = 10_000): Promise<Delivery> {
    const done = this.arrived.get(reference);
    if (done !== undefined) {
      this.arrived.delete(reference);
      return done instanceof Error ? Promise.reject(done) : Promise.resolve(done);
    }
    const pending = new Promise<Delivery>((resolve, reject) => this.waiting.set(reference, { resolve, reject }));
    return within(pending, timeoutMs, () => `No out-of-band message for ${reference} within ${timeoutMs / 1000} s: did the certifier fail? Look above for its warnings.`);
  }

  /** Reads the code from the file the transport wrote, checking that the file names the reference. */
  async code(reference: string): Promise<{ code: string; delivery: Delivery }> {
    const delivery = await this.delivery(reference);
    const text = fs.readFileSync(delivery.file, 'utf8');
    const match = /^ {4}([0-9A-Za-z]{4,16})$/m.exec(text);
    if (!match || !text.includes(reference)) throw new BenchError(`The out-of-band file ${delivery.file} does not hold a code for ${reference}`);
    return { code: match[1], delivery };
  }
}

// ---------------------------------------------------------------- the scene

interface Scene {
  readonly users: string[];
  readonly counterparts: string[];
}

const YEAR_MS = 365 * 24 * 3600 * 1000;
const EVIDENCE = { method: 'in-person-id-check', reference: 'bench-file', verifiedBy: 'bench-officer' };

/** The operator's staff enrol (admin: the operator; registrar: everyone's enrolment and certification). */
async function setUp(client: Client, dataDir: string, outbox: OutboxWatch, settings: Settings): Promise<Scene> {
  const { admin, registrar } = await benchStaff(client, dataDir);
  const validUntil = new Date(Date.now() + YEAR_MS).toISOString();
  const certify = (partyId: string, name: string) =>
    client.expect(201, 'POST', `/parties/${partyId}/certifications`, { name, level: 'substantial', validUntil, evidence: EVIDENCE }, registrar);

  const operator = (await client.expect(201, 'POST', '/parties', { kind: 'operator', operatorRole: 'processing', displayName: 'Bench Processing' }, admin)).partyId as string;
  await client.expect(
    200,
    'PUT',
    `/parties/${operator}/specification`,
    { version: 1, steps: ['seal', 'timestamp', 'deliver', 'archive'].map((step) => ({ step, parameters: {}, maxDurationSeconds: 600 })) },
    admin,
  );
  const { publicKey } = generateKeyPairSync('ed25519');
  await client.expect(201, 'POST', `/parties/${operator}/keys`, { algorithm: 'Ed25519', use: 'signature', publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) }, admin);
  await certify(operator, 'legalName');
  await certify(operator, 'operatorAccreditation');

  const users: string[] = [];
  const counterparts: string[] = [];
  const progress = new Progress('setup (users + counterparts)', settings.users * 2);
  for (let i = 0; i < settings.users; i++) {
    const user = (await client.expect(201, 'POST', '/parties', { kind: 'person', displayName: `Bench User ${i}` }, registrar)).partyId as string;
    await certify(user, 'legalName');
    await certify(user, 'dateOfBirth');
    const channel = await client.expect(201, 'POST', `/parties/${user}/channels`, { kind: 'email', address: `bench.user.${i}@example.org` }, registrar);
    const channelId = channel.channelId as string;
    const { code } = await outbox.code(channelId);
    await client.expect(200, 'POST', `/parties/${user}/channels/${channelId}/verification`, { code }, registrar);
    users.push(user);
    progress.update(users.length + counterparts.length);

    const counterpart = (await client.expect(201, 'POST', '/parties', { kind: 'person', displayName: `Bench Counterpart ${i}` }, registrar)).partyId as string;
    await certify(counterpart, 'legalName');
    await certify(counterpart, 'dateOfBirth');
    counterparts.push(counterpart);
    progress.update(users.length + counterparts.length);
  }
  return { users, counterparts };
}

// ---------------------------------------------------------------- one opening

interface Opening {
  readonly sessionId: string;
  /** POST /sessions until 201 challenged. */
  readonly requestMs: number;
  /** From the 201 until the code was read from the file (excluded from the opening's time). */
  readonly outOfBandMs: number;
  /** The file transport's send() inside the certifier (part of, or overlapping, the above). */
  readonly sendMs: number;
  /** POST /sessions/:id/code until 200 open. */
  readonly codeMs: number;
}

async function openOne(client: Client, outbox: OutboxWatch, userId: string, counterpartId: string): Promise<Opening> {
  const t0 = performance.now();
  const requested = await client.call('POST', '/sessions', { userId, counterpartIds: [counterpartId], correspondenceKind: 'registered' });
  const t1 = performance.now();
  const sessionId = requested.body.sessionId as string;
  if (requested.status !== 201 || requested.body.status !== 'challenged') {
    throw new BenchError(
      `POST /sessions answered ${requested.status} ${JSON.stringify(requested.body).slice(0, 400)} instead of 201 "challenged"` +
        (requested.status === 202 ? ' (the trust check took longer than SESSION_REQUEST_WAIT_MS: the app is overloaded or a role is stuck)' : ''),
    );
  }
  const { code, delivery } = await outbox.code(sessionId);
  const t2 = performance.now();
  const opened = await client.call('POST', `/sessions/${sessionId}/code`, { code });
  const t3 = performance.now();
  if (opened.status !== 200 || typeof opened.body.credential !== 'string') {
    throw new BenchError(`POST /sessions/${sessionId}/code answered ${opened.status} ${JSON.stringify(opened.body).slice(0, 400)} instead of 200 with a credential`);
  }
  return { sessionId, requestMs: t1 - t0, outOfBandMs: t2 - t1, sendMs: delivery.sendMs, codeMs: t3 - t2 };
}

// ---------------------------------------------------------------- floors

/** A bare node:http server answering a small JSON body: what any HTTP round trip over loopback costs here. */
async function bareHttpFloor(samples: number): Promise<Distribution> {
  const server = http.createServer((_request, response) => {
    const body = '{"status":"up"}';
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    response.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new Client('127.0.0.1', (server.address() as AddressInfo).port, 1);
  try {
    for (let i = 0; i < 200; i++) await client.call('GET', '/health');
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const started = performance.now();
      await client.call('GET', '/health');
      times.push(performance.now() - started);
    }
    return distribution(times);
  } finally {
    client.close();
    await new Promise((resolve) => server.close(resolve));
  }
}

async function appHealthFloor(client: Client, samples: number): Promise<Distribution> {
  for (let i = 0; i < 100; i++) await client.expect(200, 'GET', '/health');
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    const answer = await client.call('GET', '/health');
    times.push(performance.now() - started);
    if (answer.status !== 200) throw new BenchError(`GET /health answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 400)}`);
  }
  return distribution(times);
}

const RAW_EVENTS_TABLE = `CREATE TABLE raw_events (
  id INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, stream_revision INTEGER NOT NULL, event_id TEXT NOT NULL,
  event_type TEXT NOT NULL, event_version INTEGER NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL)`;

/**
 * Raw better-sqlite3: the events the openings wrote, inserted into a plain table one transaction each (the product
 * commits each append on its own), JSON.stringify included. Returns the time per opening (its events in a row).
 */
function rawAppendFloor(dir: string, synchronous: Settings['synchronous'], events: readonly RecordedEvent[], openings: number): Distribution & { total: number } {
  const db = new Database(path.join(dir, 'raw-substrate.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.exec(RAW_EVENTS_TABLE);
    const insert = db.prepare(
      'INSERT INTO raw_events (stream_id, stream_revision, event_id, event_type, event_version, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const append = db.transaction((recorded: RecordedEvent, suffix: string) => {
      insert.run(recorded.streamId, recorded.streamRevision, `${recorded.metadata.eventId}${suffix}`,
        recorded.event.type, recorded.event.version, JSON.stringify(recorded.event.data), JSON.stringify(recorded.metadata));
    });
    const perOpening = events.length / openings;
    // Warm-up pass on the same rows (distinct ids), then the measured pass, grouped as the openings wrote them.
    for (const event of events.slice(0, 500)) append.immediate(event, '-warmup');
    const times: number[] = [];
    const started = performance.now();
    for (let i = 0; i < openings; i++) {
      const from = Math.round(i * perOpening);
      const to = Math.round((i + 1) * perOpening);
      const t0 = performance.now();
      for (let k = from; k < to; k++) append.immediate(events[k], '');
      times.push(performance.now() - t0);
    }
    return { ...distribution(times), total: performance.now() - started };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------- main

function fileSystemOf(dir: string): string {
  const known: Record<number, string> = { 0xef53: 'ext4', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x01021994: 'tmpfs', 0x794c7630: 'overlayfs', 0x2fc12fc1: 'zfs' };
  try {
    const type = fs.statfsSync(dir).type;
    return known[type] ?? `fs 0x${type.toString(16)}`;
  } catch {
    return 'fs unknown';
  }
}

function printFacts(settings: Settings, config: SigillumConfig | undefined, outbox: string, eventsPerOpening: Map<string, number> | undefined): void {
  const cpus = os.cpus();
  const memory = new Database(':memory:');
  const sqliteVersion = memory.prepare('SELECT sqlite_version()').pluck().get() as string;
  memory.close();
  const facts: Array<[string, string]> = [
    ['node', `${process.version} (${process.platform} ${process.arch})`],
    ['cpus', `${cpus.length} x ${cpus[0]?.model?.trim() ?? 'unknown'}${cpus.length !== 2 ? '  (the target is stated for 2 cores: taskset -c 0,1 to match)' : ''}`],
    ['SQLite', `${sqliteVersion}, WAL, SQLITE_SYNCHRONOUS=${settings.synchronous}, files in ${os.tmpdir()} (${fileSystemOf(os.tmpdir())})`],
    ['bus', config ? `${config.eventBus.kind}${settings.brokers ? ` (${settings.brokers})` : ''}, store ${config.eventStore.kind}` : '?'],
    ['out-of-band', `OOB_EMAIL_TRANSPORT=file into ${outbox}`],
    ['abuse limits', Object.entries(settings.sessionLimits).map(([name, value]) => `${name}=${value}`).join(', ')],
    ['staff', 'set-up by the first-start admin and a registrar it issued a credential to; openings anonymous, as a party\'s client'],
    ['sessions', `${formatInt(settings.sessions)} (BENCH_SESSIONS) after ${settings.warmup} warm-up, concurrency ${settings.concurrency}, ${settings.users} users + ${settings.users} counterparts, kind "registered" (1 chain operator)`],
  ];
  if (eventsPerOpening) {
    facts.push(['events/opening', [...eventsPerOpening].map(([type, n]) => `${type} ${n % 1 === 0 ? n : n.toFixed(2)}`).join(', ')]);
  }
  const width = Math.max(...facts.map(([name]) => name.length));
  process.stdout.write(`\nSigillum session-opening benchmark (${new Date().toISOString()})\n`);
  for (const [name, value] of facts) process.stdout.write(`  ${name.padEnd(width)}  ${value}\n`);
}

async function main(): Promise<number> {
  const settings = readSettings(process.env);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-bench-session-'));
  const outboxDir = fs.mkdtempSync(path.join(settings.outboxRoot, 'sigillum-bench-outbox-'));
  const outboxFact = `${outboxDir} (${fileSystemOf(outboxDir)})`;
  const removeDirs = () => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(outboxDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    removeDirs();
    process.stderr.write(`\n[bench] interrupted; removed ${dataDir} and ${outboxDir}.\n`);
    process.exit(130);
  });

  let app: INestApplication | undefined;
  let client: Client | undefined;
  let config: SigillumConfig | undefined;
  let failure: unknown;
  let eventsPerOpening: Map<string, number> | undefined;
  try {
    config = loadConfig({
      ...process.env,
      ...(settings.brokers ? { EVENT_BUS: 'kafka', KAFKA_BROKERS: settings.brokers } : { EVENT_BUS: 'embedded' }),
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      ...settings.sessionLimits,
      OOB_EMAIL_TRANSPORT: 'file',
      OOB_FILE_DIR: outboxDir,
      SQLITE_SYNCHRONOUS: settings.synchronous,
      KEYSTORE_PASSPHRASE: 'bench passphrase for a throw-away data directory',
    });
    progressLine(`booting the app in-process (${config.eventBus.kind} bus, data in ${dataDir})`);
    const bootStarted = performance.now();
    app = await createSigillumApp(config, rolesFor(config.roles));
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    progressLine(`app up in ${((performance.now() - bootStarted) / 1000).toFixed(2)} s on 127.0.0.1:${port}`);
    const store = app.get<EventStore>(EVENT_STORE);
    const outbox = new OutboxWatch(app.get<OutOfBandSender>(OUT_OF_BAND_SENDER));
    client = new Client('127.0.0.1', port, Math.max(settings.concurrency, 1));
    const timeout = settings.phaseTimeoutMs;

    progressLine(`setup: a processing operator, ${settings.users} users (verified e-mail) and ${settings.users} counterparts, all certified "substantial"`);
    const scene = await within(setUp(client, dataDir, outbox, settings), timeout, () => `setup did not finish within ${timeout / 1000} s`);
    const pair = (i: number) => [scene.users[i % scene.users.length], scene.counterparts[(i * 7 + 3) % scene.counterparts.length]] as const;

    // Floors, measured now, in the same process and with the same client.
    progressLine('floors: bare node:http round trip, GET /health of the app');
    const bare = await bareHttpFloor(2_000);
    const health = await appHealthFloor(client, 2_000);

    if (settings.warmup > 0) {
      progressLine(`warm-up: ${settings.warmup} openings (not measured)`);
      for (let i = 0; i < settings.warmup; i++) await openOne(client, outbox, ...pair(i));
    }

    // (a) latency, one opening at a time.
    const last = await store.readAll({ after: undefined, maxCount: undefined });
    const positionBefore = last.length > 0 ? last[last.length - 1].globalPosition : undefined;
    progressLine(`latency: ${formatInt(settings.sessions)} openings, one at a time`);
    const progress = new Progress('latency', settings.sessions);
    const openings: Opening[] = [];
    const latencyStarted = performance.now();
    await within(
      (async () => {
        for (let i = 0; i < settings.sessions; i++) {
          openings.push(await openOne(client!, outbox, ...pair(i)));
          progress.update(openings.length);
        }
      })(),
      timeout,
      () => `the latency phase did only ${openings.length} of ${settings.sessions} openings within ${timeout / 1000} s`,
    );
    const latencyWall = performance.now() - latencyStarted;
    // Let the asynchronous tails (relay of SessionOpened, projections) land before counting what the openings wrote.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const written = await store.readAll({ after: positionBefore });
    const sessionsMeasured = new Set(openings.map((o) => o.sessionId));
    const ofOpenings = written.filter((recorded) => {
      const data = recorded.event.data as { sessionId?: string; subjectOf?: string };
      return sessionsMeasured.has(data.sessionId ?? data.subjectOf ?? '');
    });
    const byType = new Map<string, number>();
    for (const recorded of ofOpenings) byType.set(recorded.event.type, (byType.get(recorded.event.type) ?? 0) + 1);
    eventsPerOpening = new Map([...byType].map(([type, n]) => [type, n / openings.length]));
    if (written.length !== ofOpenings.length) {
      notes.push(`${written.length - ofOpenings.length} other event(s) were appended during the latency phase (not counted per opening).`);
    }

    const request = distribution(openings.map((o) => o.requestMs));
    const code = distribution(openings.map((o) => o.codeMs));
    const total = distribution(openings.map((o) => o.requestMs + o.codeMs));
    const outOfBand = distribution(openings.map((o) => o.outOfBandMs));
    const send = distribution(openings.map((o) => o.sendMs));

    // (b) throughput, BENCH_CONCURRENCY openings in flight.
    progressLine(`throughput: ${formatInt(settings.sessions)} openings, ${settings.concurrency} in flight`);
    const loadProgress = new Progress('throughput', settings.sessions);
    const loaded: Opening[] = [];
    let next = 0;
    const throughputStarted = performance.now();
    await within(
      Promise.all(
        Array.from({ length: settings.concurrency }, async () => {
          while (next < settings.sessions) {
            const i = next++;
            loaded.push(await openOne(client!, outbox, ...pair(settings.warmup + settings.sessions + i)));
            loadProgress.update(loaded.length);
          }
        }),
      ),
      timeout,
      () => `the throughput phase did only ${loaded.length} of ${settings.sessions} openings within ${timeout / 1000} s`,
    );
    const throughputWall = performance.now() - throughputStarted;
    const loadedTotal = distribution(loaded.map((o) => o.requestMs + o.codeMs));
    const loadedRequest = distribution(loaded.map((o) => o.requestMs));
    const loadedOutOfBand = distribution(loaded.map((o) => o.outOfBandMs));
    const loadedSendTotal = loaded.reduce((sum, o) => sum + o.sendMs, 0);

    // The storage floor: the same events, raw.
    progressLine(`raw substrate: ${formatInt(ofOpenings.length)} events of the latency phase re-inserted with raw better-sqlite3, 1 per transaction`);
    const raw = rawAppendFloor(dataDir, settings.synchronous, ofOpenings, openings.length);

    const eventsEach = ofOpenings.length / openings.length;
    rows.push(
      { what: 'HTTP floor: bare node:http GET', dist: bare, perSecond: 1000 / bare.mean },
      { what: 'HTTP floor: app GET /health', dist: health, perSecond: 1000 / health.mean, ratio: formatRatio(health.p50 / bare.p50), against: 'bare node:http (p50)' },
      { what: `raw SQLite: ${eventsEach.toFixed(1)} appends (1/tx) per opening`, dist: raw, perSecond: (openings.length * 1000) / raw.total },
      { what: 'open, sequential: POST /sessions → challenged', dist: request },
      { what: 'open, sequential: POST /:id/code → open', dist: code },
      {
        what: 'open, sequential: request + code',
        dist: total,
        perSecond: (openings.length * 1000) / (latencyWall - openings.reduce((sum, o) => sum + o.outOfBandMs, 0)),
        ratio: formatRatio(total.p50 / raw.p50),
        against: 'raw SQLite per opening (p50)',
      },
      { what: '  excluded: out-of-band (201 → code read)', dist: outOfBand },
      { what: '  of which FileSender.send() in certifier', dist: send },
      {
        what: `open, ${settings.concurrency} in flight: request + code`,
        dist: loadedTotal,
        perSecond: (loaded.length * 1000) / throughputWall,
        ratio: formatRatio(((loaded.length * 1000) / throughputWall) / ((openings.length * 1000) / raw.total)),
        against: 'raw SQLite openings/s',
      },
      { what: `  ${settings.concurrency} in flight: POST /sessions → challenged`, dist: loadedRequest },
      { what: `  ${settings.concurrency} in flight: out-of-band (not excluded from /s)`, dist: loadedOutOfBand },
    );
    notes.push(
      `Sequential: ${formatInt(openings.length)} openings in ${(latencyWall / 1000).toFixed(2)} s wall, of which ` +
        `${(openings.reduce((sum, o) => sum + o.outOfBandMs, 0) / 1000).toFixed(2)} s waiting for the file channel (left out of "per second").`,
      `Throughput: ${formatInt(loaded.length)} openings in ${(throughputWall / 1000).toFixed(2)} s wall; its per-second INCLUDES the file ` +
        `channel (FileSender.send() took ${(loadedSendTotal / 1000).toFixed(2)} s summed over the openings, running concurrently).`,
      `HTTP floor: every opening makes 2 HTTP calls, so about ${ms(2 * bare.p50)} ms (bare) to ${ms(2 * health.p50)} ms (Nest) of its p50 is the HTTP round trip itself.`,
      `p99 of request + code, sequential: ${ms(total.p99)} ms (target <= 10 ms); under ${settings.concurrency} in flight: ${ms(loadedTotal.p99)} ms.`,
    );
  } catch (error) {
    failure = error;
  } finally {
    client?.close();
    if (app) {
      try {
        await within(app.close(), 30_000, () => 'app.close() hung for 30 s');
      } catch (error) {
        progressLine(`cleanup: ${(error as Error).message}`);
      }
    }
    removeDirs();
  }

  printFacts(settings, config, outboxFact, eventsPerOpening);
  if (rows.length > 0) printTable();
  process.stdout.write(
    '\nrequest = POST /sessions until 201 challenged (trust check, secret issue, event hops); code = POST /sessions/:id/code until 200.\n' +
      'The out-of-band leg (certifier → file → bench reads the code) is timed apart and left out of "request + code".\n' +
      'ratio: p50 over the floor\'s p50 (sequential), or openings/s over the raw SQLite floor\'s openings/s (in flight).\n',
  );
  for (const note of notes) process.stdout.write(`Note: ${note}\n`);
  if (failure) {
    const message = failure instanceof BenchError ? failure.message : `${(failure as Error)?.stack ?? String(failure)}`;
    process.stderr.write(`\n[bench] FAILED: ${message}\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`[bench] FAILED: ${error instanceof BenchError ? error.message : (error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
