import { canonicalizeToBuffer } from '@sigillum/crypto';
import { MerkleTree } from '@sigillum/tlog';
import { type LoggedLeaf, type LogState, logVerdict, type ServedRecord } from './log-verdict';

/** A log of two interleaved correspondences, A (4 records) and B (2), and what the store serves of A. */
function logOf(signedSize?: number) {
  const tree = new MerkleTree();
  const leaves = new Map<string, LoggedLeaf[]>();
  const leafOf = new Map<string, number>();
  const served: ServedRecord[] = [];
  const order: [string, number][] = [
    ['A', 0],
    ['B', 0],
    ['A', 1],
    ['A', 2],
    ['B', 1],
    ['A', 3],
  ];
  for (const [correspondence, chainIndex] of order) {
    const record = { MessageIdentifier: correspondence, chainIndex, eventName: `E${chainIndex}` };
    const evidenceId = `${correspondence}-${chainIndex}`;
    const leafIndex = tree.append(canonicalizeToBuffer(record));
    leafOf.set(evidenceId, leafIndex);
    leaves.set(correspondence, [...(leaves.get(correspondence) ?? []), { leafIndex, evidenceId, chainIndex, eventName: record.eventName }]);
    if (correspondence === 'A') served.push({ evidenceId, chainIndex, eventName: record.eventName, record });
  }
  const size = signedSize ?? tree.size;
  const state: LogState = {
    checkpoint: size === 0 ? undefined : { treeSize: size, rootHash: tree.root(size), signedAt: '2026-12-02T10:00:00.000Z' },
    leafOf: (id) => leafOf.get(id),
    leavesOfCorrespondence: (id) => leaves.get(id) ?? [],
    inclusionProof: (leaf, treeSize) => tree.inclusionProof(leaf, treeSize),
  };
  return { state, served };
}

const rules = (verdict: ReturnType<typeof logVerdict>) => verdict.problems.map((p) => `${p.chainIndex}:${p.rule}`);

describe('the evidence log verdict on a correspondence as the store serves it', () => {
  it('given the records as logged, when all are covered by the checkpoint, then no problem', () => {
    const { state, served } = logOf();
    expect(logVerdict('A', served, state)).toEqual({ checkpoint: { treeSize: 6, signedAt: '2026-12-02T10:00:00.000Z' }, covered: 4, pending: 0, problems: [] });
  });

  it('given records after the checkpoint, then they are pending, not wrong', () => {
    const { state, served } = logOf(3);
    expect(logVerdict('A', served, state)).toMatchObject({ covered: 2, pending: 2, problems: [] });
    expect(logVerdict('A', served, logOf(0).state)).toMatchObject({ checkpoint: null, covered: 0, pending: 4, problems: [] });
  });

  it('given a record edited in the store, then its inclusion fails and it is named', () => {
    const { state, served } = logOf();
    const edited = served.map((item, i) => (i === 2 ? { ...item, record: { ...(item.record as object), eventName: 'forged' } } : item));
    expect(rules(logVerdict('A', edited, state))).toEqual(['2:log.inclusion']);
  });

  it('given the last record deleted (truncation), then it is named, though the chain alone would look whole', () => {
    const { state, served } = logOf();
    const verdict = logVerdict('A', served.slice(0, 3), state);
    expect(rules(verdict)).toEqual(['3:log.truncation']);
    expect(verdict.problems[0].message).toContain('leaf 5');
  });

  it('given a middle record deleted, then it is named', () => {
    const { state, served } = logOf();
    expect(rules(logVerdict('A', [served[0], served[2], served[3]], state))).toEqual(['1:log.truncation']);
  });

  it('given two records swapped, then the order is named', () => {
    const { state, served } = logOf();
    expect(rules(logVerdict('A', [served[0], served[2], served[1], served[3]], state))).toEqual(['1:log.order']);
  });

  it('given a record the log never held, then it is named', () => {
    const { state, served } = logOf();
    const stranger = { evidenceId: 'A-9', chainIndex: 4, eventName: 'E9', record: { chainIndex: 4 } };
    expect(rules(logVerdict('A', [...served, stranger], state))).toEqual(['4:log.missing']);
  });
});
