import { canonicalizeToBuffer } from '@sigillum/crypto';
import { leafHash, verifyInclusion } from '@sigillum/tlog';

/**
 * The evidence log's word on the records of one correspondence as the store serves them now: each record must be the
 * leaf the log holds for it (the inclusion proof of the record as served leads to the latest signed root), in log
 * order, and no record the log holds for the correspondence may be missing. This is what finds a record cut off at
 * the end of a chain — which the chain's own links cannot show — and an edit made behind the certifier's back.
 * Pure: the log's state comes in as functions.
 */

export interface ServedRecord {
  readonly evidenceId: string;
  readonly chainIndex: number;
  readonly eventName: string;
  readonly record: unknown;
}

/** What the log knows of one of its leaves. */
export interface LoggedLeaf {
  readonly leafIndex: number;
  readonly evidenceId: string;
  readonly chainIndex: number;
  readonly eventName: string;
}

export interface LogState {
  /** The latest signed checkpoint (size, root), or undefined before the first. */
  readonly checkpoint: { readonly treeSize: number; readonly rootHash: Buffer; readonly signedAt: string } | undefined;
  /** The leaf index of an evidence id, when the log has read it. */
  leafOf(evidenceId: string): number | undefined;
  /** The leaves the log holds for the correspondence, in leaf order. */
  leavesOfCorrespondence(correspondenceId: string): readonly LoggedLeaf[];
  /** The inclusion proof of a leaf to a tree size. */
  inclusionProof(leafIndex: number, treeSize: number): Buffer[];
}

export interface LogProblem {
  readonly chainIndex: number;
  readonly eventName: string;
  readonly rule: 'log.missing' | 'log.inclusion' | 'log.order' | 'log.truncation';
  readonly message: string;
}

export interface LogVerdict {
  readonly checkpoint: { readonly treeSize: number; readonly signedAt: string } | null;
  /** Records whose inclusion in the signed tree was checked. */
  readonly covered: number;
  /** Records the log holds but no checkpoint covers yet (signed within EVIDENCE_CHECKPOINT_MS). */
  readonly pending: number;
  readonly problems: readonly LogProblem[];
}

export function logVerdict(correspondenceId: string, served: readonly ServedRecord[], log: LogState): LogVerdict {
  const problems: LogProblem[] = [];
  const checkpoint = log.checkpoint;
  let covered = 0;
  let pending = 0;
  let previousLeaf = -1;
  for (const item of served) {
    const leafIndex = log.leafOf(item.evidenceId);
    const named = { chainIndex: item.chainIndex, eventName: item.eventName };
    if (leafIndex === undefined) {
      problems.push({
        ...named,
        rule: 'log.missing',
        message: `record ${item.chainIndex} (${item.eventName}) is not a leaf of the evidence log: it was not written by the certifier's log order`,
      });
      continue;
    }
    if (leafIndex <= previousLeaf) {
      problems.push({
        ...named,
        rule: 'log.order',
        message: `record ${item.chainIndex} (${item.eventName}) is leaf ${leafIndex}, not after the record before it (leaf ${previousLeaf}): records were reordered`,
      });
    }
    previousLeaf = Math.max(previousLeaf, leafIndex);
    if (checkpoint === undefined || leafIndex >= checkpoint.treeSize) {
      pending += 1;
      continue;
    }
    covered += 1;
    const proof = log.inclusionProof(leafIndex, checkpoint.treeSize);
    if (!verifyInclusion(leafIndex, checkpoint.treeSize, leafHash(canonicalizeToBuffer(item.record)), proof, checkpoint.rootHash)) {
      problems.push({
        ...named,
        rule: 'log.inclusion',
        message: `record ${item.chainIndex} (${item.eventName}) as stored is not leaf ${leafIndex} of the checkpoint of size ${checkpoint.treeSize} signed at ${checkpoint.signedAt}: it was edited after the log signed it`,
      });
    }
  }
  const servedIds = new Set(served.map((item) => item.evidenceId));
  for (const leaf of log.leavesOfCorrespondence(correspondenceId)) {
    if (servedIds.has(leaf.evidenceId)) continue;
    problems.push({
      chainIndex: leaf.chainIndex,
      eventName: leaf.eventName,
      rule: 'log.truncation',
      message: `record ${leaf.chainIndex} (${leaf.eventName}) is leaf ${leaf.leafIndex} of the evidence log but the store no longer has it: it was deleted`,
    });
  }
  return { checkpoint: checkpoint ? { treeSize: checkpoint.treeSize, signedAt: checkpoint.signedAt } : null, covered, pending, problems };
}
