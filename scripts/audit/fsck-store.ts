import { type Checkpoint, hashTile, MerkleTree } from '@sigillum/tlog';
import { canonicalJson } from './jcs';
import type { StoredEvidence } from './store-evidence';

/**
 * The store against the log: the tree re-derived from the evidence rows of the store (their canonical JSON, in the
 * store's order) must have the signed root at the checkpoint's size and give every hash tile served; and each record
 * the log serves as a leaf must be in the store, unchanged, at the same place. Each difference names the record:
 * deleted, edited, reordered, or a store row the log never made a leaf.
 */
export function compareStoreWithLog(
  stored: readonly StoredEvidence[],
  served: readonly Buffer[],
  checkpoint: Checkpoint,
  hashTiles: readonly { path: string; content: Buffer; level: number; index: number; width: number }[],
): { problems: string[]; lines: string[] } {
  const problems: string[] = [];
  const entries = stored.map((row) => Buffer.from(canonicalJson(row.record), 'utf8'));
  const nameOf = (record: Record<string, unknown>) =>
    `correspondence ${String(record.MessageIdentifier)}, chainIndex ${String(record.chainIndex)}, ${String(record.eventName)}`;
  const parse = (entry: Buffer): Record<string, unknown> => {
    try {
      return JSON.parse(entry.toString('utf8')) as Record<string, unknown>;
    } catch {
      return {};
    }
  };

  const tree = MerkleTree.fromEntries(entries.slice(0, checkpoint.size));
  if (entries.length < checkpoint.size) {
    problems.push(`store.truncated: the store holds ${entries.length} evidence record(s); the signed checkpoint covers ${checkpoint.size}`);
  } else if (!tree.root(checkpoint.size).equals(checkpoint.rootHash)) {
    problems.push(
      `store.root: the tree re-derived from the store has root ${tree.root(checkpoint.size).toString('base64')} at size ${checkpoint.size}, not the signed one`,
    );
  }
  if (entries.length >= checkpoint.size) {
    for (const tile of hashTiles) {
      if (!hashTile(tree, tile.level, tile.index, tile.width).equals(tile.content))
        problems.push(`${tile.path}: store.tile: the tile re-derived from the store differs from the one served`);
    }
  }

  // Record by record, matched by EvidenceIdentifier so that one deleted row does not make every later leaf differ.
  const storeAt = new Map<string, number>();
  entries.forEach((entry, index) => storeAt.set(String(stored[index].record.EvidenceIdentifier), index));
  const servedIds = new Set<string>();
  served.slice(0, checkpoint.size).forEach((entry, leaf) => {
    const record = parse(entry);
    const id = String(record.EvidenceIdentifier);
    servedIds.add(id);
    const at = storeAt.get(id);
    if (at === undefined) problems.push(`leaf ${leaf} (${nameOf(record)}): store.deleted: the log holds this record; the store no longer does`);
    else if (!entries[at].equals(entry))
      problems.push(`leaf ${leaf} (${nameOf(record)}): store.edited: the store's record differs from the one the log signed`);
    else if (at !== leaf) problems.push(`leaf ${leaf} (${nameOf(record)}): store.reordered: the store has it at position ${at} among the evidence records`);
  });
  stored.forEach((row, index) => {
    if (index < checkpoint.size && !servedIds.has(String(row.record.EvidenceIdentifier))) {
      problems.push(`store row ${index} (${nameOf(row.record)}): store.unlogged: a record the log never made a leaf under its checkpoint`);
    }
  });
  const lines = [`Store: ${entries.length} evidence record(s) (${Math.max(0, entries.length - checkpoint.size)} after the checkpoint, not signed yet)`];
  return { problems, lines };
}
