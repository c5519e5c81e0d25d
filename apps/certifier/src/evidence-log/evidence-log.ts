import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import {
  CLOCK,
  type Clock,
  EVIDENCE_CATEGORY,
  EVIDENCE_LOG_CATEGORY,
  type EvidenceCheckpointSigned,
  type EvidenceRecorded,
  ID_GENERATOR,
  type IdGenerator,
  streamCategory,
  streamIdOf,
} from '@sigillum/contracts';
import { canonicalizeToBuffer } from '@sigillum/crypto';
import { formatCompleteness } from '@sigillum/evidence';
import { EVENT_STORE, type EventStore, WrongExpectedVersionError } from '@sigillum/eventstore';
import { encodeEntryBundle, formatCheckpoint, hashTile, MerkleTree, signNote, signNoteAsync, type TileRef, tileExists, TILE_WIDTH } from '@sigillum/tlog';
import { CERTIFIER_SOURCE } from '../certifier.source';
import { EVIDENCE_LOG_CONFIG, type EvidenceLogConfig, originIdOf } from './evidence-log.config';
import { EVIDENCE_LOG_SIGNER, type EvidenceLogSigner } from './evidence-log.signer';
import { EVIDENCE_LOG_TSA, type EvidenceLogTsa } from './evidence-log.tsa';
import { HashLevelFile } from './hash-level-file';
import { LeafEntryFile } from './leaf-entry-file';
import { type IndexedLeaf, LeafIndex } from './leaf-index';
import { type LogVerdict, logVerdict, type ServedRecord } from './log-verdict';

/** A checkpoint the log signed (from its stream). */
export interface SignedCheckpoint {
  readonly treeSize: number;
  readonly rootHash: Buffer;
  readonly note: string;
  readonly signedAt: string;
  /** RFC 3161 TimeStampToken over SHA-256 of the note (UTF-8), base64 DER. */
  readonly timeStampToken: string;
}

/** One evidence record with its place in the log and its inclusion proof to a checkpoint. */
export interface EvidenceLeaf {
  readonly evidenceId: string;
  readonly chainIndex: number;
  readonly eventName: string;
  readonly record: Readonly<Record<string, unknown>>;
  readonly recordDigest: string;
  /** The leaf index in the log; null when the log has not read the record yet. */
  readonly leafIndex: number | null;
  /** Base64 hashes from the leaf's sibling up; null when the checkpoint does not cover the record yet. */
  readonly inclusionProof: string[] | null;
}

const READ_BATCH = 2_000;
/** How often the log looks for new evidence (at most; EVIDENCE_CHECKPOINT_MS if shorter). */
const POLL_MS = 250;

/**
 * The certifier's evidence transparency log. Every EvidenceRecorded of the event store is a leaf, in the store's
 * global order (one and the same order for every certifier instance reading the same store): entry = the RFC 8785
 * canonical JSON of `record`, exactly what `recordDigest` hashes, so anyone re-derives the leaf from the record.
 * The tree is rebuilt from the store at start and follows it (readAll from its own position). A checkpoint is
 * signed EVIDENCE_CHECKPOINT_MS after the tree grew, or once EVIDENCE_CHECKPOINT_LEAVES leaves are unsigned, and
 * recorded as EvidenceCheckpointSigned on `evidencelog-<originId>` with the stream's last revision as expected
 * version: of two certifiers, one wins, the other re-reads. Each note is time-stamped (RFC 3161) by the certifier's
 * own TSA. No checkpoint is signed that is inconsistent with the
 * last one recorded (a rewritten store stops the signing, loudly).
 */
@Injectable()
export class EvidenceLog implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('EvidenceLog');
  /** The tree's hashes, level by level, on disk (what it holds in memory is bounded: see HashLevelFile). */
  private readonly tree: MerkleTree;
  /** The leaves' entries, on disk: what the entry bundles serve. */
  private readonly entries: LeafEntryFile;
  /** Evidence id → leaf, correspondence → leaves in leaf order (what `logVerdict` compares the store with), on disk. */
  private readonly index: LeafIndex;
  private position: bigint | undefined;
  /** The latest checkpoint recorded on the log's stream (only it is served, see `latest`). */
  private latestCheckpoint: SignedCheckpoint | undefined;
  /** Recorded checkpoints the tree has not reached yet, oldest first: each is checked against the tree once it does, then dropped (a checkpoint a second under load must not pile up in memory). */
  private readonly unverified: SignedCheckpoint[] = [];
  private revision = -1;
  /** When the tree first held leaves no checkpoint covers (monotonic ms: the cadence is not the injected clock's business); undefined when all are signed. */
  private grewAt: number | undefined;
  /** Why signing stopped: the store no longer gives the tree a recorded checkpoint signed. */
  private halted: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private lastFailure: string | undefined;
  readonly origin: string;
  readonly streamId: string;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    @Inject(EVIDENCE_LOG_SIGNER) private readonly signer: EvidenceLogSigner,
    @Inject(EVIDENCE_LOG_TSA) private readonly tsa: EvidenceLogTsa,
    @Inject(EVIDENCE_LOG_CONFIG) private readonly config: EvidenceLogConfig,
  ) {
    this.entries = new LeafEntryFile(path.join(config.entriesDir, `entries-${originIdOf(config.origin)}.bin`));
    const treeDir = path.join(config.entriesDir, `tree-${originIdOf(config.origin)}`);
    this.tree = new MerkleTree((height) => new HashLevelFile(path.join(treeDir, `level-${height}.bin`)));
    this.index = new LeafIndex(path.join(config.entriesDir, `leaves-${originIdOf(config.origin)}.sqlite`));
    this.origin = config.origin;
    this.streamId = streamIdOf(EVIDENCE_LOG_CATEGORY, originIdOf(config.origin));
  }

  get verifierKey(): string {
    return this.signer.verifierKey;
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), Math.min(POLL_MS, this.config.checkpointMs));
    this.timer.unref();
    void this.tick();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.queue.catch(() => undefined);
    this.entries.close();
    this.index.close();
    this.tree.close();
  }

  /** Reads what the store added (leaves, checkpoints) and signs a checkpoint when one is due. */
  tick(): Promise<void> {
    return this.exclusive(async () => {
      if (this.stopping) return;
      try {
        await this.follow();
        if (this.due()) await this.sign();
        this.lastFailure = undefined;
      } catch (error) {
        // Said once per distinct failure, not every POLL_MS while it lasts.
        const message = (error as Error).message;
        if (!this.stopping && message !== this.lastFailure)
          this.log.warn(`evidence log: ${message} (retried every ${Math.min(POLL_MS, this.config.checkpointMs)} ms)`);
        this.lastFailure = message;
      }
    });
  }

  /** Brings the tree and the checkpoints up to the store (for readers: what is served is at least this fresh). */
  refresh(): Promise<void> {
    return this.exclusive(() => this.follow());
  }

  /** The latest signed checkpoint, if any. */
  latest(): SignedCheckpoint | undefined {
    return this.latestCheckpoint;
  }

  get size(): number {
    return this.tree.size;
  }

  /** The evidence records of a correspondence with their leaf indexes and inclusion proofs to `checkpoint`. */
  async leavesOf(correspondenceId: string, checkpoint: SignedCheckpoint | undefined): Promise<EvidenceLeaf[]> {
    const recorded = await this.store.readStream(streamIdOf(EVIDENCE_CATEGORY, correspondenceId));
    return recorded
      .filter((event) => event.event.type === 'EvidenceRecorded')
      .map((event) => {
        const data = (event.event as EvidenceRecorded).data;
        const leafIndex = this.index.leafOf(data.evidenceId) ?? null;
        const covered = checkpoint !== undefined && leafIndex !== null && leafIndex < checkpoint.treeSize;
        return {
          evidenceId: data.evidenceId,
          chainIndex: data.chainIndex,
          eventName: data.eventName,
          record: data.record,
          recordDigest: data.recordDigest,
          leafIndex,
          inclusionProof: covered ? this.tree.inclusionProof(leafIndex, checkpoint.treeSize).map((hash) => hash.toString('base64')) : null,
        };
      });
  }

  /** The log's word on the records of a correspondence as the store serves them now (see logVerdict). */
  async verdictOn(correspondenceId: string, served: readonly ServedRecord[]): Promise<LogVerdict> {
    await this.refresh();
    return logVerdict(correspondenceId, served, {
      checkpoint: this.latest(),
      leafOf: (evidenceId) => this.index.leafOf(evidenceId),
      leavesOfCorrespondence: (id) => this.index.leavesOf(id),
      inclusionProof: (leafIndex, treeSize) => this.tree.inclusionProof(leafIndex, treeSize),
    });
  }

  /**
   * The log's signed word on how many records of the correspondence it holds under `checkpoint` (a signed note with
   * the checkpoint key; see libs/evidence completeness.ts): counted from the log's own leaves, not from the store, so a
   * row deleted from the store — or a record dropped from an export — still shows. Null before the first checkpoint.
   */
  completenessOf(correspondenceId: string, checkpoint: SignedCheckpoint | undefined): string | null {
    if (checkpoint === undefined) return null;
    const leaves = this.index.leavesOf(correspondenceId).filter((leaf) => leaf.leafIndex < checkpoint.treeSize);
    const last = leaves[leaves.length - 1];
    const text = formatCompleteness({
      correspondenceId,
      recordCount: leaves.length,
      lastChainIndex: last?.chainIndex ?? -1,
      lastLeafIndex: last?.leafIndex ?? null,
      treeSize: checkpoint.treeSize,
    });
    return signNote(text, [this.signer.note]);
  }

  /** The consistency proof between two tree sizes the log has (base64 hashes). */
  consistencyProof(from: number, to: number): string[] {
    return this.tree.consistencyProof(from, to).map((hash) => hash.toString('base64'));
  }

  /** The root hash of the tree of the first `size` leaves. */
  rootAt(size: number): Buffer {
    return this.tree.root(size);
  }

  /** A tile of c2sp.org/tlog-tiles within the latest checkpoint; undefined when that checkpoint has no such tile. */
  async tile(ref: TileRef): Promise<Buffer | undefined> {
    const size = this.latest()?.treeSize ?? 0;
    if (!tileExists(ref, size)) return undefined;
    if (ref.kind === 'hash') return hashTile(this.tree, ref.level, ref.index, ref.width);
    return encodeEntryBundle(this.entries.read(ref.index * TILE_WIDTH, ref.width));
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.catch(() => undefined).then(work);
    this.queue = next;
    return next;
  }

  private async follow(): Promise<void> {
    await this.readLeaves();
    await this.readCheckpoints();
    this.checkAgainstCheckpoints();
    const signed = this.latest()?.treeSize ?? 0;
    if (this.tree.size > signed) this.grewAt ??= performance.now();
    else this.grewAt = undefined;
  }

  /**
   * Each batch read from the store is written to disk (entries, then index) before the tree and the position move:
   * a write that fails leaves both where they were, and the next tick reads the same batch again (both writes put the
   * same bytes at the same places). The tree's own files are written last (see below). Between two awaits, tree,
   * entries and index hold the same leaves.
   */
  private async readLeaves(): Promise<void> {
    for (;;) {
      // Only the evidence streams: the store skips the other events without parsing them (~2/3 of a delivery's).
      const batch = await this.store.readAll({ after: this.position, maxCount: READ_BATCH, categories: [EVIDENCE_CATEGORY] });
      const records: Buffer[] = [];
      const leaves: IndexedLeaf[] = [];
      for (const recorded of batch) {
        if (streamCategory(recorded.streamId) !== EVIDENCE_CATEGORY || recorded.event.type !== 'EvidenceRecorded') continue;
        const data = (recorded.event as EvidenceRecorded).data;
        const entry = canonicalizeToBuffer(data.record);
        if (createHash('sha256').update(entry).digest('hex') !== data.recordDigest) {
          this.log.error(
            `evidence ${data.evidenceId} (${recorded.streamId}@${recorded.streamRevision}): recordDigest is not the SHA-256 of its record; logged as stored`,
          );
        }
        const leafIndex = this.tree.size + records.length;
        records.push(entry);
        leaves.push({
          leafIndex,
          evidenceId: data.evidenceId,
          correspondenceId: data.correspondenceId,
          chainIndex: data.chainIndex,
          eventName: data.eventName,
        });
      }
      this.entries.append(records);
      this.index.add(leaves);
      for (const entry of records) this.tree.append(entry);
      if (batch.length > 0) this.position = batch[batch.length - 1].globalPosition;
      // After the position: should the write fail, the hashes stay pending (served from memory) until the next flush.
      this.tree.flush();
      if (batch.length < READ_BATCH) return;
    }
  }

  private async readCheckpoints(): Promise<void> {
    const recorded = await this.store.readStream(this.streamId, { fromRevision: this.revision + 1 });
    for (const event of recorded) {
      this.revision = event.streamRevision;
      if (event.event.type !== 'EvidenceCheckpointSigned') continue;
      const data = (event.event as EvidenceCheckpointSigned).data;
      // Its own 32 bytes: Buffer.from of a short string is a view of Buffer's shared 8 KiB pool, and would keep it alive.
      const rootHash = Buffer.allocUnsafeSlow(Buffer.byteLength(data.rootHash, 'hex'));
      rootHash.write(data.rootHash, 'hex');
      const checkpoint: SignedCheckpoint = {
        treeSize: data.treeSize,
        rootHash,
        note: data.note,
        signedAt: data.signedAt,
        timeStampToken: data.timeStampToken,
      };
      this.latestCheckpoint = checkpoint;
      this.unverified.push(checkpoint);
    }
  }

  /** Every recorded checkpoint the tree reaches must have the tree's root at its size; otherwise signing stops. */
  private checkAgainstCheckpoints(): void {
    while (this.unverified.length > 0 && this.unverified[0].treeSize <= this.tree.size) {
      const checkpoint = this.unverified.shift()!;
      if (!this.tree.root(checkpoint.treeSize).equals(checkpoint.rootHash) && this.halted === undefined) {
        this.halted = `the evidence in the store no longer gives the root of the checkpoint of size ${checkpoint.treeSize} signed at ${checkpoint.signedAt}: evidence was removed, reordered or edited`;
        this.log.error(`${this.halted}; no further checkpoint will be signed`);
      }
    }
  }

  private due(): boolean {
    if (this.halted !== undefined || this.grewAt === undefined) return false;
    const latest = this.latest();
    if (latest !== undefined && latest.treeSize > this.tree.size) return false; // another instance is ahead: catch up first
    const unsigned = this.tree.size - (latest?.treeSize ?? 0);
    return unsigned >= this.config.checkpointLeaves || performance.now() - this.grewAt >= this.config.checkpointMs;
  }

  private async sign(): Promise<void> {
    const treeSize = this.tree.size;
    const rootHash = this.tree.root();
    // Both signatures off the event loop (libuv's threadpool); this runs in `exclusive`, so nothing reads the store or
    // moves the tree meanwhile, and the append still expects the revision read before.
    const note = await signNoteAsync(formatCheckpoint({ origin: this.origin, size: treeSize, rootHash }), [this.signer.note]);
    const now = this.clock.now();
    const signedAt = now.toISOString();
    const timeStampToken = (await this.tsa.timeStampAsync(Buffer.from(note, 'utf8'), now)).toString('base64');
    const eventId = this.ids.next();
    const event: EvidenceCheckpointSigned = {
      type: 'EvidenceCheckpointSigned',
      version: 1,
      data: { origin: this.origin, treeSize, rootHash: rootHash.toString('hex'), note, verifierKey: this.signer.verifierKey, signedAt, timeStampToken },
    };
    try {
      await this.store.append(
        this.streamId,
        [{ event, metadata: { eventId, correlationId: eventId, causationId: eventId, occurredAt: signedAt, source: CERTIFIER_SOURCE } }],
        this.revision === -1 ? 'no-stream' : this.revision,
      );
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      // Another certifier signed first: take its checkpoint, sign again later if still due.
      await this.readCheckpoints();
      this.checkAgainstCheckpoints();
      return;
    }
    await this.readCheckpoints();
    // Signed from this tree: nothing to check against it.
    this.unverified.length = 0;
    this.grewAt = undefined;
  }
}
