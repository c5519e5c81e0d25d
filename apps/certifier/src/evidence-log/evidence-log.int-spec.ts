import { generateKeyPairSync, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '@nestjs/common';
import Database from 'better-sqlite3';
import { EVIDENCE_CATEGORY, EVIDENCE_LOG_CATEGORY, type EvidenceCheckpointSigned, streamIdOf } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { uuidGenerator } from '@sigillum/runtime/ids';
import { pendingEvent } from '@sigillum/testing';
import { type EvidenceRecorded } from '@sigillum/contracts';
import {
  ed25519NoteSigner,
  tilesOf,
  ed25519VerifierKey,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  rawEd25519PublicKey,
  verifyConsistency,
} from '@sigillum/tlog';
import { recordDigestOf } from '../evidence/evidence-record';
import { EvidenceLog } from './evidence-log';
import { type EvidenceLogConfig, originIdOf } from './evidence-log.config';
import type { EvidenceLogTsa } from './evidence-log.tsa';

const ORIGIN = 'int.test/sigillum/evidence';
const { privateKey } = generateKeyPairSync('ed25519');
const signer = { note: ed25519NoteSigner(ORIGIN, privateKey), verifierKey: ed25519VerifierKey(ORIGIN, rawEd25519PublicKey(privateKey)) };
const verifier = parseVerifierKey(signer.verifierKey);
/** The time-stamp is checked by the e2e; here a stand-in. */
const tsa = { timeStamp: () => Buffer.from('not a token'), timeStampAsync: () => Promise.resolve(Buffer.from('not a token')) } as unknown as EvidenceLogTsa;
const clock = { now: () => new Date() };

describe('EvidenceLog (real SQLite store)', () => {
  let dir: string;
  let file: string;
  const stores: SqliteEventStore[] = [];
  const open = () => {
    const store = new SqliteEventStore({ filename: file });
    stores.push(store);
    return store;
  };
  const logOf = (store: SqliteEventStore, config: Partial<EvidenceLogConfig> = {}) =>
    new EvidenceLog(store, clock, uuidGenerator, signer, tsa, {
      origin: ORIGIN,
      checkpointMs: 3_600_000,
      checkpointLeaves: 3,
      tsaPolicyOid: '1.2.3',
      entriesDir: fs.mkdtempSync(path.join(dir, 'log-')),
      ...config,
    });

  async function recordEvidence(store: SqliteEventStore, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const correspondenceId = randomUUID();
      const record = {
        eventName: 'SubmissionAcceptance',
        EvidenceIdentifier: randomUUID(),
        MessageIdentifier: correspondenceId,
        chainIndex: 0,
        previousEvidenceDigest: null,
      };
      await store.append(
        streamIdOf(EVIDENCE_CATEGORY, correspondenceId),
        [
          pendingEvent('EvidenceRecorded', {
            evidenceId: record.EvidenceIdentifier,
            correspondenceId,
            chainIndex: 0,
            eventName: record.eventName,
            record,
            recordDigest: recordDigestOf(record),
            previousEvidenceDigest: null,
            jws: 'x.y.z',
            recordedAt: new Date().toISOString(),
          }),
        ],
        'no-stream',
      );
      ids.push(correspondenceId);
    }
    return ids;
  }

  async function checkpointsOf(store: SqliteEventStore): Promise<EvidenceCheckpointSigned['data'][]> {
    return (await store.readStream(streamIdOf(EVIDENCE_LOG_CATEGORY, originIdOf(ORIGIN)))).map((event) => (event.event as EvidenceCheckpointSigned).data);
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-evidence-log-int-'));
    file = path.join(dir, 'events.sqlite');
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('signs once EVIDENCE_CHECKPOINT_LEAVES leaves are unsigned, not before (the time limit far away)', async () => {
    const store = open();
    const log = logOf(store);
    await recordEvidence(store, 2);
    await log.tick();
    expect(await checkpointsOf(store)).toEqual([]);
    await recordEvidence(store, 1);
    await log.tick();
    expect((await checkpointsOf(store)).map((data) => data.treeSize)).toEqual([3]);
    await log.tick();
    expect(await checkpointsOf(store)).toHaveLength(1); // nothing grew: nothing signed
  });

  it('reads only the evidence streams from the store (the other events are never parsed), every EvidenceRecorded among them a leaf', async () => {
    const store = open();
    const readAll = jest.spyOn(store, 'readAll');
    const log = logOf(store);
    for (let i = 0; i < 3; i++) {
      await store.append(`note-${randomUUID()}`, [pendingEvent('NoteTaken', { i }), pendingEvent('NoteTagged', { i })], 'no-stream');
      await recordEvidence(store, 1);
    }
    await log.tick();
    expect((await checkpointsOf(store)).map((data) => data.treeSize)).toEqual([3]);
    expect(readAll.mock.calls.length).toBeGreaterThan(0);
    for (const [options] of readAll.mock.calls) expect(options?.categories).toEqual([EVIDENCE_CATEGORY]);
  });

  it('signs EVIDENCE_CHECKPOINT_MS after the tree grew, however few the leaves', async () => {
    const store = open();
    const log = logOf(store, { checkpointMs: 150, checkpointLeaves: 1000 });
    await recordEvidence(store, 1);
    await log.tick();
    expect(await checkpointsOf(store)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await log.tick();
    const [checkpoint] = await checkpointsOf(store);
    expect(checkpoint.treeSize).toBe(1);
    expect(parseCheckpoint(openNote(checkpoint.note, [verifier]).text)).toMatchObject({ origin: ORIGIN, size: 1 });
  });

  it('two certifiers on one store: each checkpoint is signed once, sizes only grow, each extends the one before', async () => {
    const [a, b] = [open(), open()];
    const [logA, logB] = [logOf(a), logOf(b)];
    for (let round = 0; round < 12; round++) {
      await recordEvidence(round % 2 ? a : b, 1 + (round % 4));
      await Promise.all([logA.tick(), logB.tick(), logA.tick(), logB.tick()]);
    }
    const checkpoints = await checkpointsOf(a);
    expect(checkpoints.length).toBeGreaterThan(3);
    const sizes = checkpoints.map((data) => data.treeSize);
    expect([...sizes].sort((x, y) => x - y)).toEqual(sizes);
    expect(new Set(sizes).size).toBe(sizes.length);
    await Promise.all([logA.refresh(), logB.refresh()]);
    for (let i = 1; i < checkpoints.length; i++) {
      const [before, after] = [checkpoints[i - 1], checkpoints[i]];
      const proof = logA.consistencyProof(before.treeSize, after.treeSize).map((hash) => Buffer.from(hash, 'base64'));
      expect(verifyConsistency(before.treeSize, after.treeSize, proof, Buffer.from(before.rootHash, 'hex'), Buffer.from(after.rootHash, 'hex'))).toBe(true);
    }
    expect(logA.latest()).toEqual(logB.latest());
    expect(logA.rootAt(logA.size).equals(logB.rootAt(logB.size))).toBe(true);
  });

  it('refuses to sign once the store no longer gives a signed checkpoint its root (an evidence row edited)', async () => {
    const store = open();
    await recordEvidence(store, 3);
    await logOf(store).tick();
    expect(await checkpointsOf(store)).toHaveLength(1);

    const db = new Database(file);
    const row = db.prepare("SELECT global_position, data FROM events WHERE stream_id LIKE 'evidence-%' ORDER BY global_position LIMIT 1 OFFSET 1").get() as {
      global_position: number;
      data: string;
    };
    const data = JSON.parse(row.data) as { record: { eventName: string } };
    data.record.eventName = 'ContentHandover';
    db.prepare('UPDATE events SET data = ? WHERE global_position = ?').run(JSON.stringify(data), row.global_position);
    db.close();

    const errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const restarted = logOf(store);
    await recordEvidence(store, 3);
    await restarted.tick();
    expect(await checkpointsOf(store)).toHaveLength(1);
    expect(errors).toHaveBeenCalledWith(expect.stringMatching(/recordDigest is not the SHA-256 of its record/));
    expect(errors).toHaveBeenCalledWith(expect.stringMatching(/no longer gives the root of the checkpoint of size 3 .* no further checkpoint will be signed/));
    errors.mockRestore();
  });

  it('a log started on the directory a killed one left (entries, index) rebuilds both from the store: same proofs, verdicts, tiles', async () => {
    const store = open();
    const entriesDir = fs.mkdtempSync(path.join(dir, 'log-'));
    const ids = [...(await recordEvidence(store, 7)), randomUUID()]; // the last one unknown to the log
    const killed = logOf(store, { entriesDir });
    await killed.tick();
    const answers = async (log: EvidenceLog) => {
      await log.refresh();
      const checkpoint = log.latest();
      const perCorrespondence = [];
      for (const id of ids) {
        const served = (await store.readStream(streamIdOf(EVIDENCE_CATEGORY, id))).map((event) => (event.event as EvidenceRecorded).data);
        perCorrespondence.push({
          leaves: await log.leavesOf(id, checkpoint),
          completeness: log.completenessOf(id, checkpoint),
          verdict: await log.verdictOn(id, served),
        });
      }
      const tiles = await Promise.all(tilesOf(checkpoint?.treeSize ?? 0).map((ref) => log.tile(ref)));
      return { checkpoint, perCorrespondence, tiles };
    };
    const before = await answers(killed);
    expect(before.checkpoint?.treeSize).toBe(7);
    expect(before.perCorrespondence[0].leaves[0].inclusionProof).not.toBeNull();
    expect(before.tiles.every((tile) => tile !== undefined && tile.length > 0)).toBe(true);

    // `killed` is never closed: its files stay as it left them, open; a half-written index lies beside them.
    fs.writeFileSync(path.join(entriesDir, `leaves-${originIdOf(ORIGIN)}.sqlite-journal`), 'torn');
    const restarted = logOf(store, { entriesDir });
    await restarted.tick();
    expect(await answers(restarted)).toEqual(before);
    await restarted.onModuleDestroy();
    await killed.onModuleDestroy();
  });
});
