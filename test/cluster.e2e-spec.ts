/**
 * The distributed mode as an operator runs it (scripts/cluster.sh): Kafka + PostgreSQL + every role in its own
 * process + a second processor and a second certifier, one address (the gateway). 200 registered letters go through the gateway in three
 * waves; mid-flight, the processor is killed with -9 (then started again), then the certifier, then the broker is
 * restarted. Afterwards every letter is completed with exactly one terminal evidence per recipient, every recipient
 * got exactly one notice per letter, and the read models equal a rebuild from position 0 of the log.
 *
 * Needs KAFKA_BROKERS (a broker of scripts/kafka.sh, which `.ci/run` starts; the broker-restart wave needs it to be
 * that one) and PostgreSQL (DATABASE_URL, or the machine's at 127.0.0.1:5432); otherwise it says SKIPPED.
 * CLUSTER_LETTERS changes the number of letters (default 200).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LoopbackMailbox } from '@sigillum/channels';
import type { EvidenceRecorded, RecordedEvent } from '@sigillum/contracts';
import { eventually } from '@sigillum/testing';
import { asBearer, issueStaffCredential } from '../apps/gateway/src/demo/staff';
import { type Api, enrolHostedOperator, enrolPerson, type OpenedSession, openSession } from '../apps/gateway/src/demo/story';
import { Cluster, LOCAL_DATABASE_URL, postgresAnswers, restartableBroker } from '../apps/gateway/src/demo/cluster';

const brokers = process.env.KAFKA_BROKERS?.trim();
const databaseUrl = process.env.DATABASE_URL?.trim() || (postgresAnswers(LOCAL_DATABASE_URL) ? LOCAL_DATABASE_URL : undefined);
const LETTERS = Number(process.env.CLUSTER_LETTERS ?? 200);
const PAIRS = 10;
const IN_FLIGHT = 16;
const TERMINAL = new Set(['SubmissionRejection', 'ContentConsignmentFailure', 'ConsignmentRejection', 'AcceptanceRejectionExpiry', 'ContentHandover']);

interface Letter {
  readonly draftId: string;
  readonly sender: OpenedSession;
  readonly recipientId: string;
  readonly digest: string;
  correspondenceId?: string;
}

const log = (line: string) => process.stdout.write(`[cluster] ${line}\n`);

if (!brokers || !databaseUrl) {
  process.stderr.write(
    `Cluster suite SKIPPED: it needs ${!brokers ? 'KAFKA_BROKERS (bash scripts/kafka.sh start)' : ''}${!brokers && !databaseUrl ? ' and ' : ''}` +
      `${!databaseUrl ? 'PostgreSQL (DATABASE_URL, or the local one: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)' : ''}\n`,
  );
  describe('the distributed cluster (scripts/cluster.sh)', () => {
    it.skip('needs KAFKA_BROKERS and PostgreSQL', () => undefined);
  });
} else {
  describe('the distributed cluster (scripts/cluster.sh): 200 letters through the gateway, kill -9 and a broker restart mid-flight', () => {
    const name = `e2e${randomBytes(4).toString('hex')}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-cluster-'));
    const mailbox = new LoopbackMailbox();
    let cluster: Cluster;
    let api: Api;
    let admin: Api;
    let registrar: Api;
    let ops: Api;
    let auditor: Api;

    beforeAll(async () => {
      await mailbox.start();
      cluster = new Cluster({
        name,
        dir,
        basePort: 23_100 + Math.floor(Math.random() * 80) * 10,
        brokers,
        databaseUrl,
        // Two certifiers and two processors: the one killed has a peer that takes over its partitions and its relay.
        env: {
          ...mailbox.env(),
          CLUSTER_CERTIFIERS: process.env.CLUSTER_CERTIFIERS ?? '2',
          LOG_LEVEL: 'warn',
          TIMER_POLL_MS: '250',
          SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: '0',
        },
      });
      const started = performance.now();
      await cluster.start();
      log(`instances up in ${Math.round((performance.now() - started) / 1000)} s at ${cluster.gatewayUrl} (schema and topic prefix ${name})`);
      api = cluster.api();
      admin = asBearer(api, cluster.adminCredential());
      registrar = asBearer(api, await issueStaffCredential(admin, 'cluster-registrar', ['registrar']));
      ops = asBearer(api, await issueStaffCredential(admin, 'cluster-ops', ['ops']));
      auditor = asBearer(api, await issueStaffCredential(admin, 'cluster-auditor', ['auditor']));
    }, 300_000);

    afterAll(async () => {
      await cluster?.stop();
      await cluster?.dropSchema().catch(() => undefined);
      await mailbox.stop();
      if (!process.env.CLUSTER_KEEP) fs.rmSync(dir, { recursive: true, force: true });
    }, 120_000);

    it('serves the whole API at one address: staff of the directory act on the processor, the certifier and the projections', async () => {
      const roles = await api('GET', '/health/roles');
      expect(JSON.stringify(roles)).toMatch(/processor/);
      expect(await ops('GET', '/projections')).toMatchObject({ projections: expect.any(Array) });
      await expect(api('GET', '/processor/operators')).rejects.toThrow(/answered 401/);
    });

    it('completes every letter exactly once through kill -9 of the processor, of the certifier, and a broker restart', async () => {
      const now = new Date();
      await enrolHostedOperator(
        { admin, registrar },
        { displayName: 'Cluster Processing', steps: ['seal', 'timestamp', 'deliver', 'archive'], level: 'substantial', now },
      );
      const pairs: { sender: OpenedSession; senderId: string; recipientId: string }[] = [];
      for (let i = 0; i < PAIRS; i++) {
        const senderId = await enrolPerson(registrar, mailbox, {
          displayName: `Sender ${i}`,
          email: `sender${i}.${name}@example.org`,
          level: 'substantial',
          now,
        });
        const recipientId = await enrolPerson(registrar, mailbox, {
          displayName: `Recipient ${i}`,
          email: `recipient${i}.${name}@example.org`,
          level: 'substantial',
          now,
        });
        pairs.push({ sender: await openSession(api, mailbox, { userId: senderId, counterpartIds: [recipientId], kind: 'registered' }), senderId, recipientId });
      }
      log(`${PAIRS} senders with an open session, ${PAIRS} recipients, a hosted operator certified`);

      const letters: Letter[] = [];
      for (let i = 0; i < LETTERS; i++) {
        const { sender, recipientId } = pairs[i % PAIRS];
        const body = Buffer.from(`Registered letter ${i} of ${name}\n`);
        const upload = await fetch(`${cluster.gatewayUrl}/contents`, { method: 'PUT', headers: { ...sender.auth, 'content-type': 'text/plain' }, body });
        expect(upload.status).toBe(201);
        const { digest } = (await upload.json()) as { digest: string };
        const draft = await api(
          'POST',
          '/drafts',
          { recipientIds: [recipientId], subject: `Letter ${i}`, kind: 'registered', parts: [{ digest, name: `letter-${i}.txt`, contentType: 'text/plain' }] },
          sender.auth,
        );
        const specimen = await api('POST', `/drafts/${draft.draftId}/specimen`, undefined, sender.auth);
        await api('POST', `/drafts/${draft.draftId}/validation`, { specimenDigest: specimen.specimenDigest }, sender.auth);
        letters.push({ draftId: draft.draftId, sender, recipientId, digest });
      }
      log(`${LETTERS} drafts validated`);

      /** Sends `wave`, IN_FLIGHT at a time; `fault` runs once a third of them went out (chains are then mid-flight). */
      const sendWave = async (wave: Letter[], what: string, fault: () => Promise<void>) => {
        let next = 0;
        let faulted: Promise<void> | undefined;
        const worker = async () => {
          while (next < wave.length) {
            const letter = wave[next++];
            if (next >= wave.length / 3) faulted ??= fault();
            const sent = await api('POST', `/drafts/${letter.draftId}/sending`, { submissionKey: `cluster-${letter.draftId}` }, letter.sender.auth);
            letter.correspondenceId = sent.correspondenceId;
          }
        };
        await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
        await faulted;
        log(`wave sent: ${wave.length} letters, ${what}`);
      };

      const third = Math.ceil(LETTERS / 3);
      await sendWave(letters.slice(0, third), 'processor killed -9 mid-flight, then started again', async () => {
        await cluster.kill('processor');
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        await cluster.start();
      });
      await sendWave(letters.slice(third, 2 * third), 'certifier killed -9 mid-flight, then started again', async () => {
        await cluster.kill('certifier');
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        await cluster.start();
      });
      const broker = await restartableBroker(brokers);
      if (!broker) log('broker restart SKIPPED: KAFKA_BROKERS is not the broker of scripts/kafka.sh on this machine');
      await sendWave(letters.slice(2 * third), broker ? 'broker restarted mid-flight' : 'no fault', async () => {
        if (broker) await broker.restart();
      });

      // Every chain completes and every recipient holds its letter: read from the shared log, as an auditor would.
      const started = performance.now();
      const ids = new Set(letters.map((letter) => letter.correspondenceId!));
      expect(ids.size).toBe(LETTERS);
      let events: RecordedEvent[] = [];
      await eventually(
        async () => {
          events = await cluster.readAll();
          const failed = events.filter((e) => e.event.type === 'ChainFailed' || e.event.type === 'ChainRefused');
          if (failed.length > 0) throw new Error(`chains failed: ${JSON.stringify(failed.slice(0, 3).map((e) => e.event))}`);
          const delivered = new Set(events.filter((e) => e.event.type === 'DeliveredToRecipient').map((e) => streamIdTail(e.streamId)));
          const completed = new Set(events.filter((e) => e.event.type === 'ChainCompleted').map((e) => streamIdTail(e.streamId)));
          const missing = [...ids].filter((id) => !delivered.has(id) || !completed.has(id));
          if (missing.length > 0) throw new Error(`${missing.length} of ${LETTERS} letters not completed and delivered yet`);
        },
        300_000,
        2_000,
      ).catch(async (error: Error) => {
        throw new Error(
          `${error.message}\n${await cluster.status()}\ncertifier log:\n${cluster.logTail('certifier')}\nprocessor log:\n${cluster.logTail('processor')}`,
        );
      });
      log(`every chain completed and delivered ${Math.round((performance.now() - started) / 1000)} s after the last wave was sent`);

      // Each recipient accepts and reads each letter (ContentHandover, the terminal evidence), through its own session.
      const recipientSessions = new Map<string, OpenedSession>();
      for (const { senderId, recipientId } of pairs) {
        recipientSessions.set(recipientId, await openSession(api, mailbox, { userId: recipientId, counterpartIds: [senderId], kind: 'registered' }));
      }
      let next = 0;
      const reader = async () => {
        while (next < letters.length) {
          const letter = letters[next++];
          const auth = recipientSessions.get(letter.recipientId)!.auth;
          await api('POST', `/correspondences/${letter.correspondenceId}/acceptance`, {}, auth);
          const read = await fetch(`${cluster.gatewayUrl}/correspondences/${letter.correspondenceId}/parts/${letter.digest}`, { headers: auth });
          expect(read.status).toBe(200);
          await read.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, reader));

      await eventually(
        async () => {
          events = await cluster.readAll();
          const evidence = events.filter((e): e is RecordedEvent<EvidenceRecorded> => e.event.type === 'EvidenceRecorded');
          for (const letter of letters) {
            const terminal = evidence.filter(
              (e) =>
                e.event.data.correspondenceId === letter.correspondenceId &&
                TERMINAL.has(e.event.data.eventName) &&
                (e.event.data.record.RecipientDetails as { partyId: string }[]).some((detail) => detail.partyId === letter.recipientId),
            );
            if (terminal.length !== 1) throw new Error(`letter ${letter.correspondenceId}: ${terminal.length} terminal evidence(s) for its recipient`);
          }
        },
        120_000,
        2_000,
      );

      // Exactly once, whatever was killed: one chain per letter, one ChainCompleted, one delivery, one notice each.
      const count = (type: string) => {
        const byId = new Map<string, number>();
        for (const e of events) if (e.event.type === type) byId.set(streamIdTail(e.streamId), (byId.get(streamIdTail(e.streamId)) ?? 0) + 1);
        return byId;
      };
      for (const type of ['ChainStarted', 'ChainCompleted', 'DeliveredToRecipient', 'SubmissionRequested']) {
        const byId = count(type);
        expect([...ids].filter((id) => byId.get(id) !== 1)).toEqual([]);
      }
      const eventIds = events.map((e) => e.metadata.eventId);
      expect(new Set(eventIds).size).toBe(eventIds.length);
      await eventually(() => {
        for (const letter of letters) {
          const notices = mailbox.mails.filter((mail) => mail.text.includes(letter.correspondenceId!) && mail.to.some((to) => to.startsWith('recipient')));
          if (notices.length !== 1) throw new Error(`letter ${letter.correspondenceId}: ${notices.length} notice(s) to its recipient`);
        }
      }, 60_000);

      // The read models equal a rebuild from position 0 of the log (after the consumers caught up).
      for (const projection of ['mailbox', 'audit']) {
        const live = await eventually(async () => {
          const before = await ops('GET', `/projections/${projection}/digest`);
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          const again = await ops('GET', `/projections/${projection}/digest`);
          expect(again.digest).toBe(before.digest); // settled
          return again;
        }, 60_000);
        const rebuilt = await ops('POST', `/projections/${projection}/rebuild`);
        const after = await ops('GET', `/projections/${projection}/digest`);
        expect({ projection, digest: after.digest, rows: after.rows }).toEqual({ projection, digest: live.digest, rows: live.rows });
        log(`${projection}: live read model equals its rebuild (${JSON.stringify(rebuilt).slice(0, 160)})`);
      }
      const evidenceOfOne = await auditor('GET', `/evidence/${letters[0].correspondenceId}/verification`);
      expect(JSON.stringify(evidenceOfOne)).toMatch(/valid/i);
      log(`${LETTERS} letters, ${events.length} events in the shared log, ${mailbox.mails.length} mails caught`);
      const bytes = await cluster.bytesOnDisk();
      const perLetter = (n: number | undefined) => (n === undefined ? 'n/a (not the local broker)' : `${Math.round(n / LETTERS / 1024)} kB`);
      log(
        `bytes on disk per delivery (whole run, enrolments included): PostgreSQL ${perLetter(bytes.postgres)}, ` +
          `instances' SQLite + archive ${perLetter(bytes.instances)} (${Object.entries(bytes.byInstance)
            .map(([name, n]) => `${name} ${perLetter(n)}`)
            .join(', ')}), ` +
          `Kafka partitions ${perLetter(bytes.kafka)}`,
      );
    }, 1_500_000);
  });
}

/** `correspondence-<id>` → `<id>` (stream ids are `<category>-<id>`). */
function streamIdTail(streamId: string): string {
  return streamId.slice(streamId.indexOf('-') + 1);
}
