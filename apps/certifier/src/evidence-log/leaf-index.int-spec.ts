import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type IndexedLeaf, LeafIndex } from './leaf-index';
import { killedAtFirstOutput } from '@sigillum/testing';

const leaf = (leafIndex: number, correspondenceId: string, chainIndex: number, evidenceId = `e-${leafIndex}`): IndexedLeaf => ({
  leafIndex,
  evidenceId,
  correspondenceId,
  chainIndex,
  eventName: `Event${chainIndex}`,
});

describe('LeafIndex (the evidence log index on disk)', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-leaf-index-'));
    file = path.join(dir, 'nested', 'leaves.sqlite');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('answers by evidence id and by correspondence (in leaf order), the last leaf of an id held twice', () => {
    const index = new LeafIndex(file);
    index.add([leaf(0, 'a', 0), leaf(1, 'b', 0), leaf(2, 'a', 1)]);
    index.add([]);
    index.add([leaf(3, 'c', 0), leaf(4, 'a', 2), leaf(5, 'b', 1, 'e-1')]);

    expect(index.leafOf('e-0')).toBe(0);
    expect(index.leafOf('e-4')).toBe(4);
    expect(index.leafOf('e-1')).toBe(5);
    expect(index.leafOf('e-9')).toBeUndefined();
    expect(index.leavesOf('a')).toEqual(
      [0, 2, 4].map((at, chainIndex) => ({ leafIndex: at, evidenceId: `e-${at}`, chainIndex, eventName: `Event${chainIndex}` })),
    );
    expect(index.leavesOf('b').map((found) => [found.leafIndex, found.evidenceId])).toEqual([
      [1, 'e-1'],
      [5, 'e-1'],
    ]);
    expect(index.leavesOf('z')).toEqual([]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    index.close();
  });

  it('adds a batch all or none, and a batch written again gives the same rows', () => {
    const index = new LeafIndex(file);
    index.add([leaf(0, 'a', 0)]);
    const broken = [leaf(1, 'a', 1), { ...leaf(2, 'a', 2), eventName: null as unknown as string }];
    expect(() => index.add(broken)).toThrow(/NOT NULL/);
    expect(index.leavesOf('a').map((found) => found.leafIndex)).toEqual([0]);
    expect(index.leafOf('e-1')).toBeUndefined();

    index.add([leaf(1, 'a', 1), leaf(2, 'a', 2)]);
    index.add([leaf(1, 'a', 1), leaf(2, 'a', 2)]);
    expect(index.leavesOf('a').map((found) => found.leafIndex)).toEqual([0, 1, 2]);
    index.close();
  });

  it('starts empty on a new open (the log rebuilds it from the store), whatever an earlier process left', () => {
    const index = new LeafIndex(file);
    index.add([leaf(0, 'a', 0)]);
    // Not closed, as by a crash; then garbage where the next process looks, journal files included.
    fs.writeFileSync(`${file}-journal`, 'half a journal');
    const next = new LeafIndex(file);
    expect(next.leavesOf('a')).toEqual([]);
    next.add([leaf(0, 'a', 0, 'x')]);
    expect(next.leafOf('x')).toBe(0);
    next.close();
    index.close();

    fs.writeFileSync(file, 'not a database');
    const third = new LeafIndex(file);
    expect(third.leafOf('x')).toBeUndefined();
    third.close();
  });

  it('opens and rebuilds after the process writing it was killed (SIGKILL) in the middle of its batches', async () => {
    // The child indexes batches of 500 leaves without end; it is killed once it has written a few thousand.
    const script = `
      const { LeafIndex } = require(${JSON.stringify(path.join(__dirname, 'leaf-index.ts'))});
      const index = new LeafIndex(${JSON.stringify(file)});
      let next = 0;
      for (;;) {
        const batch = [];
        for (let i = 0; i < 500; i++, next++) batch.push({ leafIndex: next, evidenceId: 'e-' + next, correspondenceId: 'c-' + (next % 97), chainIndex: next, eventName: 'E' });
        index.add(batch);
        if (next === 3000) process.stdout.write('written\\n');
      }`;
    const signal = await killedAtFirstOutput(script);
    expect(signal).toBe('SIGKILL');
    expect(fs.statSync(file).size).toBeGreaterThan(0);

    const index = new LeafIndex(file);
    expect(index.leafOf('e-0')).toBeUndefined();
    const rebuilt = Array.from({ length: 2000 }, (_, at) => leaf(at, `c-${at % 7}`, at));
    for (let at = 0; at < rebuilt.length; at += 500) index.add(rebuilt.slice(at, at + 500));
    expect(index.leafOf('e-1999')).toBe(1999);
    expect(index.leavesOf('c-3').map((found) => found.leafIndex)).toEqual(
      rebuilt.filter((found) => found.correspondenceId === 'c-3').map((found) => found.leafIndex),
    );
    index.close();
  }, 60_000);
});
