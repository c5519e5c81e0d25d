/**
 * Issue #11, "one letter followed across roles and processes": scripts/cluster.sh on Kafka + PostgreSQL, every role in
 * its own process. One letter is sent through the gateway with a W3C traceparent; the JSON log line of the HTTP
 * request that sent it (written by the role that served it behind the gateway) and the log line of the last evidence
 * recorded for it (written by the certifier, another process, after events crossed Kafka) carry the same traceparent.
 *
 * Needs KAFKA_BROKERS and PostgreSQL (DATABASE_URL, or the machine's at 127.0.0.1:5432); otherwise it says SKIPPED.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LoopbackMailbox } from '@sigillum/channels';
import { eventually } from '@sigillum/testing';
import { asBearer } from '../apps/gateway/src/demo/staff';
import { letterScene } from '../apps/gateway/src/demo/letter-scene';
import { type Api, sendLetter } from '../apps/gateway/src/demo/story';
import { Cluster, LOCAL_DATABASE_URL, postgresAnswers } from '../apps/gateway/src/demo/cluster';

const brokers = process.env.KAFKA_BROKERS?.trim();
const databaseUrl = process.env.DATABASE_URL?.trim() || (postgresAnswers(LOCAL_DATABASE_URL) ? LOCAL_DATABASE_URL : undefined);

type Line = Record<string, unknown> & { file: string };

/** Every JSON line of every instance log of the cluster, with the instance it came from. */
function clusterLines(dir: string): Line[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .flatMap((name) =>
      fs
        .readFileSync(path.join(dir, name), 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .flatMap((line) => {
          try {
            return [{ ...(JSON.parse(line) as Record<string, unknown>), file: name }];
          } catch {
            return [];
          }
        }),
    );
}

/** The sample line of a series in the Prometheus text format. */
function metricLine(text: string, series: string): string | undefined {
  return text.split('\n').find((line) => line.startsWith(`${series} `));
}

if (!brokers || !databaseUrl) {
  process.stderr.write('Cluster trace suite SKIPPED: it needs KAFKA_BROKERS and PostgreSQL (DATABASE_URL or 127.0.0.1:5432)\n');
  describe('one letter traced across the processes of scripts/cluster.sh', () => {
    it.skip('needs KAFKA_BROKERS and PostgreSQL', () => undefined);
  });
} else {
  describe('one letter traced across the processes of scripts/cluster.sh', () => {
    const name = `trace${randomBytes(4).toString('hex')}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-trace-'));
    const mailbox = new LoopbackMailbox();
    let cluster: Cluster;

    beforeAll(async () => {
      await mailbox.start();
      cluster = new Cluster({
        name,
        dir,
        basePort: 24_100 + Math.floor(Math.random() * 80) * 10,
        brokers,
        databaseUrl,
        env: { ...mailbox.env(), CLUSTER_CERTIFIERS: '1', LOG_LEVEL: 'log', TIMER_POLL_MS: '250' },
      });
      await cluster.start();
    }, 300_000);

    afterAll(async () => {
      await cluster?.stop();
      await cluster?.dropSchema().catch(() => undefined);
      await mailbox.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }, 120_000);

    it("has the sending's HTTP line and the last evidence's line carry one traceparent, written by different processes", async () => {
      const api: Api = cluster.api();
      const admin = asBearer(api, cluster.adminCredential());
      const { ops, opsToken, bob, session } = await letterScene(api, admin, mailbox, 'trace');
      const traceparent = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
      const { sending, draftId } = await sendLetter(cluster.gatewayUrl, api, session, {
        recipientId: bob,
        subject: 'Notice',
        text: 'Dear Bob',
        headers: { traceparent },
      });
      expect(sending.status).toBeLessThan(300);
      expect(sending.headers.get('traceparent')).toBe(traceparent);
      const { correspondenceId } = (await sending.json()) as { correspondenceId: string };
      await eventually(async () => expect((await ops('GET', `/chains/${correspondenceId}`)).status).toBe('completed'), 120_000, 500);

      const evidenceStream = `evidence-${correspondenceId}`;
      // The evidence of the delivery follows the chain's completion: wait until the certifier has logged it.
      let evidence: Line[] = [];
      await eventually(
        async () => {
          evidence = clusterLines(dir).filter((line) => line.eventType === 'EvidenceRecorded' && line.streamId === evidenceStream);
          expect(evidence.some((line) => String(line.msg).includes('EvidenceRecorded'))).toBe(true);
          expect(evidence.length).toBeGreaterThanOrEqual(4);
        },
        60_000,
        500,
      );
      const lines = clusterLines(dir);
      const httpLine = lines.find((line) => (line.req as { path?: string } | undefined)?.path === `/drafts/${draftId}/sending` && line.res);
      expect(httpLine).toMatchObject({ traceparent, msg: expect.stringContaining('POST /drafts/:draftId/sending') });
      const last = evidence[evidence.length - 1];
      expect(last).toMatchObject({ traceparent, eventType: 'EvidenceRecorded' });
      expect(evidence.every((line) => line.traceparent === traceparent)).toBe(true);
      // Two processes: the role that served the request is not the certifier that recorded the evidence.
      expect(httpLine!.file).not.toBe(last.file);
      // Passed explicitly, not by an AsyncLocalStorage: no process of the cluster runs promise hooks (~4 % of a
      // delivery's CPU), which /metrics says of each (gateway, directory, certifier, domicile, processor, projections, processor-2).
      const basePort = cluster.options.basePort;
      for (let offset = 0; offset <= 6; offset++) {
        const scraped = await fetch(`http://127.0.0.1:${basePort + offset}/metrics`, { headers: { authorization: `Bearer ${opsToken}` } });
        expect(scraped.status).toBe(200);
        expect(`${basePort + offset} ${metricLine(await scraped.text(), 'sigillum_promise_hooks_enabled')}`).toBe(
          `${basePort + offset} sigillum_promise_hooks_enabled 0`,
        );
      }
      process.stdout.write(
        `[trace] ${traceparent}\n  ${httpLine!.file}: ${String(httpLine!.msg)}\n  ${last.file}: ${String(last.msg)} (evidence ${evidence.length} records, all with this traceparent)\n`,
      );
    }, 300_000);
  });
}
