/**
 * What the delivery and disk benchmarks share: booting the whole app in-process on a throw-away DATA_DIR, the
 * set-up of registered letters ready to send (a hosted processing operator, senders with an open session,
 * recipients, drafts validated), sending them, and watching the store's log until each chain is completed.
 */
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { INestApplication } from '@nestjs/common';
import type { LoopbackMailbox } from '@sigillum/channels';
import { loadConfig, type SigillumConfig } from '@sigillum/config';
import type { RecordedEvent } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore, type StoreSubscription } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { asBearer, issueStaffCredential, readAdminCredential } from '../../apps/gateway/src/demo/staff';
import { type Api, enrolHostedOperator, enrolPerson, type OpenedSession, openSession } from '../../apps/gateway/src/demo/story';
import { gatewaySetup } from '../../apps/gateway/src/role-threads/gateway-setup';
import { BenchError, Client, Progress } from './report';

export interface BenchApp {
  readonly app: INestApplication;
  readonly config: SigillumConfig;
  readonly port: number;
  readonly store: EventStore;
}

/** Boots every role in this process (ROLE_THREADS on threads of their own), as `npm start` does, on `dataDir`, listening on 127.0.0.1 (a free port). */
export async function startBenchApp(options: {
  readonly dataDir: string;
  readonly mailbox: LoopbackMailbox;
  readonly synchronous: 'NORMAL' | 'FULL';
  /** The Kafka bus when set (KAFKA_BROKERS implies EVENT_BUS=kafka), else the embedded one. */
  readonly brokers?: string;
  /** Settings applied last, over the environment and the bench's own. */
  readonly env?: NodeJS.ProcessEnv;
}): Promise<BenchApp> {
  const config = loadConfig({
    ...process.env,
    ...options.mailbox.env(),
    ...(options.brokers ? { EVENT_BUS: 'kafka', KAFKA_BROKERS: options.brokers } : { EVENT_BUS: 'embedded' }),
    DATA_DIR: options.dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    SQLITE_SYNCHRONOUS: options.synchronous,
    SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: process.env.SESSION_REQUESTS_PER_ADDRESS_PER_HOUR?.trim() || '0',
    KEYSTORE_PASSPHRASE: 'bench passphrase for a throw-away data directory',
    ...options.env,
  });
  // As `npm start` does: the roles of ROLE_THREADS (none by default) on threads of their own, their routes forwarded.
  const setup = await gatewaySetup(config);
  const app = await createSigillumApp(config, setup.roles, setup.appOptions);
  try {
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app.close();
    throw error;
  }
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, config, port, store: app.get<EventStore>(EVENT_STORE) };
}

/** Watches the store's log for the two facts that end a delivery, per correspondence. */
export class DeliveryWatch {
  private readonly completed = new Set<string>();
  private readonly delivered = new Set<string>();
  private readonly waiting = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  private failure?: Error;
  private subscription?: StoreSubscription;
  readonly events: RecordedEvent[] = [];
  recording = false;

  start(store: EventStore, from: bigint): void {
    this.subscription = store.subscribeAll(
      async (recorded) => {
        if (this.recording) this.events.push(recorded);
        const id = recorded.streamId.slice(recorded.streamId.indexOf('-') + 1);
        if (recorded.event.type === 'ChainCompleted') this.completed.add(id);
        else if (recorded.event.type === 'DeliveredToRecipient') this.delivered.add(id);
        else if (recorded.event.type === 'ChainFailed' || recorded.event.type === 'ChainRefused') {
          this.fail(
            new BenchError(
              `Correspondence ${id}: ${recorded.event.type} ${JSON.stringify(recorded.event.data).slice(0, 400)}; run with LOG_LEVEL=log to see why`,
            ),
          );
        }
        const waiter = this.waiting.get(id);
        if (waiter && this.completed.has(id) && this.delivered.has(id)) {
          this.forget(id);
          waiter.resolve();
        }
      },
      { after: from, onError: (error) => this.fail(error) },
    );
  }

  /** Starts watching after the last event the store holds now. */
  async startAtEnd(store: EventStore): Promise<void> {
    const all = await store.readAll();
    this.start(store, all.length ? all[all.length - 1].globalPosition : 0n);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiting.values()) waiter.reject(error);
  }

  done(correspondenceId: string): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.completed.has(correspondenceId) && this.delivered.has(correspondenceId)) {
      this.forget(correspondenceId);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiting.set(correspondenceId, { resolve, reject }));
  }

  /** A delivery waited for is done: nothing of it is kept (a long run holds no more than what is in flight). */
  private forget(id: string): void {
    this.waiting.delete(id);
    this.completed.delete(id);
    this.delivered.delete(id);
  }

  /** Correspondences seen completing or delivered but not yet waited for, and waiters: the watch's own memory. */
  get held(): number {
    return this.completed.size + this.delivered.size + this.waiting.size;
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
  }
}

export interface Prepared {
  readonly draftId: string;
  readonly session: OpenedSession;
  readonly key: string;
}

/** Senders with an open session, each with the recipient its letters go to. */
export interface Enrolled {
  readonly api: Api;
  readonly pairs: readonly { readonly session: OpenedSession; readonly recipientId: string }[];
}

/**
 * The set-up, as the operator's staff (the first-start admin written to DATA_DIR, and a registrar it issues) and
 * the parties: a hosted processing operator, `pairs` senders with an open session and `pairs` recipients.
 */
export async function enrolParties(client: Client, dataDir: string, mailbox: LoopbackMailbox, pairs: number): Promise<Enrolled> {
  /** Anonymous, as a party's client before its session opens; staff and sessions add their own Authorization. */
  const api: Api = async (method, url, body, headers) => {
    const answer = await client.call(method, url, body, headers);
    if (answer.status >= 400) throw new BenchError(`${method} ${url} answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 400)}`);
    return answer.body;
  };
  const admin = asBearer(api, readAdminCredential(dataDir));
  const registrar = asBearer(api, await issueStaffCredential(admin, 'bench-registrar', ['registrar']));
  const now = new Date();
  await enrolHostedOperator(
    { admin, registrar },
    { displayName: 'Bench Processing', steps: ['seal', 'timestamp', 'deliver', 'archive'], level: 'substantial', now },
  );
  const sessions: { session: OpenedSession; recipientId: string }[] = [];
  for (let i = 0; i < pairs; i++) {
    const sender = await enrolPerson(registrar, mailbox, { displayName: `Sender ${i}`, email: `sender${i}@example.org`, level: 'substantial', now });
    const recipient = await enrolPerson(registrar, mailbox, { displayName: `Recipient ${i}`, email: `recipient${i}@example.org`, level: 'substantial', now });
    sessions.push({ session: await openSession(api, mailbox, { userId: sender, counterpartIds: [recipient], kind: 'registered' }), recipientId: recipient });
  }
  return { api, pairs: sessions };
}

/** `count` registered drafts (numbered from `first`), each uploaded (2 kB), shown as a specimen and validated; `quiet`: no progress lines. */
export async function prepareLetters(base: string, enrolled: Enrolled, count: number, first = 0, quiet = false): Promise<Prepared[]> {
  const { api } = enrolled;
  const progress = quiet ? { update: () => undefined } : new Progress('drafts validated', count);
  const prepared: Prepared[] = [];
  for (let i = first; i < first + count; i++) {
    const { session, recipientId } = enrolled.pairs[i % enrolled.pairs.length];
    const letter = Buffer.from(`Registered letter ${i} of bench ${process.pid}\n${'.'.repeat(2_000)}\n`);
    const upload = await fetch(`${base}/contents`, { method: 'PUT', headers: { ...session.auth, 'content-type': 'text/plain' }, body: letter });
    if (upload.status !== 201) throw new BenchError(`PUT /contents answered ${upload.status}: ${await upload.text()}`);
    const { digest } = (await upload.json()) as { digest: string };
    const draft = await api(
      'POST',
      '/drafts',
      { recipientIds: [recipientId], subject: `Letter ${i}`, kind: 'registered', parts: [{ digest, name: `letter-${i}.txt`, contentType: 'text/plain' }] },
      session.auth,
    );
    const specimen = await api('POST', `/drafts/${draft.draftId}/specimen`, undefined, session.auth);
    await api('POST', `/drafts/${draft.draftId}/validation`, { specimenDigest: specimen.specimenDigest }, session.auth);
    prepared.push({ draftId: draft.draftId as string, session, key: `bench-${process.pid}-${i}` });
    progress.update(i - first + 1);
  }
  return prepared;
}

/** The whole set-up: `enrolParties` then `deliveries` letters through `prepareLetters`. */
export async function prepareDrafts(
  client: Client,
  base: string,
  dataDir: string,
  mailbox: LoopbackMailbox,
  settings: { readonly deliveries: number; readonly pairs: number },
): Promise<Prepared[]> {
  return prepareLetters(base, await enrolParties(client, dataDir, mailbox, settings.pairs), settings.deliveries);
}

/**
 * Sends every prepared draft, `concurrency` in flight, each waited for until its chain is completed and the
 * recipient holds it; `onDone` gets the milliseconds from POST /drafts/:id/sending to then.
 */
export async function sendAll(
  client: Client,
  prepared: readonly Prepared[],
  watch: DeliveryWatch,
  concurrency: number,
  onDone: (elapsedMs: number) => void,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < prepared.length) {
      const item = prepared[next++];
      const t0 = performance.now();
      const answer = await client.call('POST', `/drafts/${item.draftId}/sending`, { submissionKey: item.key }, item.session.auth);
      if (answer.status !== 202 && answer.status !== 200)
        throw new BenchError(`sending answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 400)}`);
      await watch.done(answer.body.correspondenceId as string);
      onDone(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
