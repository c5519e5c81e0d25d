import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig, type SigillumConfig } from '@sigillum/config';
import { CHAIN_CATEGORY, CORRESPONDENCE_CATEGORY, EVIDENCE_LOG_CATEGORY, streamIdOf, TRUST_CHECK_CATEGORY } from '@sigillum/contracts';
import { canonicalizeToBuffer, verifyTimeStampToken } from '@sigillum/crypto';
import { SqliteEventStore } from '@sigillum/eventstore';
import { createSigillumApp } from '@sigillum/runtime';
import { baseUrlOf, bearer, eventually, issueStaffToken, pendingEvent } from '@sigillum/testing';
import {
  decodeEntryBundle,
  leafHash,
  type NoteVerifier,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  rootOfEntries,
  verifyConsistency,
  verifyInclusion,
} from '@sigillum/tlog';
import { rolesFor } from '../../gateway/src/roles';
import { originIdOf } from '../src/evidence-log/evidence-log.config';
import { EvidenceService } from '../src/evidence/evidence.service';
import { CorrespondenceStory } from '../src/evidence/testing-fixtures';

interface ProofAnswer {
  correspondenceId: string;
  verifierKey: string;
  checkpoint: { origin: string; treeSize: number; rootHash: string; note: string; signedAt: string; timeStampToken: string } | null;
  records: { evidenceId: string; record: Record<string, unknown>; recordDigest: string; leafIndex: number | null; inclusionProof: string[] | null }[];
}

const ORIGIN = 'sigillum.test/sigillum/evidence';
const b64 = (values: readonly string[]) => values.map((value) => Buffer.from(value, 'base64'));

/**
 * The evidence transparency log as an outside auditor checks it, against a real process (gateway, directory and
 * certifier roles, embedded SQLite): letters' evidence is recorded; the auditor fetches the signed checkpoint,
 * verifies its note with the published key by the C2SP formats alone, every record's inclusion proof from the record
 * itself (leaf = SHA-256(0x00 || canonical JSON)), the tiles against the checkpoint root, and consistency between
 * checkpoints — across a restart of the process on the same data directory.
 */
describe('evidence transparency log (e2e)', () => {
  let dataDir: string;
  let config: SigillumConfig;
  let app: INestApplication | undefined;
  let base: string;
  let auditor: Record<string, string>;
  let verifier: NoteVerifier;
  let caPem: string;
  /** The other roles' writer (domicile, gateway): a second connection to the same store file. */
  let others: SqliteEventStore;

  async function start(): Promise<void> {
    app = await createSigillumApp(config, rolesFor(['directory', 'certifier']));
    await app.listen(0, '127.0.0.1');
    base = baseUrlOf(app.getHttpServer());
  }

  async function get(url: string, headers: Record<string, string> = auditor): Promise<Response> {
    return fetch(`${base}${url}`, { headers });
  }

  /** A letter's first evidence (validated by the sender, accepted for submission), recorded by the certifier. */
  async function letter(): Promise<string> {
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
    await app!.get(EvidenceService).record(story.correspondenceId, started.eventId, { correlationId: 'evidence-log-e2e', causationId: started.eventId });
    return story.correspondenceId;
  }

  /** The proof answer once a checkpoint covers every record of the correspondence. */
  async function provenProof(correspondenceId: string): Promise<ProofAnswer> {
    return eventually(
      async () => {
        const response = await get(`/evidence/${correspondenceId}/proof`);
        expect(response.status).toBe(200);
        const body = JSON.parse(await response.text()) as ProofAnswer;
        expect(body.records.length).toBeGreaterThan(0);
        expect(body.records.every((record) => record.inclusionProof !== null)).toBe(true);
        return body;
      },
      10_000,
      100,
    );
  }

  /** Checks a proof answer the way an outside verifier would; returns the checkpoint's size and root. */
  function verifyProofAnswer(answer: ProofAnswer): { size: number; root: Buffer; note: string } {
    const opened = openNote(answer.checkpoint!.note, [verifier]);
    const checkpoint = parseCheckpoint(opened.text);
    expect(checkpoint.origin).toBe(ORIGIN);
    // The note is time-stamped (RFC 3161) by the certifier's TSA, certified by its CA.
    const stamped = verifyTimeStampToken(Buffer.from(answer.checkpoint!.timeStampToken, 'base64'), {
      data: Buffer.from(answer.checkpoint!.note, 'utf8'),
      trustedCaPem: caPem,
    });
    expect(stamped.genTime.toISOString()).toBe(answer.checkpoint!.signedAt);
    expect(() =>
      verifyTimeStampToken(Buffer.from(answer.checkpoint!.timeStampToken, 'base64'), {
        data: Buffer.from(`${answer.checkpoint!.note} `, 'utf8'),
        trustedCaPem: caPem,
      }),
    ).toThrow();
    for (const item of answer.records) {
      const entry = canonicalizeToBuffer(item.record);
      expect(createHash('sha256').update(entry).digest('hex')).toBe(item.recordDigest);
      expect(verifyInclusion(item.leafIndex!, checkpoint.size, leafHash(entry), b64(item.inclusionProof!), checkpoint.rootHash)).toBe(true);
      // A flipped byte in the record is found: its leaf is no longer in the tree.
      const edited = canonicalizeToBuffer({ ...item.record, EventTime: '1999-01-01T00:00:00.000Z' });
      expect(verifyInclusion(item.leafIndex!, checkpoint.size, leafHash(edited), b64(item.inclusionProof!), checkpoint.rootHash)).toBe(false);
    }
    return { size: checkpoint.size, root: checkpoint.rootHash, note: answer.checkpoint!.note };
  }

  async function consistent(from: { size: number; root: Buffer }, to: { size: number; root: Buffer }): Promise<boolean> {
    const response = await get(`/evidence-log/consistency?from=${from.size}&to=${to.size}`);
    expect(response.status).toBe(200);
    const body = JSON.parse(await response.text()) as { proof: string[] };
    return verifyConsistency(from.size, to.size, b64(body.proof), from.root, to.root);
  }

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-evidence-log-'));
    config = loadConfig({
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'error',
      KEYSTORE_PASSPHRASE: 'evidence-log e2e passphrase, not a secret',
      EVIDENCE_LOG_ORIGIN: ORIGIN,
      EVIDENCE_CHECKPOINT_MS: '100',
      EVIDENCE_CHECKPOINT_LEAVES: '1000',
    });
    await start();
    others = new SqliteEventStore({ filename: config.sqliteFile });
    auditor = bearer(await issueStaffToken(base, dataDir, ['auditor'], 'auditor-1'));
  }, 60_000);

  afterAll(async () => {
    await others?.close();
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  let first: { size: number; root: Buffer; note: string };
  let second: { size: number; root: Buffer; note: string };

  it('publishes its verifier key to anyone, and keeps checkpoints, tiles and proofs for auditors', async () => {
    const key = await get('/evidence-log/key', {});
    expect(key.status).toBe(200);
    expect(key.headers.get('content-type')).toMatch(/^text\/plain/);
    const vkey = (await key.text()).trim();
    verifier = parseVerifierKey(vkey);
    caPem = await (await get('/ca/certificate', {})).text();
    expect(verifier.name).toBe(ORIGIN);
    expect(vkey).toMatch(/^sigillum\.test\/sigillum\/evidence\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    for (const url of ['/evidence-log/checkpoint', '/evidence-log/tile/0/000', '/evidence-log/consistency?from=1', `/evidence/${randomUUID()}/proof`]) {
      expect({ url, status: (await get(url, {})).status }).toEqual({ url, status: 401 });
    }
  });

  it('proves each record of a letter included in a signed checkpoint, verified by the published formats alone', async () => {
    const correspondenceId = await letter();
    const answer = await provenProof(correspondenceId);
    expect(answer.verifierKey).toBe(
      `${verifier.name}+${verifier.keyId.toString('hex')}+${Buffer.concat([Buffer.from([1]), verifier.publicKey]).toString('base64')}`,
    );
    first = verifyProofAnswer(answer);
    expect(answer.records.map((record) => record.leafIndex)).toEqual([0, 1]);

    const checkpoint = await get('/evidence-log/checkpoint');
    expect(checkpoint.headers.get('content-type')).toMatch(/^text\/plain/);
    const note = await checkpoint.text();
    expect(parseCheckpoint(openNote(note, [verifier]).text).size).toBeGreaterThanOrEqual(first.size);
    // A note whose text was altered fails with the published key.
    expect(() => openNote(note.replace(/\n\d+\n/, '\n99\n'), [verifier])).toThrow(/does not verify/);
  });

  it('serves the tiles and entry bundles of the checkpoint (c2sp.org/tlog-tiles); they rebuild its root', async () => {
    const note = await (await get('/evidence-log/checkpoint')).text();
    const { size, rootHash } = parseCheckpoint(openNote(note, [verifier]).text);
    expect(size).toBeLessThan(256);
    const tile = await get(`/evidence-log/tile/0/000.p/${size}`);
    expect(tile.status).toBe(200);
    expect(tile.headers.get('content-type')).toBe('application/octet-stream');
    const hashes = Buffer.from(await tile.arrayBuffer());
    expect(hashes).toHaveLength(32 * size);
    const bundle = await get(`/evidence-log/tile/entries/000.p/${size}`);
    expect(bundle.status).toBe(200);
    const entries = decodeEntryBundle(Buffer.from(await bundle.arrayBuffer()));
    expect(entries).toHaveLength(size);
    entries.forEach((entry, i) => expect(leafHash(entry).equals(hashes.subarray(32 * i, 32 * (i + 1)))).toBe(true));
    expect(rootOfEntries(entries).equals(rootHash)).toBe(true);
    expect(JSON.parse(entries[0].toString('utf8'))).toHaveProperty('eventName');
    expect((await get(`/evidence-log/tile/0/000.p/${size + 1}`)).status).toBe(404);
    expect((await get('/evidence-log/tile/0/000')).status).toBe(404); // no full tile yet
    expect((await get('/evidence-log/tile/0/1')).status).toBe(404); // not a tile path
  });

  it('a later checkpoint extends the earlier one (consistency proof)', async () => {
    const correspondenceId = await letter();
    second = verifyProofAnswer(await provenProof(correspondenceId));
    expect(second.size).toBeGreaterThan(first.size);
    expect(await consistent(first, second)).toBe(true);
    expect(await consistent(first, { ...second, root: first.root })).toBe(false);
    expect((await get(`/evidence-log/consistency?from=0&to=${second.size}`)).status).toBe(400);
    expect((await get(`/evidence-log/consistency?from=${second.size + 1000}`)).status).toBe(400);
    expect((await get('/evidence-log/consistency?from=abc')).status).toBe(400);
  });

  it('after a restart on the same data directory: same key, the tree rebuilt from the store, consistency still holds', async () => {
    await app!.close();
    app = undefined;
    await start();
    auditor = bearer(await issueStaffToken(base, dataDir, ['auditor'], 'auditor-2'));
    expect((await (await get('/evidence-log/key', {})).text()).trim()).toBe(
      `${verifier.name}+${verifier.keyId.toString('hex')}+${Buffer.concat([Buffer.from([1]), verifier.publicKey]).toString('base64')}`,
    );
    // The checkpoint signed before the restart is still served until a new one is due.
    const served = parseCheckpoint(openNote(await (await get('/evidence-log/checkpoint')).text(), [verifier]).text);
    expect(served.size).toBeGreaterThanOrEqual(second.size);

    const correspondenceId = await letter();
    const third = verifyProofAnswer(await provenProof(correspondenceId));
    expect(third.size).toBeGreaterThan(second.size);
    expect(await consistent(first, third)).toBe(true);
    expect(await consistent(second, third)).toBe(true);

    // Every checkpoint recorded on the log's stream verifies and none contradicts the next.
    const recorded = (await others.readStream(streamIdOf(EVIDENCE_LOG_CATEGORY, originIdOf(ORIGIN)))).map(
      (event) => event.event.data as { treeSize: number; note: string; rootHash: string; timeStampToken: string },
    );
    expect(recorded.length).toBeGreaterThanOrEqual(3);
    const checkpoints = recorded.map((data) => parseCheckpoint(openNote(data.note, [verifier]).text));
    checkpoints.forEach((checkpoint, i) =>
      expect([checkpoint.size, checkpoint.rootHash.toString('hex')]).toEqual([recorded[i].treeSize, recorded[i].rootHash]),
    );
    for (const data of recorded)
      verifyTimeStampToken(Buffer.from(data.timeStampToken, 'base64'), { data: Buffer.from(data.note, 'utf8'), trustedCaPem: caPem });
    // … and so does OpenSSL, given only the note, the token and the CA certificate.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-evidence-log-ts-'));
    try {
      fs.writeFileSync(path.join(dir, 'note.txt'), recorded[0].note, 'utf8');
      fs.writeFileSync(path.join(dir, 'note.tst'), Buffer.from(recorded[0].timeStampToken, 'base64'));
      fs.writeFileSync(path.join(dir, 'ca.pem'), caPem);
      const verified = execFileSync(
        'openssl',
        ['ts', '-verify', '-token_in', '-in', path.join(dir, 'note.tst'), '-data', path.join(dir, 'note.txt'), '-CAfile', path.join(dir, 'ca.pem')],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      expect(verified).toContain('Verification: OK');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    for (let i = 1; i < checkpoints.length; i++) {
      expect(checkpoints[i].size).toBeGreaterThan(checkpoints[i - 1].size);
      expect(
        await consistent({ size: checkpoints[i - 1].size, root: checkpoints[i - 1].rootHash }, { size: checkpoints[i].size, root: checkpoints[i].rootHash }),
      ).toBe(true);
    }
  }, 60_000);
});
