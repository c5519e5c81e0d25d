import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hashTile, MerkleTree, tilesOf } from '@sigillum/tlog';
import { HashLevelFile } from './hash-level-file';

const entry = (i: number) => createHash('sha256').update(`entry ${i}`).digest();
const b64 = (hashes: Buffer[]) => hashes.map((hash) => hash.toString('base64'));

describe('HashLevelFile (the evidence log tree on disk)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-tree-levels-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const fileTree = (name = 'tree') => new MerkleTree((height) => new HashLevelFile(path.join(dir, name, `level-${height}.bin`)));

  it('gives the tree of the same leaves in memory its roots, proofs and tiles at every size, flushed or not', () => {
    const memory = new MerkleTree();
    const onDisk = fileTree();
    // Batches of uneven sizes, flushed after each but the last ones: reads span the file, the pending hashes, both.
    const batches = [1, 2, 5, 64, 200, 300, 1, 257, 600, 3];
    let size = 0;
    batches.forEach((count, batch) => {
      for (let i = 0; i < count; i++, size++) expect(onDisk.append(entry(size))).toBe(memory.append(entry(size)));
      if (batch < batches.length - 2) onDisk.flush();
      for (const at of [1, 2, 3, size - 1, size, Math.ceil(size / 3)].filter((n) => n >= 1 && n <= size)) {
        expect(onDisk.root(at).equals(memory.root(at))).toBe(true);
        expect(b64(onDisk.inclusionProof(at - 1, size))).toEqual(b64(memory.inclusionProof(at - 1, size)));
        expect(b64(onDisk.inclusionProof(Math.floor(at / 2), at))).toEqual(b64(memory.inclusionProof(Math.floor(at / 2), at)));
        expect(b64(onDisk.consistencyProof(at, size))).toEqual(b64(memory.consistencyProof(at, size)));
      }
    });
    expect(size).toBe(1433);
    for (let level = 0; level < 11; level++) {
      const width = memory.levelSize(level);
      expect(onDisk.levelSize(level)).toBe(width);
      expect(onDisk.levelHashes(level, 0, width).equals(memory.levelHashes(level, 0, width))).toBe(true);
      expect(onDisk.levelHashes(level, Math.floor(width / 3), width).equals(memory.levelHashes(level, Math.floor(width / 3), width))).toBe(true);
    }
    for (const ref of tilesOf(size).filter((tile) => tile.kind === 'hash'))
      expect(hashTile(onDisk, ref.level, ref.index, ref.width).equals(hashTile(memory, ref.level, ref.index, ref.width))).toBe(true);
    for (let i = 0; i < size; i += 97) expect(onDisk.leafHashAt(i).equals(memory.leafHashAt(i))).toBe(true);

    onDisk.flush();
    expect(fs.statSync(path.join(dir, 'tree', 'level-0.bin')).size).toBe(size * 32);
    expect(fs.statSync(path.join(dir, 'tree', 'level-1.bin')).size).toBe(Math.floor(size / 2) * 32);
    expect(fs.statSync(path.join(dir, 'tree', 'level-0.bin')).mode & 0o777).toBe(0o600);
    onDisk.close();
  });

  it('keeps a hash it returned right after a flush, and starts empty on a new open (rebuilt from the store)', () => {
    const level = new HashLevelFile(path.join(dir, 'level.bin'));
    const first = Buffer.alloc(32, 1);
    level.push(first);
    const pendingView = level.at(0);
    level.flush();
    level.push(Buffer.alloc(32, 2));
    level.flush();
    expect(pendingView.equals(first)).toBe(true);
    expect(level.at(0).equals(first)).toBe(true);
    expect(level.copy(0, 2).equals(Buffer.concat([first, Buffer.alloc(32, 2)]))).toBe(true);

    const next = new HashLevelFile(path.join(dir, 'level.bin'));
    expect(next.length).toBe(0);
    expect(fs.statSync(path.join(dir, 'level.bin')).size).toBe(0);
    expect(level.at(1).equals(Buffer.alloc(32, 2))).toBe(true); // the old handle keeps its own (removed) file
    next.close();
    level.close();
  });

  it('says so when its file was truncated behind it, instead of serving short hashes', () => {
    const level = new HashLevelFile(path.join(dir, 'level.bin'));
    for (let i = 0; i < 300; i++) level.push(Buffer.alloc(32, i % 256));
    level.flush();
    fs.truncateSync(path.join(dir, 'level.bin'), 100);
    expect(() => level.at(299)).toThrow(/level\.bin ends at 8192 bytes.*truncated behind this process/);
    expect(() => level.copy(0, 4)).toThrow(/level\.bin ends at 100 bytes.*truncated behind this process/);
    level.close();
  });
});
