import { createHash } from 'node:crypto';
import { decodeEntryBundle, hashTile, MerkleTree, type NoteVerifier, openNote, parseCheckpoint, tilePath, tilesOf } from '@sigillum/tlog';
import type { AuditClient } from './http';
import { compareStoreWithLog } from './fsck-store';
import { canonicalJson } from './jcs';
import { keyIdOf } from './keys';
import { progress } from './progress';
import type { StoredEvidence } from './store-evidence';

export interface FsckResult {
  readonly valid: boolean;
  readonly lines: string[];
}

/**
 * Re-derives the evidence log from what the server serves: every entry bundle of the latest checkpoint, the tree
 * rebuilt from the entries, its root against the signed checkpoint, every hash tile against the rebuilt tree, each
 * entry in canonical form, and each correspondence's chain in log order (indexes contiguous, digests linked).
 */
export async function fsck(client: AuditClient, verifier: NoteVerifier, options: { store?: readonly StoredEvidence[] } = {}): Promise<FsckResult> {
  const lines = [`Log key: ${keyIdOf(verifier)}`];
  const problems: string[] = [];
  const note = await client.text('/evidence-log/checkpoint');
  let checkpoint;
  try {
    checkpoint = parseCheckpoint(openNote(note, [verifier]).text);
  } catch (error) {
    return { valid: false, lines: [...lines, `INVALID: checkpoint.signature: the latest checkpoint does not verify: ${(error as Error).message}`] };
  }
  lines.push(`Checkpoint: ${checkpoint.origin} size ${checkpoint.size} root ${checkpoint.rootHash.toString('base64')} (signature ok)`);
  const refs = tilesOf(checkpoint.size);
  const bar = progress('fsck', refs.length);
  const tree = new MerkleTree();
  const entries: Buffer[] = [];
  const hashTiles: { path: string; content: Buffer; level: number; index: number; width: number }[] = [];
  try {
    // Entry bundles first, in order (tilesOf lists them by index), then the hash tiles.
    for (const ref of refs.filter((r) => r.kind === 'entries')) {
      const path = tilePath(ref);
      const { status, body } = await client.get(`/evidence-log/${path}`, { accept: 'application/octet-stream' });
      if (status !== 200) problems.push(`${path}: tile.missing: the server answered ${status}`);
      else {
        const decoded = decodeEntryBundle(body);
        if (decoded.length !== ref.width) problems.push(`${path}: tile.width: ${decoded.length} entries, expected ${ref.width}`);
        for (const entry of decoded) {
          tree.append(entry);
          entries.push(entry);
        }
      }
      bar.tick(path);
    }
    for (const ref of refs.filter((r) => r.kind === 'hash')) {
      const path = tilePath(ref);
      const { status, body } = await client.get(`/evidence-log/${path}`, { accept: 'application/octet-stream' });
      if (status !== 200) problems.push(`${path}: tile.missing: the server answered ${status}`);
      else if (ref.kind === 'hash') hashTiles.push({ path, content: body, level: ref.level, index: ref.index, width: ref.width });
      bar.tick(path);
    }
  } finally {
    bar.stop();
  }
  if (tree.size !== checkpoint.size) problems.push(`entries: the entry bundles hold ${tree.size} entries, the checkpoint ${checkpoint.size}`);
  else if (!tree.root().equals(checkpoint.rootHash))
    problems.push(
      `root: the tree rebuilt from the entries has root ${tree.root().toString('base64')}, not the checkpoint's: an entry was edited, removed or reordered`,
    );
  for (const tile of hashTiles) {
    if (tree.size !== checkpoint.size) break;
    const expected = hashTile(tree, tile.level, tile.index, tile.width);
    if (!expected.equals(tile.content)) problems.push(`${tile.path}: tile.mismatch: the served hashes differ from the tree rebuilt from the entries`);
  }

  // Each entry is a record in canonical form; each correspondence's chain holds in log order.
  const chains = new Map<string, { chainIndex: number; digest: string; leaf: number; eventName: string }>();
  entries.forEach((entry, leaf) => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(entry.toString('utf8')) as Record<string, unknown>;
    } catch {
      problems.push(`leaf ${leaf}: entry.json: not JSON`);
      return;
    }
    if (canonicalJson(record) !== entry.toString('utf8')) problems.push(`leaf ${leaf}: entry.canonical: the entry is not the canonical JSON of its record`);
    const id = String(record.MessageIdentifier);
    const name = `leaf ${leaf} (correspondence ${id}, chainIndex ${String(record.chainIndex)}, ${String(record.eventName)})`;
    const previous = chains.get(id);
    const expectedIndex = previous ? previous.chainIndex + 1 : 0;
    if (record.chainIndex !== expectedIndex)
      problems.push(`${name}: chain.index: expected chainIndex ${expectedIndex} next in the log for this correspondence`);
    if ((record.previousEvidenceDigest ?? null) !== (previous?.digest ?? null)) {
      problems.push(
        previous
          ? `${name}: chain.link: previousEvidenceDigest is not the digest of the correspondence's previous leaf ${previous.leaf} (chainIndex ${previous.chainIndex}, ${previous.eventName}): that record was edited, or one between them removed`
          : `${name}: chain.link: the correspondence's first leaf in the log has a previousEvidenceDigest: earlier records were removed`,
      );
    }
    chains.set(id, {
      chainIndex: typeof record.chainIndex === 'number' ? record.chainIndex : expectedIndex,
      digest: createHash('sha256').update(entry).digest('hex'),
      leaf,
      eventName: String(record.eventName),
    });
  });

  lines.push(
    `Entries: ${entries.length} in ${refs.filter((r) => r.kind === 'entries').length} bundle(s); hash tiles: ${hashTiles.length}; correspondences: ${chains.size}`,
  );
  if (options.store) {
    const compared = compareStoreWithLog(options.store, entries, checkpoint, hashTiles);
    lines.push(...compared.lines);
    problems.push(...compared.problems);
  }
  if (problems.length === 0) {
    lines.push(
      `VALID: the tree rebuilt from every entry served has the signed root; every tile matches; every chain is contiguous and linked in log order${options.store ? '; the store re-derives the same tree, record for record' : ''}.`,
    );
  } else lines.push(`INVALID: ${problems.length} problem(s):`, ...problems.map((p) => `  - ${p}`));
  return { valid: problems.length === 0, lines };
}
