import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig, type SigillumConfig } from '@sigillum/config';
import { CHAIN_CATEGORY, CORRESPONDENCE_CATEGORY, streamIdOf, TRUST_CHECK_CATEGORY } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { baseUrlOf, bearer, eventually, issueStaffToken, pendingEvent } from '@sigillum/testing';
import { decodeEntryBundle, openNote, parseCheckpoint, parseVerifierKey, verifyConsistency } from '@sigillum/tlog';
import Database from 'better-sqlite3';
import { rolesFor } from '../../gateway/src/roles';
import { EvidenceService } from '../src/evidence/evidence.service';
import { CorrespondenceStory } from '../src/evidence/testing-fixtures';
import type { LogIntegrityReport } from '../src/evidence-log/log-integrity';

const ORIGIN = 'sigillum.test/sigillum/evidence';

interface EvidenceRow {
  global_position: number;
  stream_id: string;
  data: string;
}

/**
 * The evidence log's integrity as a regulator checks it on the server, after an attacker with access to the database
 * rewrote the `events` table of the SQLite store directly: four letters' evidence is recorded and covered by signed
 * checkpoints; then, each on its own copy of the data directory, rows are cut off at the end, deleted in the middle,
 * swapped or edited by one byte, and the process restarted (the tree is rebuilt from the store at start).
 * GET /evidence-log/integrity names the record and what was done to it; GET /health says the log stopped signing.
 * Untouched, the copy is consistent, and a checkpoint signed after the restart extends the one signed before.
 */
describe('evidence log integrity (e2e)', () => {
  const dirs: string[] = [];
  let pristine: string;
  /** Leaves in log order: what the store held when the last checkpoint was signed. */
  let leaves: { evidenceId: string; correspondenceId: string; chainIndex: number; eventName: string }[];
  let lastCheckpoint: { size: number; root: string };

  function configOf(dataDir: string): SigillumConfig {
    return loadConfig({
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'error',
      KEYSTORE_PASSPHRASE: 'evidence-log integrity e2e passphrase, not a secret',
      EVIDENCE_LOG_ORIGIN: ORIGIN,
      EVIDENCE_CHECKPOINT_MS: '100',
      EVIDENCE_CHECKPOINT_LEAVES: '1000',
    });
  }

  interface Running {
    app: INestApplication;
    base: string;
    auditor: Record<string, string>;
    config: SigillumConfig;
    dataDir: string;
  }

  async function start(dataDir: string): Promise<Running> {
    const config = configOf(dataDir);
    const app = await createSigillumApp(config, rolesFor(['directory', 'certifier']));
    await app.listen(0, '127.0.0.1');
    const base = baseUrlOf(app.getHttpServer());
    return { app, base, config, dataDir, auditor: bearer(await issueStaffToken(base, dataDir, ['auditor'], `auditor-${dirs.length}`)) };
  }

  async function getJson<T>(running: Running, url: string, headers: Record<string, string> = running.auditor): Promise<{ status: number; body: T }> {
    const response = await fetch(`${running.base}${url}`, { headers });
    return { status: response.status, body: (await response.json()) as T };
  }

  /** A letter's first evidence (two records), recorded by the certifier of `running`. */
  async function letter(running: Running): Promise<string> {
    const others = new SqliteEventStore({ filename: running.config.sqliteFile });
    try {
      const story = new CorrespondenceStory({ ids: 'uuid' });
      const requested = story.submissionRequested();
      const started = story.chainStarted();
      for (const [checkId, answer] of Object.entries(story.trustChecks)) {
        await others.append(streamIdOf(TRUST_CHECK_CATEGORY, checkId), [pendingEvent('TrustCheckAnswered', answer)], 'any');
      }
      await others.append(
        streamIdOf(CORRESPONDENCE_CATEGORY, story.correspondenceId),
        [pendingEvent(requested.event.type, requested.event.data, { eventId: requested.eventId })],
        'no-stream',
      );
      await others.append(
        streamIdOf(CHAIN_CATEGORY, story.correspondenceId),
        [pendingEvent(started.event.type, started.event.data, { eventId: started.eventId })],
        'no-stream',
      );
      await running.app
        .get(EvidenceService)
        .record(story.correspondenceId, started.eventId, { correlationId: 'evidence-log-integrity-e2e', causationId: started.eventId });
      return story.correspondenceId;
    } finally {
      await others.close();
    }
  }

  /** The latest checkpoint once it covers `size` leaves. */
  async function checkpointCovering(running: Running, size: number): Promise<{ size: number; root: Buffer }> {
    const verifier = parseVerifierKey((await (await fetch(`${running.base}/evidence-log/key`)).text()).trim());
    return eventually(
      async () => {
        const response = await fetch(`${running.base}/evidence-log/checkpoint`, { headers: running.auditor });
        expect(response.status).toBe(200);
        const checkpoint = parseCheckpoint(openNote(await response.text(), [verifier]).text);
        expect(checkpoint.size).toBeGreaterThanOrEqual(size);
        return { size: checkpoint.size, root: checkpoint.rootHash };
      },
      10_000,
      100,
    );
  }

  /** A copy of the pristine data directory, tampered with by `tamper` on its SQLite file, then started. */
  async function startTampered(tamper: (db: Database.Database, rows: EvidenceRow[]) => void): Promise<Running> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-integrity-'));
    dirs.push(dataDir);
    fs.cpSync(pristine, dataDir, { recursive: true });
    const db = new Database(configOf(dataDir).sqliteFile);
    try {
      const rows = db
        .prepare("SELECT global_position, stream_id, data FROM events WHERE event_type = 'EvidenceRecorded' ORDER BY global_position")
        .all() as EvidenceRow[];
      expect(rows).toHaveLength(leaves.length);
      tamper(db, rows);
    } finally {
      db.close();
    }
    return start(dataDir);
  }

  async function integrityOf(running: Running): Promise<LogIntegrityReport> {
    const { status, body } = await getJson<LogIntegrityReport>(running, '/evidence-log/integrity');
    expect(status).toBe(200);
    return body;
  }

  /** GET /health reports the evidence log down, signing stopped, naming the first problem. */
  async function expectHealthStopped(running: Running, report: LogIntegrityReport): Promise<void> {
    const { status, body } = await getJson<{ status: string; components: Record<string, { up: boolean; detail?: string }> }>(running, '/health', {});
    expect(status).toBe(503);
    expect(body.status).toBe('down');
    expect(body.components['evidence-log']).toMatchObject({ up: false, detail: `signing stopped: ${report.problems[0].message}` });
    expect(body.components.eventStore.up).toBe(true);
  }

  beforeAll(async () => {
    pristine = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-integrity-pristine-'));
    dirs.push(pristine);
    const running = await start(pristine);
    try {
      for (let i = 0; i < 4; i++) {
        await letter(running);
        const covered = await checkpointCovering(running, 2 * (i + 1));
        lastCheckpoint = { size: covered.size, root: covered.root.toString('base64') };
      }
      const report = await integrityOf(running);
      expect(report).toMatchObject({ status: 'consistent', checkedLeaves: 8, lastCheckpoint, problems: [] });
      const store = new SqliteEventStore({ filename: running.config.sqliteFile });
      leaves = (await store.readAll())
        .filter((recorded) => recorded.event.type === 'EvidenceRecorded')
        .map((recorded) => {
          const data = recorded.event.data as { evidenceId: string; correspondenceId: string; chainIndex: number; eventName: string };
          return { evidenceId: data.evidenceId, correspondenceId: data.correspondenceId, chainIndex: data.chainIndex, eventName: data.eventName };
        });
      await store.close();
      expect(leaves.map((leaf) => leaf.chainIndex)).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
      // Staff cannot read it without the auditor role; anonymous callers not at all.
      expect((await fetch(`${running.base}/evidence-log/integrity`)).status).toBe(401);
    } finally {
      await running.app.close();
    }
  }, 90_000);

  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('(a) the last evidence row deleted: a truncation, its leaf index and the chain it cut', async () => {
    const running = await startTampered((db, rows) => db.prepare('DELETE FROM events WHERE global_position = ?').run(rows[7].global_position));
    try {
      const report = await integrityOf(running);
      expect(report.status).toBe('inconsistent');
      expect(report.checkedLeaves).toBe(7);
      expect(report.lastCheckpoint).toEqual(lastCheckpoint);
      expect(report.problems[0]).toMatchObject({ kind: 'truncated', leafIndex: 7, correspondenceId: leaves[7].correspondenceId, chainIndex: 1 });
      expect(report.problems[0].message).toMatch(/leaves 7\.\.7 \(1 record\) of the checkpoint of size 8/);
      await expectHealthStopped(running, report);
    } finally {
      await running.app.close();
    }
  }, 60_000);

  it('(b) a middle row deleted: the missing record named by its chain, the count short', async () => {
    const running = await startTampered((db, rows) => db.prepare('DELETE FROM events WHERE global_position = ?').run(rows[2].global_position));
    try {
      const report = await integrityOf(running);
      expect(report.checkedLeaves).toBe(7);
      expect(report.problems[0]).toMatchObject({ kind: 'deleted', leafIndex: 2, correspondenceId: leaves[2].correspondenceId, chainIndex: 0 });
      expect(report.problems[0].message).toMatch(/chainIndex 0 is missing/);
      expect(report.problems[0].message).toMatch(/7 evidence records, 1 fewer than the 8/);
      await expectHealthStopped(running, report);
    } finally {
      await running.app.close();
    }
  }, 60_000);

  it('(c) two rows swapped (their data exchanged): both records named, reordered', async () => {
    const running = await startTampered((db, rows) => {
      const update = db.prepare('UPDATE events SET data = ? WHERE global_position = ?');
      db.transaction(() => {
        update.run(rows[4].data, rows[3].global_position);
        update.run(rows[3].data, rows[4].global_position);
      })();
    });
    try {
      const report = await integrityOf(running);
      expect(report.checkedLeaves).toBe(8);
      expect(report.problems[0]).toMatchObject({
        kind: 'reordered',
        leafIndex: 3,
        evidenceId: leaves[4].evidenceId,
        correspondenceId: leaves[4].correspondenceId,
        chainIndex: 0,
      });
      expect(report.problems[0].message).toContain(leaves[3].evidenceId);
      expect(report.problems).toHaveLength(1);
      await expectHealthStopped(running, report);
    } finally {
      await running.app.close();
    }
  }, 60_000);

  it('(d) one byte of a record edited: named as edited; the health says the log stopped signing', async () => {
    const running = await startTampered((db, rows) => {
      const data = rows[5].data;
      const at = data.indexOf('"EventTime":"') + '"EventTime":"'.length + 3; // a digit of the year
      expect(at).toBeGreaterThan(20);
      const edited = `${data.slice(0, at)}${data[at] === '9' ? '8' : '9'}${data.slice(at + 1)}`;
      db.prepare('UPDATE events SET data = ? WHERE global_position = ?').run(edited, rows[5].global_position);
    });
    try {
      const report = await integrityOf(running);
      expect(report.checkedLeaves).toBe(8);
      expect(report.problems[0]).toMatchObject({
        kind: 'edited',
        leafIndex: 5,
        evidenceId: leaves[5].evidenceId,
        correspondenceId: leaves[5].correspondenceId,
        chainIndex: 1,
        eventName: leaves[5].eventName,
      });
      expect(report.problems[0].message).toMatch(/recordDigest is no longer the SHA-256 of its record/);
      await expectHealthStopped(running, report);
    } finally {
      await running.app.close();
    }
  }, 60_000);

  it('(e) untouched: consistent, healthy, and a checkpoint signed after the restart extends the one signed before', async () => {
    const running = await startTampered(() => undefined);
    try {
      expect(await integrityOf(running)).toEqual({ status: 'consistent', checkedLeaves: 8, lastCheckpoint, problems: [] });
      const health = await getJson<{ components: Record<string, { up: boolean; detail?: string }> }>(running, '/health', {});
      expect(health.body.components['evidence-log']).toMatchObject({
        up: true,
        detail: `signing: 8 evidence records, last checkpoint of size ${lastCheckpoint.size}`,
      });

      await letter(running);
      const after = await checkpointCovering(running, 10);
      const { status, body } = await getJson<{ proof: string[] }>(running, `/evidence-log/consistency?from=${lastCheckpoint.size}&to=${after.size}`);
      expect(status).toBe(200);
      const before = Buffer.from(lastCheckpoint.root, 'base64');
      const proof = body.proof.map((hash) => Buffer.from(hash, 'base64'));
      expect(verifyConsistency(lastCheckpoint.size, after.size, proof, before, after.root)).toBe(true);
      expect(verifyConsistency(lastCheckpoint.size, after.size, proof, after.root, after.root)).toBe(false);
      const report = await integrityOf(running);
      expect(report).toMatchObject({
        status: 'consistent',
        checkedLeaves: 10,
        lastCheckpoint: { size: after.size, root: after.root.toString('base64') },
        problems: [],
      });

      // The entry bundles are the log's witness copy (kept on disk as each leaf was made): a record edited in the store
      // under the running log is still served as it was logged, so the edit shows against it.
      const tilePath = `/evidence-log/tile/entries/000.p/${after.size}`;
      const logged = decodeEntryBundle(Buffer.from(await (await fetch(`${running.base}${tilePath}`, { headers: running.auditor })).arrayBuffer()));
      const db = new Database(running.config.sqliteFile);
      try {
        const row = db.prepare("SELECT global_position, data FROM events WHERE event_type = 'EvidenceRecorded' ORDER BY global_position LIMIT 1").get() as {
          global_position: number;
          data: string;
        };
        expect(row.data).toContain('"EventTime":"2');
        db.prepare('UPDATE events SET data = ? WHERE global_position = ?').run(row.data.replace('"EventTime":"2', '"EventTime":"3'), row.global_position);
      } finally {
        db.close();
      }
      const served = await fetch(`${running.base}${tilePath}`, { headers: running.auditor });
      expect(served.status).toBe(200);
      const entries = decodeEntryBundle(Buffer.from(await served.arrayBuffer()));
      expect(entries.map((entry) => entry.toString('base64'))).toEqual(logged.map((entry) => entry.toString('base64')));
      expect(entries[0].toString('utf8')).toContain('"EventTime":"2');
      expect(fs.readdirSync(path.join(running.dataDir, 'evidence-log')).filter((name) => name.endsWith('.bin'))).toHaveLength(1);
    } finally {
      await running.app.close();
    }
  }, 60_000);
});
