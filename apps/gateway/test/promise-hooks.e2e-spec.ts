/**
 * `npm start` as an operator runs it (every role, one process, SQLite), in a real child process: jest's own runner
 * enables an AsyncLocalStorage in the processes it tests in, so only a process of its own can show that Sigillum
 * enables none. One registered letter goes through it (sessions, draft, sending, the certified chain, the evidence);
 * then its /metrics says `sigillum_promise_hooks_enabled 0`: no promise of the process ran an async hook. The
 * handling context (correlation, causation, trace) is passed explicitly instead (docs/observability.md), and the
 * letter's events still carry the trace of the request that sent it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { LoopbackMailbox } from '@sigillum/channels';
import { eventually } from '@sigillum/testing';
import { call } from '../src/demo/narrator';
import { asBearer, readAdminCredential } from '../src/demo/staff';
import { letterScene } from '../src/demo/letter-scene';
import { type Api, sendLetter } from '../src/demo/story';

const ROOT = path.join(__dirname, '..', '..', '..');
const TS_REGISTER = path.join(ROOT, 'libs', 'testing', 'src', 'event-bus-restart', 'ts-register.js');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = (server.address() as net.AddressInfo) ?? { port: 0 };
      server.close(() => resolve(port));
    });
  });
}

describe('npm start in a process of its own: no promise hooks through a whole letter', () => {
  const mailbox = new LoopbackMailbox();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-promise-hooks-'));
  let child: ChildProcess;
  let output = '';
  let base: string;

  beforeAll(async () => {
    await mailbox.start();
    base = `http://127.0.0.1:${await freePort()}`;
    child = spawn(process.execPath, ['-r', TS_REGISTER, path.join(ROOT, 'apps', 'gateway', 'src', 'main.ts')], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...mailbox.env(),
        PORT: new URL(base).port,
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'log',
        TIMER_POLL_MS: '200',
        KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`npm start's process exited (${child.exitCode}):\n${output.slice(-3000)}`);
        expect((await fetch(`${base}/health`)).status).toBe(200);
      },
      150_000,
      250,
    );
  }, 180_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await mailbox.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('sends and certifies a letter, its events in the trace of its sending, and reports sigillum_promise_hooks_enabled 0', async () => {
    const api: Api = (method, url, body, headers) => call(base, method, url, body, headers);
    const admin = asBearer(api, readAdminCredential(dataDir));
    const { ops, opsToken, bob, session } = await letterScene(api, admin, mailbox, 'hooks');
    const traceparent = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
    const { sending } = await sendLetter(base, api, session, { recipientId: bob, subject: 'Notice', text: 'Dear Bob', headers: { traceparent } });
    expect(sending.status).toBe(202);
    const { correspondenceId } = (await sending.json()) as { correspondenceId: string };
    await eventually(async () => expect((await ops('GET', `/chains/${correspondenceId}`)).status).toBe('completed'), 120_000, 250);

    // The letter's events, recorded by the certifier, the domicile and the processor alike, carry the sending's trace.
    const recorded = () =>
      output
        .split('\n')
        .filter((line) => line.startsWith('{') && line.includes('"context":"Events"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    const letterEvents = await eventually(() => {
      const submitted = recorded().find((line) => line.eventType === 'SubmissionAccepted' && line.streamId === `correspondence-${correspondenceId}`);
      const ofLetter = recorded().filter((line) => submitted && line.correlationId === submitted.correlationId);
      expect(ofLetter.map((line) => line.eventType)).toEqual(expect.arrayContaining(['ChainStarted', 'StepCertified', 'ChainCompleted', 'EvidenceRecorded']));
      return ofLetter;
    }, 30_000);
    expect(letterEvents.filter((line) => line.traceparent !== traceparent)).toEqual([]);

    const scraped = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${opsToken}` } });
    expect(scraped.status).toBe(200);
    const line = (await scraped.text()).split('\n').find((l) => l.startsWith('sigillum_promise_hooks_enabled '));
    expect(line).toBe('sigillum_promise_hooks_enabled 0');
  }, 240_000);
});
