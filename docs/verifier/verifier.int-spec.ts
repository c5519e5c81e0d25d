import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVIDENCE_CATEGORY, EVIDENCE_LOG_CATEGORY, type EvidenceCheckpointSigned, streamIdOf } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { uuidGenerator } from '@sigillum/runtime/ids';
import { pendingEvent } from '@sigillum/testing';
import { ed25519NoteSigner, ed25519VerifierKey, rawEd25519PublicKey } from '@sigillum/tlog';
// Sigillum code only PRODUCES the real data below (the certifier's evidence log and its routes); the script verifies alone.
import { recordDigestOf } from '../../apps/certifier/src/evidence/evidence-record';
import { EvidenceLog } from '../../apps/certifier/src/evidence-log/evidence-log';
import { originIdOf } from '../../apps/certifier/src/evidence-log/evidence-log.config';
import { EvidenceLogController } from '../../apps/certifier/src/evidence-log/evidence-log.controller';
import type { EvidenceLogTsa } from '../../apps/certifier/src/evidence-log/evidence-log.tsa';
import { exportBundle } from '../../scripts/audit/export';
import type { AuditClient } from '../../scripts/audit/http';

/**
 * Runs docs/verifier/verify-evidence-log.py -- the verifier that shares nothing with the log's writer -- with Debian's
 * /usr/bin/python3 on published vectors: the signed notes of the C2SP signed-note spec and of golang.org/x/mod/sumdb/note,
 * and the RFC 6962 inclusion and consistency vectors of github.com/transparency-dev/merkle. Valid data must exit 0,
 * every tampering must exit 1 naming the failing part, unreadable input must exit 2. Then on real data: records, inclusion
 * proofs, checkpoints and a consistency proof as the certifier's evidence log serves them (GET /evidence/:id/proof,
 * /evidence-log/key, /evidence-log/consistency), produced here by Sigillum's code on a SQLite store.
 * Without python3-cryptography the suite says SKIPPED with the install command (.ci/run installs it).
 */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(__dirname, 'verify-evidence-log.py');
const INSTALL = 'apt-get install -y python3-cryptography';
const hasCryptography = spawnSync(PYTHON, ['-c', 'import cryptography'], { stdio: 'ignore' }).status === 0;

// c2sp.org/signed-note (C2SP/C2SP signed-note.md, "Verifier keys" > "Example"), copied value for value.
const C2SP_VKEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const C2SP_NOTE =
  'This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';
// golang.org/x/mod sumdb/note/note_test.go (TestNewVerifier, TestSign), github.com/golang/mod @ fe2ec04f.
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_NOTE =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n" +
  '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
// A production checkpoint: the example of c2sp.org/tlog-checkpoint (C2SP/C2SP tlog-checkpoint.md) is a checkpoint of the
// Go checksum database with its origin and key name renamed to example.com/behind-the-sofa; with them set back it verifies
// under sum.golang.org's published key (golang.org/x/mod gosumcheck/main.go, default of -k).
const SUMDB_VKEY = 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8';
const SUMDB_CHECKPOINT =
  'go.sum database tree\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n' +
  '— sum.golang.org Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n';

// RFC 6962 test tree of github.com/transparency-dev/merkle: leaves from testonly/constants.go (LeafInputs, @ 582a6ad1),
// roots and proofs from cmd/proofgen/main.go (@ 417fb0c3; 1-based leaf numbers there, 0-based indexes here).
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION: Array<{ index: number; size: number; proof: string[] }> = [
  { index: 0, size: 1, proof: [] },
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];
const CONSISTENCY: Array<{ size1: number; size2: number; proof: string[] }> = [
  { size1: 1, size2: 1, proof: [] },
  {
    size1: 1,
    size2: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    size1: 6,
    size2: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    size1: 2,
    size2: 5,
    proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'],
  },
  {
    size1: 6,
    size2: 7,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

const b64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');
const sha256 = (...parts: Buffer[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();

/**
 * A checkpoint signer for the RFC 6962 vectors (signed notes of the C2SP test tree have no published key): the Ed25519
 * seed of the published Go test key, under the test tree's origin as key name. Its key ID derivation is checked first
 * against the published Go vkey, so the vkey it gives the verifier is built the way the spec builds PeterNeumann's.
 */
const seed = Buffer.from(GO_SKEY.split('+').slice(4).join('+'), 'base64').subarray(1); // PRIVATE+KEY+name+id+base64(0x01 || seed)
const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
const publicRaw = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32);
function vkeyFor(name: string): string {
  const keyId = sha256(Buffer.from(`${name}\n`), Buffer.from([1]), publicRaw).subarray(0, 4);
  return `${name}+${keyId.toString('hex')}+${Buffer.concat([Buffer.from([1]), publicRaw]).toString('base64')}`;
}
const ORIGIN = 'example.com/rfc6962-test-tree';
function signNote(text: string, name = ORIGIN): string {
  const keyId = Buffer.from(vkeyFor(name).split('+')[1], 'hex');
  const signature = sign(null, Buffer.from(text), privateKey);
  return `${text}\n— ${name} ${Buffer.concat([keyId, signature]).toString('base64')}\n`;
}
const checkpoint = (size: number, rootHex = ROOTS[size - 1]): string => signNote(`${ORIGIN}\n${size}\n${b64(rootHex)}\n`);

let dir: string;
/** Runs the script on one JSON input (or on the given argv); returns exit status and both outputs. */
function verify(input: object | string[]): { status: number | null; out: string } {
  let args = input as string[];
  if (!Array.isArray(input)) {
    const file = join(dir, 'input.json');
    writeFileSync(file, JSON.stringify(input));
    args = ['--json', file];
  }
  const run = spawnSync(PYTHON, [SCRIPT, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}
/** Flips one bit of the byte at `at` of a string's UTF-8 encoding. */
function flip(s: string, at: number, bit = 1): string {
  const bytes = Buffer.from(s);
  bytes[at] ^= bit;
  return bytes.toString();
}
/** Flips one bit of a hex hash. */
function flipHex(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  bytes[0] ^= 8;
  return bytes.toString('hex');
}
/** Flips one bit of the signature bytes (not of their base64) in a note's last signature line. */
function flipSignature(note: string): string {
  const at = note.lastIndexOf(' ') + 1;
  const raw = Buffer.from(note.slice(at, -1), 'base64');
  raw[raw.length - 1] ^= 1;
  return `${note.slice(0, at)}${raw.toString('base64')}\n`;
}

if (!hasCryptography) {
  process.stdout.write(`Independent verifier suite SKIPPED: ${PYTHON} has no python3-cryptography. Install it: ${INSTALL}\n`);
  describe('independent evidence-log verifier (docs/verifier)', () => {
    it.skip(`needs python3-cryptography (${INSTALL})`, () => undefined);
  });
} else {
  describe('independent evidence-log verifier (docs/verifier)', () => {
    beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'sigillum-verifier-'))));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    describe('signed notes of the specs', () => {
      it.each([
        ['C2SP signed-note example', C2SP_VKEY, C2SP_NOTE],
        ['golang.org/x/mod/sumdb/note test note', GO_VKEY, GO_NOTE],
      ])('accepts the %s, and refuses it with one flipped byte in the text or the signature', (_, vkey, note) => {
        // Their texts are notes, not checkpoints: without --note-only the checkpoint format is refused.
        expect(verify({ vkey, checkpoint: note })).toEqual({ status: 1, out: expect.stringContaining('INVALID: checkpoint: ') });
        const ok = verify(['--note-only', '--vkey', vkey, '--checkpoint', writeNote(note)]);
        expect(ok).toEqual({ status: 0, out: expect.stringContaining('signature: valid') });
        for (const bad of [flip(note, 3), flipSignature(note)]) {
          const run = verify(['--note-only', '--vkey', vkey, '--checkpoint', writeNote(bad)]);
          expect(run).toEqual({ status: 1, out: expect.stringMatching(/INVALID: signature: Ed25519 signature by .* does not verify/) });
        }
        const garbled = note.replace(/ \S(\S+)\n$/, ' !$1\n'); // the signature's base64 itself broken
        expect(verify(['--note-only', '--vkey', vkey, '--checkpoint', writeNote(garbled)])).toEqual({
          status: 1,
          out: expect.stringMatching(/INVALID: signature of \S+: not base64/),
        });
      });

      it('ignores a signature by another key and refuses a note with no signature by the trusted key', () => {
        const run = verify(['--note-only', '--vkey', C2SP_VKEY, '--checkpoint', writeNote(GO_NOTE)]);
        expect(run).toEqual({ status: 1, out: expect.stringContaining('INVALID: signature: no signature by example.com/foo+530d903a') });
        // Go's note with a second signature line, by the C2SP key: unknown to a holder of Go's key, so ignored; but
        // a holder of the C2SP key must check it, and it does not verify over Go's text.
        const both = GO_NOTE + C2SP_NOTE.slice(C2SP_NOTE.indexOf('—'));
        expect(verify(['--note-only', '--vkey', GO_VKEY, '--checkpoint', writeNote(both)]).status).toBe(0);
        expect(verify(['--note-only', '--vkey', C2SP_VKEY, '--checkpoint', writeNote(both)])).toEqual({
          status: 1,
          out: expect.stringContaining('INVALID: signature: Ed25519 signature by example.com/foo+530d903a does not verify'),
        });
        expect(verify(['--note-only', '--vkey', C2SP_VKEY.replace('530d903a', '530d903b'), '--checkpoint', writeNote(C2SP_NOTE)])).toEqual({
          status: 2,
          out: expect.stringContaining('vkey: key ID does not match'),
        });
      });

      it('accepts a production checkpoint of sum.golang.org, and refuses it with a tree size or root edited', () => {
        expect(verify({ vkey: SUMDB_VKEY, checkpoint: SUMDB_CHECKPOINT })).toEqual({
          status: 0,
          out: expect.stringContaining(
            'checkpoint: origin go.sum database tree (not the key name sum.golang.org: the spec says SHOULD match), tree size 20852163, root CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=',
          ),
        });
        for (const bad of [SUMDB_CHECKPOINT.replace('20852163', '20852162'), SUMDB_CHECKPOINT.replace('CsUY', 'CsUZ'), flipSignature(SUMDB_CHECKPOINT)]) {
          expect(verify({ vkey: SUMDB_VKEY, checkpoint: bad })).toEqual({
            status: 1,
            out: expect.stringContaining('INVALID: signature: Ed25519 signature by sum.golang.org+033de0ae does not verify'),
          });
        }
      });

      it('builds the published Go vkey from the published Go private key (the test signer below is built the same way)', () => {
        expect(vkeyFor('PeterNeumann')).toBe(GO_VKEY);
      });
    });

    describe('RFC 6962 inclusion vectors, on a checkpoint of the test tree', () => {
      it.each(INCLUSION)('leaf $index of a tree of $size: valid, and every tampering refused and named', ({ index, size, proof }) => {
        const vkey = vkeyFor(ORIGIN);
        const good = { vkey, checkpoint: checkpoint(size), entry: b64(LEAVES[index]), index, proof: proof.map(b64) };
        expect(verify(good)).toEqual({ status: 0, out: expect.stringContaining(`inclusion: entry sha256:`) });
        const inclusionFails = expect.stringMatching(/INVALID: inclusion: /);
        const tamperings: object[] = [
          { ...good, entry: Buffer.concat([Buffer.from(LEAVES[index], 'hex'), Buffer.from([0])]).toString('base64') },
          { ...good, index: index + 1 },
          { ...good, proof: [...good.proof, b64(ROOTS[size - 1])] },
          { ...good, checkpoint: checkpoint(size, flipHex(ROOTS[size - 1])) },
          ...(index > 0 ? [{ ...good, index: index - 1 }] : []),
          { ...good, checkpoint: checkpoint(size * 2, ROOTS[size - 1]) },
          ...(size > 1 ? [{ ...good, proof: good.proof.slice(0, -1) }] : []),
          ...proof.map((_, i) => ({ ...good, proof: proof.map((h, j) => b64(i === j ? flipHex(h) : h)) })),
        ];
        for (const bad of tamperings) expect(verify(bad)).toEqual({ status: 1, out: inclusionFails });
        // The checkpoint itself edited after signing: the signature, not the proof, is what fails.
        const edited = good.checkpoint.replace(`\n${size}\n`, `\n${size + 1}\n`);
        expect(verify({ ...good, checkpoint: edited })).toEqual({ status: 1, out: expect.stringContaining('INVALID: signature: ') });
      });
    });

    describe('RFC 6962 consistency vectors, between two checkpoints of the test tree', () => {
      it.each(CONSISTENCY)('tree of $size1 in tree of $size2: valid, and a flipped proof bit refused', ({ size1, size2, proof }) => {
        const base = { vkey: vkeyFor(ORIGIN), checkpoint: checkpoint(size2), oldCheckpoint: checkpoint(size1), consistency: proof.map(b64) };
        expect(verify(base)).toEqual({ status: 0, out: expect.stringContaining(`consistency: the tree of size ${size1} is a prefix`) });
        for (let i = 0; i < proof.length; i++) {
          const bad = { ...base, consistency: proof.map((h, j) => b64(i === j ? flipHex(h) : h)) };
          expect(verify(bad)).toEqual({ status: 1, out: expect.stringMatching(/INVALID: consistency: /) });
        }
        const otherRoot = { ...base, oldCheckpoint: checkpoint(size1, flipHex(ROOTS[size1 - 1])) };
        expect(verify(otherRoot)).toEqual({ status: 1, out: expect.stringMatching(/INVALID: consistency: /) });
      });
    });

    it('takes the same data as files (flags), and says "bad input" with exit 2 for what it cannot read', () => {
      const { index, size, proof } = INCLUSION[2];
      const entry = join(dir, 'entry.bin');
      writeFileSync(entry, Buffer.from(LEAVES[index], 'hex'));
      const proofFile = join(dir, 'proof.json');
      writeFileSync(proofFile, JSON.stringify(proof)); // hex hashes are accepted too
      const args = ['--vkey', vkeyFor(ORIGIN), '--checkpoint', writeNote(checkpoint(size)), '--entry', entry, '--index', String(index)];
      expect(verify([...args, '--proof', proofFile]).status).toBe(0);
      expect(verify([...args, '--proof', '["not base64!"]'])).toEqual({ status: 2, out: expect.stringContaining('bad input: proof[0]') });
      expect(verify([...args.slice(0, 4)]).status).toBe(0); // checkpoint signature and format only
      expect(verify(['--checkpoint', writeNote(checkpoint(size))]).status).toBe(2);
      expect(verify({ vkey: vkeyFor(ORIGIN), checkpoint: checkpoint(size), entry: 'AA==', proof: [] }).status).toBe(2); // no index
    });

    describe('real data: the certifier evidence log (Sigillum code produces, the script alone verifies)', () => {
      const SIGILLUM_ORIGIN = 'verifier.test/sigillum/evidence';
      let store: SqliteEventStore;
      let log: EvidenceLog;
      let controller: EvidenceLogController;
      const correspondences: string[] = [];

      /** An evidence record as the certifier writes it (EN 319 522-3 shapes), with non-ASCII text, numbers, nulls and arrays. */
      function recordOf(correspondenceId: string, chainIndex: number, previousEvidenceDigest: string | null) {
        return {
          version: 1,
          canonicalization: 'urn:ietf:rfc:8785',
          EvidenceIdentifier: randomUUID(),
          ERDSEventId: randomUUID(),
          eventName: chainIndex === 0 ? 'SubmissionAcceptance' : 'ContentHandover',
          EventTime: new Date().toISOString(),
          SubmissionTime: new Date().toISOString(),
          EvidenceIssuerPolicyID: '1.3.6.1.4.1.99999.1',
          EvidenceIssuerDetails: {
            name: 'Sigillum — Certifier «test»',
            certificateFingerprint: 'ab'.repeat(32),
            caCertificateFingerprint: 'cd'.repeat(32),
            keyId: 'ef'.repeat(32),
          },
          issuerRole: 'certifier',
          SenderDetails: { partyId: randomUUID() },
          RecipientDetails: [{ partyId: randomUUID() }],
          MessageIdentifier: correspondenceId,
          UserContentInfo: {
            specimenDigest: '01'.repeat(32),
            PartsInfo: [
              { ContentType: 'application/pdf', size: 123_456, DigestMethod: 'http://www.w3.org/2001/04/xmlenc#sha256', DigestValue: '02'.repeat(32) },
            ],
          },
          consignmentMode: 'consent',
          correspondenceKind: 'registered',
          requiredLevel: null,
          chainIndex,
          previousEvidenceDigest,
          sourceEventId: randomUUID(),
          sourceEventType: 'Submitted',
          EventReasons: [{ code: 'OK', uri: 'urn:x:ok', text: 'Zoë Łukasiewicz — reçu 😀' }],
        };
      }

      async function recordCorrespondence(): Promise<void> {
        const correspondenceId = randomUUID();
        correspondences.push(correspondenceId);
        let previous: string | null = null;
        for (let chainIndex = 0; chainIndex < 2; chainIndex++) {
          const record = recordOf(correspondenceId, chainIndex, previous);
          const recordDigest = recordDigestOf(record);
          await store.append(
            streamIdOf(EVIDENCE_CATEGORY, correspondenceId),
            [
              pendingEvent('EvidenceRecorded', {
                evidenceId: record.EvidenceIdentifier,
                correspondenceId,
                chainIndex,
                eventName: record.eventName,
                record,
                recordDigest,
                previousEvidenceDigest: previous,
                jws: 'x.y.z',
                recordedAt: new Date().toISOString(),
              }),
            ],
            chainIndex === 0 ? 'no-stream' : 0,
          );
          previous = recordDigest;
        }
      }

      beforeAll(async () => {
        store = new SqliteEventStore({ filename: join(dir, 'events.sqlite') });
        const { privateKey } = generateKeyPairSync('ed25519');
        const signer = {
          note: ed25519NoteSigner(SIGILLUM_ORIGIN, privateKey),
          verifierKey: ed25519VerifierKey(SIGILLUM_ORIGIN, rawEd25519PublicKey(privateKey)),
        };
        const tsa = { timeStampAsync: async () => Buffer.from('not checked here') } as unknown as EvidenceLogTsa;
        log = new EvidenceLog(store, { now: () => new Date() }, uuidGenerator, signer, tsa, {
          origin: SIGILLUM_ORIGIN,
          checkpointMs: 3_600_000,
          checkpointLeaves: 6,
          tsaPolicyOid: '1.2.3',
          entriesDir: join(dir, 'evidence-log'),
        });
        // The routes used here need only the log (other constructor arguments, e.g. an integrity checker, stay out).
        controller = Reflect.construct(EvidenceLogController, [log]) as EvidenceLogController;
        for (let i = 0; i < 3; i++) await recordCorrespondence();
        await log.tick(); // 6 leaves: the first checkpoint
        for (let i = 0; i < 4; i++) await recordCorrespondence();
        await log.tick(); // 14 leaves: the second
      });
      afterAll(async () => store.close());

      /** GET /evidence/:id/proof and GET /evidence-log/key as an auditor receives them, turned into the script's input. */
      async function inputsOf(correspondenceId: string) {
        const answer = JSON.parse(JSON.stringify(await controller.proof(correspondenceId))) as Awaited<ReturnType<EvidenceLogController['proof']>>;
        const vkey = controller.key().trim();
        expect(answer.checkpoint?.treeSize).toBe(14);
        return answer.records.map((leaf) => ({
          input: { vkey, checkpoint: answer.checkpoint!.note, record: leaf.record, index: leaf.leafIndex, proof: leaf.inclusionProof },
          leaf,
        }));
      }

      it('verifies every record of a correspondence: its canonical JSON is leaf N under the signed checkpoint', async () => {
        for (const correspondenceId of [correspondences[0], correspondences[6]]) {
          for (const { input, leaf } of await inputsOf(correspondenceId)) {
            const run = verify(input);
            expect(run).toEqual({
              status: 0,
              out: expect.stringContaining(`inclusion: entry sha256:${leaf.recordDigest} is leaf ${leaf.leafIndex} of that tree`),
            });
            expect(run.out).toContain(`checkpoint: origin ${SIGILLUM_ORIGIN}, tree size 14`);
          }
        }
      });

      it('refuses an edited record, another leaf index, a flipped proof hash, an edited checkpoint and another key, naming each', async () => {
        const [{ input }] = await inputsOf(correspondences[1]);
        const note = input.checkpoint;
        const proof = input.proof!;
        const other = generateKeyPairSync('ed25519').privateKey;
        const cases: Array<[object, RegExp]> = [
          [{ ...input, record: { ...input.record, eventName: 'ContentHandover' } }, /INVALID: inclusion: /],
          [{ ...input, index: input.index! + 1 }, /INVALID: inclusion: /],
          [{ ...input, proof: proof.map((h, i) => (i === 0 ? b64(flipHex(Buffer.from(h, 'base64').toString('hex'))) : h)) }, /INVALID: inclusion: /],
          [{ ...input, proof: proof.slice(1) }, /INVALID: inclusion: /],
          [{ ...input, checkpoint: note.replace('\n14\n', '\n13\n') }, /INVALID: signature: Ed25519 signature by .* does not verify/],
          [{ ...input, checkpoint: flipSignature(note) }, /INVALID: signature: Ed25519 signature by .* does not verify/],
          [
            { ...input, vkey: ed25519VerifierKey(SIGILLUM_ORIGIN, rawEd25519PublicKey(other)) },
            /INVALID: signature: no signature by verifier\.test\/sigillum\/evidence\+/,
          ],
        ];
        for (const [bad, failure] of cases) expect(verify(bad)).toEqual({ status: 1, out: expect.stringMatching(failure) });
      });

      it('verifies records of an export bundle (npm run audit -- export), read from the bundle file as an auditor would', async () => {
        // The export command's own code, its HTTP client answered by the certifier's controller and store in-process.
        const answer = async (path: string): Promise<unknown> => {
          const proofOf = /^\/evidence\/([0-9a-f-]{36})\/proof$/.exec(path);
          if (proofOf) return JSON.parse(JSON.stringify(await controller.proof(proofOf[1])));
          const evidenceOf = /^\/evidence\/([0-9a-f-]{36})$/.exec(path);
          if (evidenceOf) return { records: (await store.readStream(streamIdOf(EVIDENCE_CATEGORY, evidenceOf[1]))).map((event) => event.event.data) };
          throw new Error(`unexpected GET ${path}`);
        };
        const client = {
          base: 'http://certifier.test',
          json: answer,
          text: async (path: string) =>
            path === '/evidence-log/key' ? controller.key() : '-----BEGIN CERTIFICATE-----\n(not read by this verifier)\n-----END CERTIFICATE-----\n',
        } as unknown as AuditClient;
        const out = join(dir, 'bundle.json');
        await exportBundle(client, { correspondences: [correspondences[2], correspondences[5]], parties: [], out, waitMs: 0 }, () => undefined);

        // From here on only the file: what `jq` in docs/verifier/README.md does.
        const bundle = JSON.parse(readFileSync(out, 'utf8')) as {
          verifierKey: string;
          correspondences: Array<{
            checkpoint: { note: string };
            records: Array<{ record: object; recordDigest: string; leafIndex: number; inclusionProof: string[] }>;
          }>;
        };
        const inputs = bundle.correspondences.flatMap((c) =>
          c.records.map((r) => ({
            vkey: bundle.verifierKey,
            checkpoint: c.checkpoint.note,
            record: r.record,
            index: r.leafIndex,
            proof: r.inclusionProof,
            digest: r.recordDigest,
          })),
        );
        expect(inputs).toHaveLength(4);
        for (const { digest, ...input } of inputs) {
          expect(verify(input)).toEqual({ status: 0, out: expect.stringContaining(`inclusion: entry sha256:${digest} is leaf ${input.index} of that tree`) });
        }
        // The auditor's own trusted key (--vkey) replaces the bundle's: another key than the log's is refused.
        const inputFile = join(dir, 'from-bundle.json');
        writeFileSync(inputFile, JSON.stringify({ ...inputs[0], digest: undefined }));
        expect(verify(['--json', inputFile, '--vkey', controller.key().trim()]).status).toBe(0);
        const otherKey = ed25519VerifierKey(SIGILLUM_ORIGIN, rawEd25519PublicKey(generateKeyPairSync('ed25519').privateKey));
        expect(verify(['--json', inputFile, '--vkey', otherKey])).toEqual({ status: 1, out: expect.stringContaining('INVALID: signature: no signature by') });
        const flipped = readFileSync(out, 'utf8').replace('"size": 123456', '"size": 123457'); // one byte of the first record in the file
        const edited = JSON.parse(flipped) as typeof bundle;
        const record = edited.correspondences[0].records[0];
        expect(record.record).toMatchObject({ UserContentInfo: { PartsInfo: [{ size: 123_457 }] } });
        expect(
          verify({
            vkey: edited.verifierKey,
            checkpoint: edited.correspondences[0].checkpoint.note,
            record: record.record,
            index: record.leafIndex,
            proof: record.inclusionProof,
          }),
        ).toEqual({ status: 1, out: expect.stringMatching(/INVALID: inclusion: /) });
      });

      it('verifies the consistency proof of GET /evidence-log/consistency between the two signed checkpoints', async () => {
        const notes = (await store.readStream(streamIdOf(EVIDENCE_LOG_CATEGORY, originIdOf(SIGILLUM_ORIGIN)))).map(
          (event) => (event.event as EvidenceCheckpointSigned).data.note,
        );
        expect(notes).toHaveLength(2);
        const answer = await controller.consistency('6', '14');
        const base = { vkey: controller.key().trim(), oldCheckpoint: notes[0], checkpoint: notes[1], consistency: answer.proof };
        expect(verify(base)).toEqual({ status: 0, out: expect.stringContaining('consistency: the tree of size 6 is a prefix of the tree of size 14') });
        const flipped = answer.proof.map((h, i) => (i === 1 ? b64(flipHex(Buffer.from(h, 'base64').toString('hex'))) : h));
        expect(verify({ ...base, consistency: flipped })).toEqual({ status: 1, out: expect.stringMatching(/INVALID: consistency: /) });
      });
    });
  });
}

function writeNote(note: string): string {
  const file = join(dir, `note-${createHash('sha256').update(note).digest('hex').slice(0, 8)}.txt`);
  writeFileSync(file, note);
  return file;
}
