import { hash } from 'node:crypto';
import { verifyTimeStampToken } from '@sigillum/crypto/timestamp';
import { type CompletenessStatement, parseCompleteness, verifyEvidenceChain, verifyProcessingSignatures } from '@sigillum/evidence';
import { type Checkpoint, InclusionVerifier, type NoteVerifier, openNote, parseCheckpoint, parseVerifierKey } from '@sigillum/tlog';
import type { Bundle, BundleCorrespondence, BundleRecord } from './bundle';
import { canonicalJson } from './jcs';

/** One thing that does not hold, with the record it is about (null: the correspondence or the bundle as a whole). */
export interface Problem {
  readonly correspondenceId: string | null;
  readonly chainIndex: number | null;
  readonly eventName: string | null;
  readonly rule: string;
  readonly message: string;
}

export interface VerifyReport {
  readonly valid: boolean;
  readonly problems: readonly Problem[];
  readonly lines: readonly string[];
  readonly keyId: string | null;
}

export interface VerifyOptions {
  /** The verifier key the auditor expects (published by the operator); the bundle's own key must be this one. */
  readonly pinnedKey?: string;
  /** Called once per correspondence checked (progress). */
  readonly onCorrespondence?: (correspondenceId: string) => void;
}

const sha256Hex = (text: string) => hash('sha256', text, 'hex');
const keyIdOf = (verifier: NoteVerifier) => `${verifier.name}+${verifier.keyId.toString('hex')}`;
const sameKey = (a: NoteVerifier, b: NoteVerifier) => a.name === b.name && a.keyId.equals(b.keyId) && a.publicKey.equals(b.publicKey);

/**
 * Verifies an audit bundle offline: the log's checkpoint signatures (against the bundle's key, or the pinned one),
 * each record's leaf (SHA-256(0x00 || canonical JSON)), each inclusion proof to its checkpoint's root, the per-
 * correspondence chain (libs/evidence: JWS with x5c or x5t#S256 to the bundle's CA, previousEvidenceDigest links, contiguous
 * chain indexes), the operators' signatures the records quote (certificates by x5t#S256 from the bundle's
 * `certificates`) and completeness against what the server had when exporting (a record dropped anywhere is named).
 */
export function verifyBundle(bundle: Bundle, options: VerifyOptions = {}): VerifyReport {
  const problems: Problem[] = [];
  const lines: string[] = [];
  const problem = (correspondenceId: string | null, record: Pick<BundleRecord, 'chainIndex' | 'eventName'> | null, rule: string, message: string) =>
    problems.push({ correspondenceId, chainIndex: record?.chainIndex ?? null, eventName: record?.eventName ?? null, rule, message });

  let verifier: NoteVerifier | null = null;
  try {
    verifier = parseVerifierKey(bundle.verifierKey.trim());
  } catch (error) {
    problem(null, null, 'key.malformed', `the bundle's verifier key is not a signed-note Ed25519 key: ${(error as Error).message}`);
  }
  if (options.pinnedKey !== undefined) {
    let pinned: NoteVerifier | null = null;
    try {
      pinned = parseVerifierKey(options.pinnedKey.trim());
    } catch (error) {
      problem(null, null, 'key.malformed', `the --key given is not a signed-note Ed25519 key: ${(error as Error).message}`);
    }
    if (pinned) {
      if (verifier && !sameKey(pinned, verifier)) {
        problem(
          null,
          null,
          'key.mismatch',
          `the bundle's log key ${keyIdOf(verifier)} is not the expected key ${keyIdOf(pinned)}: the checkpoints were not signed by the log you expect`,
        );
      }
      verifier = pinned;
      lines.push(`Log key: ${keyIdOf(pinned)} (pinned with --key)`);
    }
  } else if (verifier) {
    lines.push(`Log key: ${keyIdOf(verifier)} (taken from the bundle; pin the operator's published key with --key to rule out a substituted log)`);
  }

  const checkpoints = new CheckpointChecks(bundle.caCertificatePem, verifier);
  for (const item of bundle.correspondences) {
    verifyCorrespondence(item, bundle.signingCertificatePems ?? [], bundle.certificates ?? {}, checkpoints, problem, lines);
    options.onCorrespondence?.(item.correspondenceId);
  }

  const valid = problems.length === 0;
  const total = bundle.correspondences.reduce((sum, item) => sum + item.records.length, 0);
  if (valid) {
    lines.push(
      `VALID: ${bundle.correspondences.length} correspondence(s), ${total} record(s): every checkpoint is signed by the log key, every record is a leaf included under it, every chain is unbroken and complete up to what the server had.`,
    );
  } else {
    lines.push(`INVALID: ${problems.length} problem(s):`);
    for (const p of problems) {
      const where =
        p.correspondenceId === null
          ? 'bundle'
          : p.chainIndex === null
            ? `correspondence ${p.correspondenceId}`
            : `correspondence ${p.correspondenceId}, chainIndex ${p.chainIndex}, ${p.eventName ?? '?'}`;
      lines.push(`  - ${where}: ${p.rule}: ${p.message}`);
    }
  }
  return { valid, problems, lines, keyId: verifier ? keyIdOf(verifier) : null };
}

type ProblemSink = (correspondenceId: string | null, record: Pick<BundleRecord, 'chainIndex' | 'eventName'> | null, rule: string, message: string) => void;

/** What checking one checkpoint found: its parsed form, or why its signature failed; its time-stamp's time, or why it failed. */
interface CheckpointCheck {
  readonly checkpoint: Checkpoint | null;
  /**
   * The inclusion proofs against it, checked by one verifier for every correspondence using the checkpoint: records
   * appended together are neighbouring leaves, and a proof is hashed only up to a node another one proved.
   */
  readonly inclusion: InclusionVerifier | null;
  readonly signatureError: string | null;
  readonly genTime: Date | null;
  readonly timeStampError: string | null;
}

/**
 * Correspondences exported together mostly share a few checkpoints (one is signed per interval, not per letter): each
 * distinct checkpoint (note + time-stamp) is verified once and its outcome reported for every correspondence using it.
 */
class CheckpointChecks {
  private readonly done = new Map<string, CheckpointCheck>();

  constructor(
    readonly caPem: string,
    readonly verifier: NoteVerifier | null,
  ) {}

  check(note: string, timeStampToken: string | undefined): CheckpointCheck {
    const key = `${note}\u0000${timeStampToken ?? ''}`;
    let found = this.done.get(key);
    if (!found) this.done.set(key, (found = this.checkNow(note, timeStampToken)));
    return found;
  }

  private checkNow(note: string, timeStampToken: string | undefined): CheckpointCheck {
    let checkpoint: Checkpoint | null = null;
    let signatureError: string | null = null;
    try {
      checkpoint = parseCheckpoint(openNote(note, [this.verifier!]).text);
    } catch (error) {
      signatureError = (error as Error).message;
    }
    const inclusion = checkpoint ? new InclusionVerifier(checkpoint.size, checkpoint.rootHash) : null;
    if (!timeStampToken) return { checkpoint, inclusion, signatureError, genTime: null, timeStampError: null };
    try {
      const info = verifyTimeStampToken(Buffer.from(timeStampToken, 'base64'), { data: Buffer.from(note, 'utf8'), trustedCaPem: this.caPem });
      return { checkpoint, inclusion, signatureError, genTime: info.genTime, timeStampError: null };
    } catch (error) {
      return { checkpoint, inclusion, signatureError, genTime: null, timeStampError: (error as Error).message };
    }
  }
}

function verifyCorrespondence(
  item: BundleCorrespondence,
  signingCertificates: readonly string[],
  certificates: Readonly<Record<string, string>>,
  checkpoints: CheckpointChecks,
  sink: ProblemSink,
  lines: string[],
): void {
  const verifier = checkpoints.verifier;
  const id = item.correspondenceId;
  const failing = new Set<number>();
  const problem: ProblemSink = (correspondenceId, record, rule, message) => {
    if (record) failing.add(record.chainIndex);
    sink(correspondenceId, record, rule, message);
  };
  const before = lines.length;
  const records = item.records;

  // The checkpoint: signed by the log key, well-formed, time-stamped by the CA's TSA when the server does so.
  let checkpoint: Checkpoint | null = null;
  let inclusion: InclusionVerifier | null = null;
  if (!item.checkpoint || typeof item.checkpoint.note !== 'string') {
    problem(id, null, 'checkpoint.missing', 'the bundle carries no signed checkpoint for this correspondence: its records are not proven in the log');
  } else if (verifier) {
    const checked = checkpoints.check(item.checkpoint.note, item.checkpoint.timeStampToken || undefined);
    checkpoint = checked.checkpoint;
    inclusion = checked.inclusion;
    if (checked.signatureError !== null) {
      problem(id, null, 'checkpoint.signature', `the checkpoint does not verify under ${keyIdOf(verifier)}: ${checked.signatureError}`);
    } else if (checkpoint && checkpoint.origin !== verifier.name) {
      problem(id, null, 'checkpoint.origin', `the checkpoint's origin "${checkpoint.origin}" is not the key's name "${verifier.name}"`);
    }
    if (checked.genTime) lines.push(`  checkpoint time-stamped ${checked.genTime.toISOString()} (RFC 3161, TSA under the bundle's CA)`);
    if (checked.timeStampError !== null) {
      problem(id, null, 'checkpoint.timestamp', `the checkpoint's RFC 3161 time-stamp does not verify against the bundle's CA: ${checked.timeStampError}`);
    }
  }

  // Each record: its leaf is the hash of its canonical JSON, proven included under the checkpoint's root.
  const digests: (string | null)[] = [];
  for (const record of records) {
    // Hashed as text (UTF-8, no buffer of our own): the digest of the entry, and below the leaf, SHA-256(0x00 || entry).
    let entry: string | null = null;
    try {
      entry = canonicalJson(record.record);
    } catch (error) {
      problem(id, record, 'record.shape', `the record has no canonical JSON form: ${(error as Error).message}`);
    }
    const digest = entry === null ? null : sha256Hex(entry);
    digests.push(digest);
    if (entry !== null && record.recordDigest !== digest) {
      problem(
        id,
        record,
        'record.digest',
        `recordDigest ${String(record.recordDigest).slice(0, 16)}… is not SHA-256 of the record's canonical JSON (${String(digest).slice(0, 16)}…): the record was altered`,
      );
    }
    if (record.record?.chainIndex !== record.chainIndex || record.record?.eventName !== record.eventName) {
      problem(
        id,
        record,
        'record.label',
        `the bundle labels the record chainIndex ${record.chainIndex} ${record.eventName}, the record itself says ${String(record.record?.chainIndex)} ${String(record.record?.eventName)}`,
      );
    }
    if (record.record?.MessageIdentifier !== id) {
      problem(id, record, 'chain.correspondence', `the record is about ${String(record.record?.MessageIdentifier)}, not ${id}`);
    }
    if (record.leafIndex === null || record.leafIndex === undefined || !Array.isArray(record.inclusionProof)) {
      problem(id, record, 'inclusion.missing', 'no leaf index or inclusion proof: the checkpoint does not cover this record');
      continue;
    }
    if (!checkpoint || !inclusion || entry === null) continue;
    if (!Number.isSafeInteger(record.leafIndex) || record.leafIndex < 0 || record.leafIndex >= checkpoint.size) {
      problem(
        id,
        record,
        'checkpoint.not-covering',
        `leaf index ${record.leafIndex} is not below the checkpoint's tree size ${checkpoint.size}: the bundle's checkpoint does not cover this record`,
      );
      continue;
    }
    // Base64 as the bundle carries it: siblings already proven by a neighbour's proof are compared as text, not decoded.
    const proof = record.inclusionProof.every((sibling) => typeof sibling === 'string') ? record.inclusionProof : record.inclusionProof.map(String);
    if (!inclusion.verifyEncoded(record.leafIndex, hash('sha256', `\u0000${entry}`, 'buffer'), proof)) {
      problem(
        id,
        record,
        'inclusion.proof',
        `the record is not leaf ${record.leafIndex} of the checkpointed tree (size ${checkpoint.size}): the inclusion proof does not lead to the signed root`,
      );
    }
  }

  // Log order: a later record of a correspondence is a later leaf.
  for (let i = 1; i < records.length; i++) {
    const [a, b] = [records[i - 1].leafIndex, records[i].leafIndex];
    if (a !== null && b !== null && !(b > a))
      problem(id, records[i], 'log.order', `leaf index ${b} does not come after the previous record's ${a}: the records are out of log order`);
  }

  // The chain: with per-record JWS, libs/evidence verifies signatures (x5t#S256 or x5c to the CA), links and indexes; without, the links here.
  if (records.length > 0 && records.every((record) => typeof record.jws === 'string')) {
    const verdict = verifyEvidenceChain(records, checkpoints.caPem, { certificates: signingCertificates });
    for (const p of verdict.problems) {
      const record = records[p.index] ?? null;
      // The same finding as record.digest above, in libs/evidence's words: said once.
      if (p.rule === 'digest.mismatch' && record && digests[p.index] !== null && record.recordDigest !== digests[p.index]) continue;
      problem(id, record, p.rule, p.message);
    }
  } else {
    if (records.some((record) => typeof record.jws === 'string'))
      lines.push('  some records carry a JWS, some do not: the chain is checked by its digests and the inclusion proofs');
    records.forEach((record, i) => {
      const expected = i === 0 ? null : digests[i - 1];
      if (record.chainIndex !== i)
        problem(id, record, 'chain.index', `record ${i} of the bundle has chainIndex ${record.chainIndex}; indexes must run 0, 1, 2… without gaps`);
      if ((record.record?.previousEvidenceDigest ?? null) !== expected) {
        problem(
          id,
          record,
          'chain.link',
          i === 0
            ? 'the first record must have previousEvidenceDigest null'
            : `previousEvidenceDigest is not the digest of the record before it (${String(expected).slice(0, 16)}…)`,
        );
      }
    });
  }

  // The operators' signatures the records quote: a certificate named by x5t#S256 is taken from the bundle's
  // `certificates` (an unknown thumbprint is processing.certificate-unknown), one in x5c from the signature; to the CA.
  for (const p of verifyProcessingSignatures(records, checkpoints.caPem, certificates)) problem(id, records[p.index] ?? null, p.rule, p.message);

  // Completeness: every record the server had, none dropped in the middle or at the end.
  const present = new Set(records.map((record) => record.chainIndex));
  const last = item.expected.lastChainIndex;
  const highest = records.reduce((max, record) => Math.max(max, record.chainIndex), -1);
  for (let index = 0; index <= Math.max(last, highest); index++) {
    if (present.has(index)) continue;
    if (index > highest) {
      problem(
        id,
        { chainIndex: index, eventName: null as unknown as string },
        'truncation.end',
        `the record with chainIndex ${index} is missing: the server had ${item.expected.recordCount} record(s) up to chainIndex ${last} (leaf ${String(item.expected.lastLeafIndex)}), the bundle stops at chainIndex ${highest}`,
      );
    } else {
      problem(
        id,
        { chainIndex: index, eventName: null as unknown as string },
        'truncation.gap',
        `the record with chainIndex ${index} is missing from the bundle (records ${index - 1} and ${index + 1} are there)`,
      );
    }
  }
  if (records.length !== item.expected.recordCount) {
    problem(id, null, 'truncation.count', `the bundle holds ${records.length} record(s); the server had ${item.expected.recordCount}`);
  }
  const lastLeaf = records.reduce<number | null>((max, record) => (record.leafIndex === null ? max : Math.max(max ?? -1, record.leafIndex)), null);
  if (item.expected.lastLeafIndex !== null && lastLeaf !== item.expected.lastLeafIndex) {
    problem(id, null, 'truncation.leaf', `the last record the server had is leaf ${item.expected.lastLeafIndex}; the bundle's last is ${String(lastLeaf)}`);
  }
  verifyCompleteness(item, verifier, checkpoint, problem, lines);
  if (checkpoint && item.expected.lastLeafIndex !== null && item.expected.lastLeafIndex >= checkpoint.size) {
    problem(
      id,
      null,
      'checkpoint.not-covering',
      `the bundle claims records up to leaf ${item.expected.lastLeafIndex}, but its checkpoint covers ${checkpoint.size} leaves (0…${checkpoint.size - 1})`,
    );
  }

  const header = `Correspondence ${id}: ${records.length} record(s)${checkpoint ? `, checkpoint ${checkpoint.origin} size ${checkpoint.size} root ${checkpoint.rootHash.toString('base64')}` : ''}`;
  lines.splice(before, 0, header);
  records.forEach((record, i) => {
    const verdict = (failing.has(record.chainIndex) ? 'INVALID' : checkpoint ? 'ok' : 'UNPROVEN').padEnd(8);
    lines.push(
      `  #${String(record.chainIndex).padEnd(3)} ${verdict} leaf ${String(record.leafIndex ?? '-').padEnd(6)} ${String(record.eventName).padEnd(40)} ${digests[i]?.slice(0, 16) ?? '-'}…`,
    );
  });
}

/**
 * The log's signed completeness statement (GET /evidence/:id/proof), when the bundle carries one: how many records of
 * the correspondence the log held under the checkpoint, counted by the log itself. Unlike `expected` (the exporter's
 * word), it cannot be edited to match a bundle from which records were dropped.
 */
function verifyCompleteness(
  item: BundleCorrespondence,
  verifier: NoteVerifier | null,
  checkpoint: Checkpoint | null,
  problem: ProblemSink,
  lines: string[],
): void {
  const id = item.correspondenceId;
  if (item.completeness === undefined || item.completeness === null) {
    lines.push("  completeness: the bundle carries no statement signed by the log (an older server): the record count is the exporter's word");
    return;
  }
  if (!verifier) return;
  let statement: CompletenessStatement;
  try {
    statement = parseCompleteness(openNote(item.completeness, [verifier]).text);
  } catch (error) {
    problem(id, null, 'completeness.signature', `the completeness statement is not signed by the log key or not well-formed: ${(error as Error).message}`);
    return;
  }
  if (statement.correspondenceId !== id) {
    problem(id, null, 'completeness.correspondence', `the completeness statement is about ${statement.correspondenceId}, not ${id}`);
    return;
  }
  if (checkpoint && statement.treeSize !== checkpoint.size) {
    problem(
      id,
      null,
      'completeness.checkpoint',
      `the completeness statement was counted under a tree of ${statement.treeSize}, not the bundle's checkpoint of ${checkpoint.size}`,
    );
  }
  const present = new Set(item.records.map((record) => record.chainIndex));
  for (let index = 0; index <= statement.lastChainIndex; index++) {
    if (!present.has(index))
      problem(
        id,
        { chainIndex: index, eventName: null as unknown as string },
        'truncation.signed',
        `the log signed that it holds ${statement.recordCount} record(s) up to chainIndex ${statement.lastChainIndex}; record ${index} is not in the bundle`,
      );
  }
  if (item.records.filter((record) => record.leafIndex !== null && record.leafIndex < statement.treeSize).length !== statement.recordCount) {
    problem(
      id,
      null,
      'truncation.signed-count',
      `the log signed ${statement.recordCount} record(s) under its checkpoint; the bundle holds ${item.records.length}`,
    );
  }
  lines.push(
    `  completeness: signed by the log — ${statement.recordCount} record(s) up to chainIndex ${statement.lastChainIndex} (leaf ${statement.lastLeafIndex ?? '-'})`,
  );
}
