import { createHash } from 'node:crypto';
import { canonicalizeToBuffer } from '@sigillum/crypto';
import { MerkleTree, nodeHash, openNote, parseCheckpoint, parseVerifierKey, splitPoint, type NoteVerifier } from '@sigillum/tlog';

/**
 * The evidence log's integrity, re-derived from the store alone: the pure check behind `GET /evidence-log/integrity`
 * and the certifier's `evidence-log` health. Given the checkpoints the log recorded (EvidenceCheckpointSigned: size,
 * root, note) and the evidence events as the store returns them now (global order), it rebuilds the tree and says,
 * record by record, what no longer matches what the log signed:
 *
 * - `checkpoint`: a recorded checkpoint whose note does not verify with the log's key, or says another size or root
 *   than its event, or is smaller than the one before it (such a checkpoint is not used below);
 * - `edited`: a record whose `recordDigest` is not the SHA-256 of its canonical JSON, whose JWS payload is not that
 *   JSON, or whose digest the next record of its chain no longer links to (`previousEvidenceDigest`); or, when
 *   nothing else explains it, the range of leaves where the tree stops giving a signed root;
 * - `deleted`: a record missing in the middle: its correspondence's chain skips its `chainIndex` (or its successor
 *   links to a digest no record has); the count of leaves is short of the last checkpoint;
 * - `reordered`: two leaves whose exchange gives back every signed root;
 * - `truncated`: the store holds fewer leaves than the last checkpoint, the prefix it holds still matching: the
 *   missing leaf indexes, and the chains cut there (a removed record cannot be shown by its content: it is named by
 *   the correspondence whose chain breaks off, and the chainIndex that should follow).
 *
 * The first problem is the one that explains the first signed root the store no longer gives.
 */

export type IntegrityProblemKind = 'edited' | 'deleted' | 'reordered' | 'truncated' | 'checkpoint';

export interface IntegrityProblem {
  readonly kind: IntegrityProblemKind;
  /** The leaf where the problem is (for `deleted`/`truncated`: the leaf index the missing record had or would have). */
  readonly leafIndex: number | null;
  readonly correspondenceId: string | null;
  readonly chainIndex: number | null;
  readonly eventName: string | null;
  readonly evidenceId: string | null;
  readonly message: string;
}

export interface LogIntegrityReport {
  readonly status: 'consistent' | 'inconsistent';
  /** The evidence records (leaves) the store holds now. */
  readonly checkedLeaves: number;
  /** The last recorded checkpoint whose note verifies (root base64, as in the note); null when none. */
  readonly lastCheckpoint: { readonly size: number; readonly root: string } | null;
  readonly problems: readonly IntegrityProblem[];
}

/** A checkpoint as recorded (EvidenceCheckpointSigned data). */
export interface RecordedCheckpoint {
  readonly treeSize: number;
  /** Hex. */
  readonly rootHash: string;
  readonly note: string;
  readonly signedAt?: string;
}

/** An evidence record as the store returns it (EvidenceRecorded data and where it sits). */
export interface StoredEvidence {
  readonly evidenceId: string;
  readonly correspondenceId: string;
  readonly chainIndex: number;
  readonly eventName: string;
  readonly record: Readonly<Record<string, unknown>>;
  readonly recordDigest: string;
  readonly previousEvidenceDigest: string | null;
  /** Compact JWS over the canonical record, when the record carries one. */
  readonly jws?: string;
}

export interface LogIntegrityInput {
  /** The log's verifier key (`<origin>+<hex key id>+<base64 key>`). */
  readonly verifierKey: string;
  /** Expected origin line of the checkpoints; the key's name when omitted. */
  readonly origin?: string;
  readonly checkpoints: readonly RecordedCheckpoint[];
  readonly evidence: readonly StoredEvidence[];
  /** How many leaf pairs may be tried as a swap when nothing else explains a divergence (default 20,000). */
  readonly swapBudget?: number;
}

interface UsableCheckpoint {
  readonly size: number;
  readonly root: Buffer;
  readonly signedAt: string;
}

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function jwsPayload(jws: string): Buffer | undefined {
  const parts = jws.split('.');
  return parts.length === 3 ? Buffer.from(parts[1], 'base64url') : undefined;
}

/** Re-derives the log from the store and compares it with every signed checkpoint. */
export function checkLogIntegrity(input: LogIntegrityInput): LogIntegrityReport {
  return checkLogIntegrityDetailed(input).report;
}

/**
 * The report, and whether the store stops the log's signing: it no longer gives a signed root, or holds fewer leaves
 * than the last checkpoint (the log signs nothing inconsistent with what it recorded). Other problems (a checkpoint
 * note that does not verify, a record edited after the last checkpoint) are reported while the log still signs.
 */
export function checkLogIntegrityDetailed(input: LogIntegrityInput): { report: LogIntegrityReport; signingStopped: boolean } {
  const problems: IntegrityProblem[] = [];
  const leaves = input.evidence;
  const n = leaves.length;
  const name = (index: number): Pick<IntegrityProblem, 'leafIndex' | 'correspondenceId' | 'chainIndex' | 'eventName' | 'evidenceId'> => ({
    leafIndex: index,
    correspondenceId: leaves[index].correspondenceId,
    chainIndex: leaves[index].chainIndex,
    eventName: leaves[index].eventName,
    evidenceId: leaves[index].evidenceId,
  });
  const describe = (index: number): string => {
    const leaf = leaves[index];
    return `evidence ${leaf.evidenceId} (correspondence ${leaf.correspondenceId}, chainIndex ${leaf.chainIndex}, ${leaf.eventName}, leaf ${index})`;
  };
  const unnamed = { leafIndex: null, correspondenceId: null, chainIndex: null, eventName: null, evidenceId: null };

  // 1. The checkpoints: each note verified with the log's key; only those are compared with the tree.
  const checkpoints = verifyCheckpoints(input, problems, unnamed);

  // 2. Each record against itself: digest and JWS payload.
  const entries = leaves.map((leaf) => canonicalizeToBuffer(leaf.record));
  const structural: IntegrityProblem[] = [];
  leaves.forEach((leaf, index) => {
    if (sha256Hex(entries[index]) !== leaf.recordDigest) {
      structural.push({ kind: 'edited', ...name(index), message: `${describe(index)} was edited: its recordDigest is no longer the SHA-256 of its record` });
      return;
    }
    const payload = leaf.jws ? jwsPayload(leaf.jws) : undefined;
    if (leaf.jws && (!payload || !payload.equals(entries[index]))) {
      structural.push({ kind: 'edited', ...name(index), message: `${describe(index)} was edited: its record is no longer what its JWS signed` });
    }
  });

  // 3. Each correspondence's chain, in leaf order: chainIndex 0, 1, 2… each linking to the digest before it.
  const chains = new Map<string, number[]>();
  leaves.forEach((leaf, index) => chains.set(leaf.correspondenceId, [...(chains.get(leaf.correspondenceId) ?? []), index]));
  for (const [correspondenceId, indexes] of chains) {
    let expected = 0;
    let previous: number | undefined;
    for (const index of indexes) {
      const leaf = leaves[index];
      if (leaf.chainIndex < expected) {
        structural.push({
          kind: 'reordered',
          ...name(index),
          message: `${describe(index)} comes after chainIndex ${expected - 1} of its correspondence (leaf ${previous}): the records are out of order`,
        });
        continue;
      }
      if (leaf.chainIndex > expected) {
        const missing = Array.from({ length: leaf.chainIndex - expected }, (_, i) => expected + i);
        structural.push({
          kind: 'deleted',
          leafIndex: index,
          correspondenceId,
          chainIndex: missing[0],
          eventName: null,
          evidenceId: null,
          message: `evidence of correspondence ${correspondenceId} chainIndex ${missing.join(', ')} is missing: the chain goes from ${previous === undefined ? 'its start' : `chainIndex ${leaves[previous].chainIndex} (leaf ${previous})`} to ${describe(index)}`,
        });
      } else if (previous !== undefined && leaf.previousEvidenceDigest !== leaves[previous].recordDigest && !structural.some((p) => p.leafIndex === previous)) {
        structural.push({
          kind: 'edited',
          ...name(previous),
          message: `${describe(previous)} was edited: the next record of its chain (leaf ${index}) links to digest ${String(leaf.previousEvidenceDigest)}, not to its ${leaves[previous].recordDigest}`,
        });
      } else if (previous === undefined && leaf.chainIndex === 0 && leaf.previousEvidenceDigest !== null) {
        structural.push({ kind: 'edited', ...name(index), message: `${describe(index)} was edited: the first record of a chain links to no earlier record` });
      }
      expected = leaf.chainIndex + 1;
      previous = index;
    }
  }

  // 4. The tree against the signed roots.
  const tree = MerkleTree.fromEntries(entries);
  const last = checkpoints[checkpoints.length - 1];
  const failing = checkpoints.find((checkpoint) => checkpoint.size <= n && !tree.root(checkpoint.size).equals(checkpoint.root));
  const good = Math.max(
    0,
    ...checkpoints
      .filter((checkpoint) => checkpoint.size <= n && (failing === undefined || checkpoint.size < failing.size))
      .map((checkpoint) => checkpoint.size),
  );
  const short = last !== undefined && last.size > n ? last.size - n : 0;
  const shortNote =
    short > 0 ? `; the store holds ${n} evidence records, ${short} fewer than the ${last!.size} of the checkpoint signed at ${last!.signedAt}` : '';
  const primary: IntegrityProblem[] = [];
  if (failing !== undefined) {
    const within = (problem: IntegrityProblem) => problem.leafIndex !== null && problem.leafIndex >= good && problem.leafIndex < failing.size;
    const swap = findSwap(
      tree,
      leaves.map((_, i) => tree.leafHashAt(i)),
      checkpoints,
      good,
      failing.size,
      input.swapBudget ?? 20_000,
    );
    const stated = `the store no longer gives the root of the checkpoint of size ${failing.size} signed at ${failing.signedAt} (the one of size ${good} still matches)`;
    if (swap !== undefined) {
      const [i, j] = swap;
      // The chain's view of the swapped pair (a gap, then an earlier index) is this same swap: said once.
      for (let k = structural.length - 1; k >= 0; k--) {
        const { kind, leafIndex } = structural[k];
        if ((kind === 'deleted' || kind === 'reordered') && leafIndex !== null && leafIndex >= i && leafIndex <= j) structural.splice(k, 1);
      }
      primary.push({
        kind: 'reordered',
        ...name(i),
        message: `${describe(i)} and ${describe(j)} were swapped: exchanged back they give every signed root; ${stated}`,
      });
    } else if (structural.some(within)) {
      const first = structural.filter(within).sort((a, b) => a.leafIndex! - b.leafIndex!)[0];
      structural.splice(structural.indexOf(first), 1);
      primary.push({ ...first, message: `${first.message}; ${stated}${shortNote}` });
    } else {
      const suspects = cutChains(leaves, good, Math.min(failing.size, n));
      primary.push({
        kind: short > 0 ? 'deleted' : 'edited',
        ...(good < n ? name(good) : unnamed),
        leafIndex: good,
        message: `${stated}: one of leaves ${good}..${failing.size - 1} was ${short > 0 ? 'removed' : 'edited or replaced'}${suspects}${shortNote}`,
      });
    }
  } else if (short > 0) {
    // The prefix the store holds matches; the end is gone.
    const suspects = cutChains(leaves, good, n);
    const cut = n > 0 ? leaves[n - 1] : undefined;
    primary.push({
      kind: 'truncated',
      leafIndex: n,
      correspondenceId: cut?.correspondenceId ?? null,
      chainIndex: cut === undefined ? null : cut.chainIndex + 1,
      eventName: null,
      evidenceId: null,
      message: `the evidence log was truncated: leaves ${n}..${last!.size - 1} (${short} record${short === 1 ? '' : 's'}) of the checkpoint of size ${last!.size} signed at ${last!.signedAt} are missing from the store${suspects}`,
    });
  }
  const all = [...primary, ...problems, ...structural.sort((a, b) => (a.leafIndex ?? -1) - (b.leafIndex ?? -1))];
  return {
    report: {
      status: all.length === 0 ? 'consistent' : 'inconsistent',
      checkedLeaves: n,
      lastCheckpoint: last ? { size: last.size, root: last.root.toString('base64') } : null,
      problems: all,
    },
    signingStopped: primary.length > 0,
  };
}

function verifyCheckpoints(input: LogIntegrityInput, problems: IntegrityProblem[], unnamed: Omit<IntegrityProblem, 'kind' | 'message'>): UsableCheckpoint[] {
  let verifier: NoteVerifier | undefined;
  try {
    verifier = parseVerifierKey(input.verifierKey);
  } catch (error) {
    problems.push({ kind: 'checkpoint', ...unnamed, message: `the log's verifier key is unusable: ${(error as Error).message}` });
    return [];
  }
  const origin = input.origin ?? verifier.name;
  const usable: UsableCheckpoint[] = [];
  input.checkpoints.forEach((recorded, index) => {
    const label = `checkpoint #${index + 1} (size ${recorded.treeSize}${recorded.signedAt ? `, signed at ${recorded.signedAt}` : ''})`;
    try {
      const body = parseCheckpoint(openNote(recorded.note, [verifier!]).text);
      if (body.origin !== origin) throw new Error(`its origin is ${body.origin}, not ${origin}`);
      if (body.size !== recorded.treeSize || body.rootHash.toString('hex') !== recorded.rootHash)
        throw new Error(`its note says size ${body.size} root ${body.rootHash.toString('hex')}, its event ${recorded.treeSize} ${recorded.rootHash}`);
      const previous = usable[usable.length - 1];
      if (previous !== undefined && body.size < previous.size) throw new Error(`it is smaller than the checkpoint before it (${previous.size})`);
      usable.push({ size: body.size, root: body.rootHash, signedAt: recorded.signedAt ?? 'an unknown time' });
    } catch (error) {
      problems.push({ kind: 'checkpoint', ...unnamed, message: `${label} is not a checkpoint of this log: ${(error as Error).message}` });
    }
  });
  return usable;
}

/** The chains whose last record in the store lies in [from, to): the correspondences a removal may have cut. */
function cutChains(leaves: readonly StoredEvidence[], from: number, to: number): string {
  const lastOf = new Map<string, number>();
  leaves.forEach((leaf, index) => lastOf.set(leaf.correspondenceId, index));
  const cut = [...lastOf.entries()]
    .filter(([, index]) => index >= from && index < to)
    .map(
      ([id, index]) =>
        `correspondence ${id} ends at chainIndex ${leaves[index].chainIndex} (leaf ${index}): its chainIndex ${leaves[index].chainIndex + 1} may be among them`,
    );
  return cut.length === 0 ? '' : `; chains that end there: ${cut.join('; ')}`;
}

/**
 * Two leaves i < j, i in [from, to), whose exchange gives every signed root the tree reaches (the first divergence
 * at i). O(log² n) a pair, with the unchanged subtrees taken from the tree; at most `budget` pairs.
 */
function findSwap(
  tree: MerkleTree,
  hashes: readonly Buffer[],
  checkpoints: readonly UsableCheckpoint[],
  from: number,
  to: number,
  budget: number,
): [number, number] | undefined {
  const n = hashes.length;
  const reachable = checkpoints.filter((checkpoint) => checkpoint.size <= n && checkpoint.size > from);
  if (reachable.length === 0) return undefined;
  let tried = 0;
  for (let i = from; i < Math.min(to, n); i++) {
    for (let j = i + 1; j < n; j++) {
      if (++tried > budget) return undefined;
      const mth = (start: number, end: number): Buffer => {
        const touches = (start <= i && i < end) || (start <= j && j < end);
        if (!touches) return tree.subtreeHash(start, end);
        if (end - start === 1) return start === i ? hashes[j] : hashes[i];
        const k = splitPoint(end - start);
        return nodeHash(mth(start, start + k), mth(start + k, end));
      };
      if (reachable.every((checkpoint) => mth(0, checkpoint.size).equals(checkpoint.root))) return [i, j];
    }
  }
  return undefined;
}
