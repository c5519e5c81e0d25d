import { generateKeyPairSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { BenchError, type Client, Progress } from '../common/report';
import { benchStaff } from '../common/staff';
import { openWindow, type TimedWindow } from '../common/tail-causes';
import type { OutboxWatch } from './outbox-watch';
import type { Settings } from './settings';

// The parties the openings need (set up, not timed), and one opening as a user's client makes it.

export interface Scene {
  readonly users: string[];
  readonly counterparts: string[];
}

const YEAR_MS = 365 * 24 * 3600 * 1000;
const EVIDENCE = { method: 'in-person-id-check', reference: 'bench-file', verifiedBy: 'bench-officer' };

/** The operator's staff enrol (admin: the operator; registrar: everyone's enrolment and certification). */
export async function setUp(client: Client, dataDir: string, outbox: OutboxWatch, settings: Settings): Promise<Scene> {
  const { admin, registrar } = await benchStaff(client, dataDir);
  const validUntil = new Date(Date.now() + YEAR_MS).toISOString();
  const certify = (partyId: string, name: string) =>
    client.expect(201, 'POST', `/parties/${partyId}/certifications`, { name, level: 'substantial', validUntil, evidence: EVIDENCE }, registrar);

  const operator = (await client.expect(201, 'POST', '/parties', { kind: 'operator', operatorRole: 'processing', displayName: 'Bench Processing' }, admin))
    .partyId as string;
  await client.expect(
    200,
    'PUT',
    `/parties/${operator}/specification`,
    { version: 1, steps: ['seal', 'timestamp', 'deliver', 'archive'].map((step) => ({ step, parameters: {}, maxDurationSeconds: 600 })) },
    admin,
  );
  const { publicKey } = generateKeyPairSync('ed25519');
  await client.expect(
    201,
    'POST',
    `/parties/${operator}/keys`,
    { algorithm: 'Ed25519', use: 'signature', publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) },
    admin,
  );
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

export interface Opening {
  readonly sessionId: string;
  /** POST /sessions until 201 challenged. */
  readonly requestMs: number;
  /** From the 201 until the code was read from the file (excluded from the opening's time). */
  readonly outOfBandMs: number;
  /** The file transport's send() inside the certifier (part of, or overlapping, the above). */
  readonly sendMs: number;
  /** POST /sessions/:id/code until 200 open. */
  readonly codeMs: number;
  /** The request's and the code's windows, for what the slowest spent their time on (tail-causes.ts). */
  readonly windows: readonly TimedWindow[];
}

export async function openOne(client: Client, outbox: OutboxWatch, userId: string, counterpartId: string): Promise<Opening> {
  const requestWindow = openWindow();
  const t0 = performance.now();
  const requested = await client.call('POST', '/sessions', { userId, counterpartIds: [counterpartId], correspondenceKind: 'registered' });
  const t1 = performance.now();
  const request = requestWindow.end();
  const sessionId = requested.body.sessionId as string;
  if (requested.status !== 201 || requested.body.status !== 'challenged') {
    throw new BenchError(
      `POST /sessions answered ${requested.status} ${JSON.stringify(requested.body).slice(0, 400)} instead of 201 "challenged"` +
        (requested.status === 202 ? ' (the trust check took longer than SESSION_REQUEST_WAIT_MS: the app is overloaded or a role is stuck)' : ''),
    );
  }
  const { code, delivery } = await outbox.code(sessionId);
  const codeWindow = openWindow();
  const t2 = performance.now();
  const opened = await client.call('POST', `/sessions/${sessionId}/code`, { code });
  const t3 = performance.now();
  const submitted = codeWindow.end();
  if (opened.status !== 200 || typeof opened.body.credential !== 'string') {
    throw new BenchError(
      `POST /sessions/${sessionId}/code answered ${opened.status} ${JSON.stringify(opened.body).slice(0, 400)} instead of 200 with a credential`,
    );
  }
  return { sessionId, requestMs: t1 - t0, outOfBandMs: t2 - t1, sendMs: delivery.sendMs, codeMs: t3 - t2, windows: [request, submitted] };
}
