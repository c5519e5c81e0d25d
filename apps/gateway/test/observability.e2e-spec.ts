import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@sigillum/config';
import { DRAFT_CATEGORY, PARTY_CATEGORY, streamIdOf } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { adminCredentialOf, baseUrlOf, issueStaffToken, MailCatcher } from '@sigillum/testing';
import { call } from '../src/demo/narrator';
import { asBearer } from '../src/demo/staff';
import { type Api, enrolHostedOperator, enrolPerson, openSession, until } from '../src/demo/story';
import { rolesFor } from '../src/roles';

/**
 * Issue #11, observability, on the embedded default: one letter followed by its W3C trace context from the HTTP
 * request that sends it to the last evidence recorded for it, through the JSON log lines the process writes; and the
 * Prometheus metrics of that letter (deliveries, step durations) behind the ops staff role.
 */
describe('observability: JSON logs, traceparent from sending to evidence, /metrics', () => {
  const mail = new MailCatcher();
  const lines: string[] = [];
  let restore: () => void = () => undefined;
  let app: INestApplication;
  let dataDir: string;
  let base: string;
  let api: Api;

  /** The JSON log lines written since the start, parsed; lines that are not JSON (jest's own) are skipped. */
  const logged = (): Record<string, unknown>[] =>
    lines
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          return {};
        }
      });

  beforeAll(async () => {
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      lines.push(String(chunk));
      return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write;
    restore = () => (process.stdout.write = original as typeof process.stdout.write);
    await mail.start();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-observability-'));
    const config = loadConfig({
      ...mail.env(),
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'log',
      TIMER_POLL_MS: '200',
      SEND_AWAIT_MS: '10000',
      SESSION_REQUEST_WAIT_MS: '10000',
      KEYSTORE_PASSPHRASE: 'e2e passphrase, not a real secret',
    });
    app = await createSigillumApp(config, rolesFor(config.roles));
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    base = baseUrlOf(app.getHttpServer());
    api = (method, url, body, headers) => call(base, method, url, body, headers);
  }, 120_000);

  afterAll(async () => {
    restore();
    await app?.close();
    await mail.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('follows one letter by its traceparent from the HTTP line of its sending to the log line of its last evidence, and counts it in /metrics', async () => {
    const tokens = {
      admin: adminCredentialOf(dataDir),
      registrar: await issueStaffToken(base, dataDir, ['registrar'], 'registrar-1'),
      ops: await issueStaffToken(base, dataDir, ['ops'], 'ops-1'),
    };
    const staff = { admin: asBearer(api, tokens.admin), registrar: asBearer(api, tokens.registrar), ops: asBearer(api, tokens.ops) };
    const now = new Date();
    await enrolHostedOperator(
      { admin: staff.admin, registrar: staff.registrar },
      { displayName: 'Acme Processing', steps: ['seal', 'timestamp', 'deliver', 'archive'], level: 'substantial', now },
    );
    const alice = await enrolPerson(staff.registrar, mail, { displayName: 'Alice Martin', email: 'alice@example.org', level: 'substantial', now });
    const bob = await enrolPerson(staff.registrar, mail, { displayName: 'Bob Durand', email: 'bob@example.org', level: 'substantial', now });
    const session = await openSession(api, mail, { userId: alice, counterpartIds: [bob], kind: 'registered' });
    const uploaded = (await fetch(`${base}/contents`, { method: 'PUT', headers: { ...session.auth, 'content-type': 'text/plain' }, body: 'Dear Bob' }).then(
      (r) => r.json(),
    )) as { digest: string };
    const draft = await api(
      'POST',
      '/drafts',
      { recipientIds: [bob], subject: 'Notice', kind: 'registered', parts: [{ digest: uploaded.digest, name: 'n.txt', contentType: 'text/plain' }] },
      session.auth,
    );
    // Any request's traceparent goes, explicitly, into the metadata of what it records: a party's specimen, a registrar's rename.
    const specimenTrace = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const renameTrace = '00-5c1f6f3a0d9e4b7a8c2d1e0f9a8b7c6d-1a2b3c4d5e6f7081-01';
    const specimen = await api('POST', `/drafts/${draft.draftId}/specimen`, undefined, { ...session.auth, traceparent: specimenTrace });
    await staff.registrar('POST', `/parties/${bob}/name`, { displayName: 'Bob Durand-Martin' }, { traceparent: renameTrace });
    const store = app.get<EventStore>(EVENT_STORE);
    const [shown] = (await store.readStream(streamIdOf(DRAFT_CATEGORY, draft.draftId))).filter((e) => e.event.type === 'SpecimenShown');
    expect(shown.metadata.traceparent).toBe(specimenTrace);
    const [renamed] = (await store.readStream(streamIdOf(PARTY_CATEGORY, bob))).filter((e) => e.event.type === 'PartyRenamed');
    expect(renamed.metadata.traceparent).toBe(renameTrace);
    await api('POST', `/drafts/${draft.draftId}/validation`, { specimenDigest: specimen.specimenDigest }, session.auth);

    // The caller sends its own trace context, as a traced client would: it is kept, and answered back.
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const sending = await fetch(`${base}/drafts/${draft.draftId}/sending`, {
      method: 'POST',
      headers: { ...session.auth, 'content-type': 'application/json', traceparent },
      body: JSON.stringify({ submissionKey: `obs-${Date.now()}` }),
    });
    expect(sending.headers.get('traceparent')).toBe(traceparent);
    const { correspondenceId } = (await sending.json()) as { correspondenceId: string };
    await until(
      'the chain to complete',
      () => staff.ops('GET', `/chains/${correspondenceId}`),
      (c: { status: string }) => ['completed', 'failed'].includes(c.status),
    );
    const evidenceStream = `evidence-${correspondenceId}`;
    const evidenceLines = () => logged().filter((line) => line.eventType === 'EvidenceRecorded' && line.streamId === evidenceStream);
    // Settled: the evidence of the delivery is recorded after the chain completes; wait until no more comes.
    let seen = -1;
    await until(
      'the evidence to settle',
      async () => evidenceLines().length,
      (count: number) => {
        const settled = count > 0 && count === seen;
        seen = count;
        return settled;
      },
    );

    const httpLine = logged().find((line) => (line.req as { path?: string } | undefined)?.path === `/drafts/${draft.draftId}/sending`);
    expect(httpLine).toMatchObject({ level: 'info', traceparent, traceId: '4bf92f3577b34da6a3ce929d0e0e4736', res: { statusCode: expect.any(Number) } });
    expect(String(httpLine?.msg)).toContain('POST /drafts/:draftId/sending');
    const evidence = evidenceLines();
    expect(evidence.length).toBeGreaterThanOrEqual(4);
    const last = evidence[evidence.length - 1];
    expect(last).toMatchObject({ level: 'info', traceparent, context: 'Events' });
    // Every evidence line of the letter, in whichever role's handler it was recorded, carries the same trace.
    expect(evidence.every((line) => line.traceparent === traceparent)).toBe(true);
    // And every event of the letter logged (its milestones: the submission, the chain, each step, the delivery), in
    // whichever role it was recorded: the trace goes from command to event to message to command, passed explicitly.
    const submitted = logged().find((line) => line.eventType === 'SubmissionAccepted' && line.streamId === `correspondence-${correspondenceId}`);
    expect(submitted).toMatchObject({ traceparent });
    const ofLetter = logged().filter((line) => line.context === 'Events' && line.correlationId === submitted?.correlationId);
    const types = new Set(ofLetter.map((line) => String(line.eventType)));
    for (const type of ['SubmissionAccepted', 'ChainStarted', 'StepCertified', 'ChainCompleted', 'DeliveredToRecipient', 'EvidenceRecorded'])
      expect(types).toContain(type);
    expect(ofLetter.filter((line) => line.traceparent !== traceparent)).toEqual([]);
    // Other requests carry traces of their own.
    const others = logged().filter((line) => line.req && line.traceparent && line.traceparent !== traceparent);
    expect(others.length).toBeGreaterThan(0);
    // Nothing of a credential or a session header ever reaches a line.
    const text = lines.join('');
    for (const secret of [session.credential, ...Object.values(tokens)]) expect(text).not.toContain(secret);
    expect(logged().filter((line) => line.req !== undefined && JSON.stringify(line.req).includes('headers'))).toEqual([]);

    // /metrics: 401 without a credential, 403 for a registrar, 200 for ops, with this letter counted.
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${tokens.registrar}` } })).status).toBe(403);
    const scraped = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${tokens.ops}` } });
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toContain('text/plain');
    const metrics = await scraped.text();
    expect(sample(metrics, 'sigillum_deliveries_total{outcome="delivered"}')).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'sigillum_step_duration_seconds_count{step="seal"}')).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'sigillum_step_duration_seconds_sum{step="seal"}')).toBeGreaterThan(0);
    expect(sample(metrics, 'sigillum_http_request_duration_seconds_count{method="POST",route="/drafts/:draftId/sending",status="202"}')).toBeGreaterThanOrEqual(
      1,
    );
    expect(sample(metrics, 'sigillum_codes_sent_total{purpose="session",channel="email"}')).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^sigillum_consumer_lag_messages\{group="sigillum.certifier",topic="sigillum.chain.events",partition="0"\} \d+$/m);
  }, 240_000);
});

/** The value of one sample line of the Prometheus text format, or NaN when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : NaN;
}
