import { leafHash } from './hash';
import { decodeEntryBundle, encodeEntryBundle, encodeTileIndex, entryBundlePath, hashTile, hashTilePath, parseTilePath, tileExists, tilesOf } from './tiles';
import { MerkleTree } from './tree';

describe('tlog-tiles', () => {
  it('encodes tile indexes in 3-digit groups, every group but the last prefixed x (spec: 1234067)', () => {
    expect(encodeTileIndex(1234067)).toBe('x001/x234/067');
    expect(encodeTileIndex(0)).toBe('000');
    expect(encodeTileIndex(999)).toBe('999');
    expect(encodeTileIndex(1000)).toBe('x001/000');
    expect(hashTilePath(0, 1234067)).toBe('tile/0/x001/x234/067');
    expect(hashTilePath(2, 3, 17)).toBe('tile/2/003.p/17');
    expect(entryBundlePath(1, 112)).toBe('tile/entries/001.p/112');
  });

  it('parses exactly the paths it writes', () => {
    expect(parseTilePath('tile/0/x001/x234/067')).toEqual({ kind: 'hash', level: 0, index: 1234067, width: 256 });
    expect(parseTilePath('tile/entries/001.p/112')).toEqual({ kind: 'entries', index: 1, width: 112 });
    expect(parseTilePath('tile/12/000.p/1')).toEqual({ kind: 'hash', level: 12, index: 0, width: 1 });
    for (const bad of [
      'tile/0/1',
      'tile/00/000',
      'tile/64/000',
      'tile/0/x000/001',
      'tile/0/001/x002',
      'tile/0/000.p/0',
      'tile/0/000.p/256',
      'tile/0/000.p/012',
      '/tile/0/000',
      'tile/0/000/',
    ]) {
      expect(parseTilePath(bad)).toBeUndefined();
    }
  });

  it('lists the tiles of a tree of 70,000 leaves as the spec counts them', () => {
    const hashTiles = tilesOf(70_000).filter((ref) => ref.kind === 'hash');
    const level = (l: number) => hashTiles.filter((ref) => ref.kind === 'hash' && ref.level === l);
    expect(level(0).filter((ref) => ref.width === 256)).toHaveLength(273);
    expect(
      level(0)
        .filter((ref) => ref.width !== 256)
        .map((ref) => ref.width),
    ).toEqual([112]);
    expect(level(1).map((ref) => ref.width)).toEqual([256, 17]);
    expect(level(2).map((ref) => ref.width)).toEqual([1]);
    expect(
      tilesOf(256)
        .filter((ref) => ref.kind === 'hash')
        .map((ref) => ref.kind === 'hash' && `${ref.level}/${ref.width}`),
    ).toEqual(['0/256', '1/1']);
  });

  it('serves tile contents from the stored levels: level 0 = leaf hashes, level 1 = roots of full level-0 tiles', () => {
    const entries = Array.from({ length: 600 }, (_, i) => Buffer.from(`e${i}`));
    const tree = MerkleTree.fromEntries(entries);
    const tile0 = hashTile(tree, 0, 1);
    expect(tile0).toHaveLength(256 * 32);
    expect(tile0.subarray(0, 32).equals(leafHash(entries[256]))).toBe(true);
    const partial = hashTile(tree, 0, 2, 88);
    expect(partial).toHaveLength(88 * 32);
    const level1 = hashTile(tree, 1, 0, 2);
    expect(level1.subarray(32, 64).equals(MerkleTree.fromEntries(entries.slice(256, 512)).root())).toBe(true);
    expect(tileExists({ kind: 'hash', level: 0, index: 2, width: 89 }, tree.size)).toBe(false);
    expect(() => hashTile(tree, 1, 0, 3)).toThrow(RangeError);
  });

  it('bundles entries with big-endian uint16 lengths', () => {
    const bundle = encodeEntryBundle([Buffer.from('ab'), Buffer.alloc(0), Buffer.alloc(300, 1)]);
    expect(bundle.subarray(0, 4)).toEqual(Buffer.from([0, 2, 0x61, 0x62]));
    expect(bundle.subarray(4, 8)).toEqual(Buffer.from([0, 0, 1, 44]));
    expect(decodeEntryBundle(bundle).map((entry) => entry.length)).toEqual([2, 0, 300]);
    expect(() => decodeEntryBundle(bundle.subarray(0, -1))).toThrow(RangeError);
    expect(() => encodeEntryBundle([Buffer.alloc(65_536)])).toThrow(RangeError);
  });
});
