import type { MerkleTree } from './tree';

/**
 * c2sp.org/tlog-tiles: the tree served as static resources.
 *
 * - hash tile `tile/<L>/<N>[.p/<W>]`: the hashes MTH(D[(N·256+i)·256^L : (N·256+i+1)·256^L]) for i < W, i.e. the
 *   stored full subtrees of tree level 8·L, concatenated (32 bytes each); a full tile is 256 hashes (8,192 bytes);
 * - entry bundle `tile/entries/<N>[.p/<W>]`: entries N·256 … N·256+W-1, each as a big-endian uint16 length and
 *   its bytes;
 * - `<N>` in 3-digit groups, all but the last prefixed `x` (1234067 → `x001/x234/067`); `.p/<W>` (1..255) only
 *   for a partial tile.
 */

export const TILE_WIDTH = 256;
export const TILE_HEIGHT = 8;
export const MAX_ENTRY_SIZE = 0xffff;

export type TileRef =
  | { readonly kind: 'hash'; readonly level: number; readonly index: number; readonly width: number }
  | { readonly kind: 'entries'; readonly index: number; readonly width: number };

/** `<N>` of a tile path: zero-padded 3-digit groups, every group but the last prefixed `x`. */
export function encodeTileIndex(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`tile index ${index} is not a non-negative integer`);
  const groups: string[] = [];
  let rest = index;
  do {
    groups.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return groups.map((group, i) => (i < groups.length - 1 ? `x${group}` : group)).join('/');
}

function suffix(width: number): string {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) throw new RangeError(`tile width ${width} is not within 1..256`);
  return width === TILE_WIDTH ? '' : `.p/${width}`;
}

/** The path of a hash tile (width 256 = full, no suffix). */
export function hashTilePath(level: number, index: number, width = TILE_WIDTH): string {
  if (!Number.isInteger(level) || level < 0 || level > 63) throw new RangeError(`tile level ${level} is not within 0..63`);
  return `tile/${level}/${encodeTileIndex(index)}${suffix(width)}`;
}

/** The path of an entry bundle (width 256 = full, no suffix). */
export function entryBundlePath(index: number, width = TILE_WIDTH): string {
  return `tile/entries/${encodeTileIndex(index)}${suffix(width)}`;
}

/** Parses a tile path (without a leading prefix or slash), strictly; undefined when it is not one. */
export function parseTilePath(path: string): TileRef | undefined {
  const match = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/.exec(path);
  if (!match) return undefined;
  const [, levelPart, indexPart, widthPart] = match;
  const groups = indexPart.split('/').map((group) => group.replace(/^x/, ''));
  // No superfluous leading "x000" groups: the encoding of a number is unique.
  if (groups.length > 1 && groups[0] === '000') return undefined;
  const index = groups.reduce((value, group) => value * 1000 + Number(group), 0);
  if (!Number.isSafeInteger(index)) return undefined;
  const width = widthPart === undefined ? TILE_WIDTH : Number(widthPart);
  if (widthPart !== undefined && width > 255) return undefined;
  if (levelPart === 'entries') return { kind: 'entries', index, width };
  const level = Number(levelPart);
  if (level > 63) return undefined;
  return { kind: 'hash', level, index, width };
}

/** The path of a tile reference. */
export function tilePath(ref: TileRef): string {
  return ref.kind === 'hash' ? hashTilePath(ref.level, ref.index, ref.width) : entryBundlePath(ref.index, ref.width);
}

/**
 * Every tile of the tree of `size` leaves: the full tiles, then the partial one of each level (if any). Entry
 * bundles mirror the level-0 tiles.
 */
export function tilesOf(size: number): TileRef[] {
  const refs: TileRef[] = [];
  for (let level = 0, span = 1; level <= 63 && Math.floor(size / span) > 0; level++, span *= TILE_WIDTH) {
    const hashes = Math.floor(size / span);
    const full = Math.floor(hashes / TILE_WIDTH);
    const partial = hashes % TILE_WIDTH;
    for (let index = 0; index < full; index++) refs.push({ kind: 'hash', level, index, width: TILE_WIDTH });
    if (partial > 0) refs.push({ kind: 'hash', level, index: full, width: partial });
    if (level === 0) {
      for (let index = 0; index < full; index++) refs.push({ kind: 'entries', index, width: TILE_WIDTH });
      if (partial > 0) refs.push({ kind: 'entries', index: full, width: partial });
    }
  }
  return refs;
}

/** Whether the tree of `size` leaves holds this tile (full, or partial of at most the available width). */
export function tileExists(ref: TileRef, size: number): boolean {
  const span = ref.kind === 'hash' ? TILE_WIDTH ** ref.level : 1;
  const hashes = Math.floor(size / span);
  return ref.index * TILE_WIDTH + ref.width <= hashes;
}

/** The content of hash tile `level`/`index` of `width` hashes, from the tree's stored levels. */
export function hashTile(tree: MerkleTree, level: number, index: number, width = TILE_WIDTH): Buffer {
  const ref: TileRef = { kind: 'hash', level, index, width };
  if (!tileExists(ref, tree.size)) throw new RangeError(`tile ${tilePath(ref)} is not in a tree of size ${tree.size}`);
  return tree.levelHashes(level * TILE_HEIGHT, index * TILE_WIDTH, index * TILE_WIDTH + width);
}

/** An entry bundle: each entry as a big-endian uint16 length and its bytes. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if (entry.length > MAX_ENTRY_SIZE) throw new RangeError(`an entry of ${entry.length} bytes does not fit a bundle (at most ${MAX_ENTRY_SIZE})`);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(entry.length);
    parts.push(length, Buffer.from(entry));
  }
  return Buffer.concat(parts);
}

/** The entries of a bundle; throws when the bytes are not a sequence of length-prefixed entries. */
export function decodeEntryBundle(bundle: Uint8Array): Buffer[] {
  const bytes = Buffer.from(bundle);
  const entries: Buffer[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 2 > bytes.length) throw new RangeError('truncated entry length in bundle');
    const length = bytes.readUInt16BE(offset);
    if (offset + 2 + length > bytes.length) throw new RangeError('truncated entry in bundle');
    entries.push(bytes.subarray(offset + 2, offset + 2 + length));
    offset += 2 + length;
  }
  return entries;
}
