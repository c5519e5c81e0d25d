import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { type DeliveredMessage, DomainError } from '@sigillum/contracts';
import { type ApplyElsewhere, BatchedProjector, type EventStore } from '@sigillum/eventstore';
import Database from 'better-sqlite3';
import { SqliteProjector } from '../sqlite-projector';
import { type RebuildableProjection, replayLog, type ReplayCount, replayLogInto, type ReplayTarget } from './log-replay';
import { readModelDigest } from './read-model-digest';
import { type LogBounds, logBounds, type RebuildReport, type RebuildStatus, RebuildTracker } from './rebuild-progress';
import { canRebuildInWorker, rebuildInWorker, type WorkerRebuild } from './rebuild-threads';
import { ScratchReadModel } from './scratch-read-model';

export type { RebuildProgress, RebuildReport, RebuildStatus } from './rebuild-progress';
export { type RebuildableProjection, replayLog, replayLogInto, type ReplayCount, type ReplayOutcome, type ReplayTarget } from './log-replay';

/** A read model's digest at a position of the log. */
export interface DigestAt {
  readonly digest: string;
  readonly rows: Record<string, number>;
  /** Global position of the newest event of the log this read model has applied; null when it applied none. */
  readonly position: string | null;
}

export interface ReplayComparison {
  readonly projection: string;
  readonly live: DigestAt;
  readonly replayed: DigestAt;
  readonly equal: boolean;
}

const PAGE = 500;

/**
 * Applies live messages to one projection, and rebuilds it from position 0 of the event store on demand. While a
 * rebuild runs, live messages wait for it (then most are already applied: the projector skips them by event id),
 * so the two never interleave. Progress goes to the log every page.
 */
export class ProjectionRunner {
  private readonly log: Logger;
  private readonly projector: SqliteProjector;
  /** Live messages, batched per tick; they wait for a running rebuild. */
  private readonly live: BatchedProjector;
  private rebuilding: Promise<RebuildReport> | null = null;
  /** The running rebuild's progress record; null when none runs. */
  private tracker: RebuildTracker | null = null;
  /** Resolves once the running rebuild has passed its checks and emptied the read model (it is then under way). */
  private started: Promise<void> = Promise.resolve();
  private lastReport: RebuildReport | null = null;
  private lastFailure: RebuildStatus['lastFailure'] = null;
  /** Whether the projector dropped an older version's tables when it opened (the read model must be rebuilt). */
  readonly versionChanged: boolean;

  constructor(
    private readonly db: Database.Database,
    private readonly store: EventStore,
    readonly projection: RebuildableProjection,
    private readonly now: () => Date,
    /** Milliseconds of a monotonic clock, for the pace of a rebuild (the application's clock may stand still in tests). */
    private readonly monotonicMs: () => number = () => performance.now(),
    /**
     * The log is the SQLite store on `db`'s file: rebuilt together with others, this projection is rebuilt on a worker
     * thread of its own (rebuild-threads.ts) when it can be loaded there.
     */
    readonly threads = false,
    /** Where live batches are applied instead of on `db` (the live apply thread, threads/live-apply-thread.ts). */
    liveElsewhere?: ApplyElsewhere,
  ) {
    this.log = new Logger(`Projection ${projection.name}`);
    const known = this.knownVersion();
    this.versionChanged = known !== undefined && known !== projection.version;
    this.projector = new SqliteProjector(db, projection);
    this.live = new BatchedProjector(db, this.projector, () => this.rebuilding ?? undefined, liveElsewhere);
  }

  private knownVersion(): number | undefined {
    const table = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'projection_versions'").get();
    if (!table) return undefined;
    return (this.db.prepare('SELECT version FROM projection_versions WHERE name = ?').get(this.projection.name) as { version: number } | undefined)?.version;
  }

  /**
   * Applies one live message once (after a running rebuild); false when it had already been applied. Messages that
   * arrive together (the bus hands several over at once) are applied in one SQLite transaction (see BatchedProjector).
   */
  handle(message: DeliveredMessage): Promise<boolean> {
    return this.live.handle(message);
  }

  get isRebuilding(): boolean {
    return this.rebuilding !== null;
  }

  digest(): { digest: string; rows: Record<string, number> } {
    return readModelDigest(this.db, this.projection);
  }

  /**
   * Drops the read model and replays every event of its categories from the start of the log. One at a time. Its
   * progress is in `status()` while it runs, and its report (or its failure) after.
   */
  rebuild(): Promise<RebuildReport> {
    return ProjectionRunner.rebuildTogether([this])[0];
  }

  /**
   * Rebuilds several projections of one database and store together: the log is read and turned into messages once
   * for all of them (each page applied to each in its own transaction), each read model built in a scratch file and
   * moved into place at the end (ScratchReadModel). Each runner is rebuilding meanwhile, as with `rebuild()`: its
   * status, its live messages waiting, its report or failure; one projection's failure does not stop the others.
   * Throws at once (nothing started) when one of them is being rebuilt already. One promise per runner, in order.
   */
  static rebuildTogether(runners: readonly ProjectionRunner[]): Promise<RebuildReport>[] {
    for (const runner of runners) {
      if (runner.rebuilding) {
        throw new DomainError('PROJECTION.REBUILDING', `Projection ${runner.projection.name} is being rebuilt already; wait for it to finish`, 'conflict');
      }
      if (runner.db !== runners[0].db || runner.store !== runners[0].store)
        throw new Error('Projections are rebuilt together only on one database and one event store');
    }
    if (new Set(runners).size !== runners.length) throw new Error('A projection is rebuilt once at a time: the same runner was given twice');
    if (runners.length === 0) return [];
    const rebuilds = runners.map((runner) => runner.beginRebuild());
    void ProjectionRunner.runTogether(runners[0].store, rebuilds);
    return rebuilds.map((rebuild) => rebuild.report);
  }

  /** This runner's part of a rebuild: its tracker, its `started` signal, its outcome recorded in its status. */
  private beginRebuild(): RunningRebuild {
    const tracker = new RebuildTracker(this.projection.name, this.now().toISOString(), this.monotonicMs);
    let markStarted: () => void = () => undefined;
    this.started = new Promise<void>((resolve) => (markStarted = resolve));
    this.tracker = tracker;
    let settle: { resolve: (report: RebuildReport) => void; reject: (error: unknown) => void } | undefined;
    const outcome = new Promise<RebuildReport>((resolve, reject) => (settle = { resolve, reject }));
    const report = outcome
      .then(
        (done) => {
          this.lastReport = done;
          this.lastFailure = null;
          return done;
        },
        (error: unknown) => {
          this.lastFailure = { startedAt: tracker.startedAt, failedAt: this.now().toISOString(), error: (error as Error).message };
          throw error;
        },
      )
      .finally(() => {
        this.rebuilding = null;
        this.tracker = null;
      });
    this.rebuilding = report;
    return { runner: this, tracker, markStarted, report, resolve: settle!.resolve, reject: settle!.reject, scratch: undefined, bounds: null };
  }

  /**
   * Starts a rebuild without waiting for it: resolves with its status once it is under way (its checks passed, the
   * read model emptied), rejects as `rebuild()` would before that (409 when one runs, or when this process cannot
   * read the log). Its outcome is then in `status()`.
   */
  async startRebuild(): Promise<RebuildStatus> {
    const run = this.rebuild();
    run.catch(() => undefined); // kept in status().lastFailure
    await Promise.race([this.started, run]);
    return this.status();
  }

  /** The running rebuild's progress (null when idle), the last completed rebuild's report, the last failure. */
  status(): RebuildStatus {
    const progress = this.tracker?.snapshot() ?? null;
    return { projection: this.projection.name, state: progress ? 'rebuilding' : 'idle', progress, last: this.lastReport, lastFailure: this.lastFailure };
  }

  /**
   * Rebuilds the projection from position 0 into a scratch SQLite file (under `scratchDir`, deleted afterwards) and
   * compares its digest with the live read model's, at the same position: the live model's digest and the ids of
   * the events it applied are read together at the start (one synchronous read: no live batch can interleave); its
   * position is the newest event of the log among them; the replay stops there. The live read model is not
   * touched and live messages go on being applied meanwhile. One replay of a projection at a time.
   */
  async replayAndCompare(scratchDir: string = os.tmpdir()): Promise<ReplayComparison> {
    if (this.replaying) {
      throw new DomainError('PROJECTION.REPLAYING', `A replay of projection ${this.projection.name} runs already; wait for it to finish`, 'conflict');
    }
    this.replaying = true;
    try {
      // A running rebuild first: the live read model is then complete again.
      if (this.rebuilding) await this.rebuilding.catch(() => undefined);
      const { live, appliedIds } = this.db.transaction(() => ({
        live: this.digest(),
        appliedIds: new Set(
          (this.db.prepare('SELECT event_id AS id FROM projection_applied WHERE name = ?').all(this.projection.name) as { id: string }[]).map((row) => row.id),
        ),
      }))();
      const livePosition = await this.positionOf(appliedIds);
      fs.mkdirSync(scratchDir, { recursive: true });
      const file = path.join(scratchDir, `replay-${this.projection.name}-${randomUUID()}.db`);
      const scratch = new Database(file);
      try {
        const projector = new SqliteProjector(scratch, this.projection);
        this.log.log(`Replay started into ${file}, up to position ${String(livePosition)}`);
        const count =
          livePosition === null
            ? { lastPosition: null, eventsRead: 0 }
            : await replayLog(scratch, projector, this.store, this.projection, this.log, 'Replay', livePosition);
        const replayed = readModelDigest(scratch, this.projection);
        const replayedPosition = (
          scratch.prepare('SELECT max(CAST(offset AS INTEGER)) AS p FROM projection_applied WHERE name = ?').get(this.projection.name) as { p: number | null }
        ).p;
        const comparison: ReplayComparison = {
          projection: this.projection.name,
          live: { ...live, position: livePosition === null ? null : livePosition.toString() },
          replayed: { ...replayed, position: replayedPosition === null ? null : String(replayedPosition) },
          equal: live.digest === replayed.digest,
        };
        this.log.log(
          `Replay finished: ${count.eventsRead} events; live ${live.digest}, replayed ${replayed.digest}: ${comparison.equal ? 'equal' : 'DIFFERENT'}`,
        );
        return comparison;
      } finally {
        scratch.close();
        for (const suffix of ['', '-wal', '-shm', '-journal']) fs.rmSync(`${file}${suffix}`, { force: true });
      }
    } finally {
      this.replaying = false;
    }
  }

  private replaying = false;

  get isReplaying(): boolean {
    return this.replaying;
  }

  /** The global position of the newest event of the projection's categories among these event ids. */
  private async positionOf(eventIds: ReadonlySet<string>): Promise<bigint | null> {
    let after: bigint | undefined;
    let position: bigint | null = null;
    for (;;) {
      const page = await this.store.readAll({ after, maxCount: PAGE, categories: this.projection.categories });
      for (const event of page) if (eventIds.has(event.metadata.eventId)) position = event.globalPosition;
      if (page.length < PAGE) return position;
      after = page[page.length - 1].globalPosition;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private applied(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM projection_applied WHERE name = ?').get(this.projection.name) as { n: number }).n;
  }

  /** Whether the store holds any event of the projection's categories. */
  private async firstRelevantPosition(): Promise<boolean> {
    return (await this.store.readAll({ maxCount: 1, categories: this.projection.categories })).length > 0;
  }

  /** Checks that this process can rebuild the projection (before the head of the log is read, and anything dropped). */
  private async checkRebuild(): Promise<void> {
    const name = this.projection.name;
    if (this.applied() > 0 && !(await this.firstRelevantPosition())) {
      // A process whose own store does not hold the log (distributed mode on a per-process SQLite file) would wipe
      // the read model and rebuild nothing.
      throw new DomainError(
        'PROJECTION.LOG_UNAVAILABLE',
        `This process's event store holds none of the events of projection ${name} (${this.projection.categories.join(', ')}), ` +
          'so a rebuild here would empty it; rebuild where the log is (the embedded gateway, or a process on the shared KurrentDB store)',
        'conflict',
      );
    }
  }

  /**
   * Drops the read model, then opens its scratch here, or starts its worker thread (`threaded`): the rebuild has
   * started. Its target for `replayLogInto` when on this thread, undefined when on a worker.
   */
  private prepareRebuild(rebuild: RunningRebuild, bounds: LogBounds | null, threaded: boolean): ReplayTarget | undefined {
    rebuild.tracker.setBounds(bounds);
    rebuild.bounds = bounds;
    this.log.log(
      `Rebuild started: dropping ${this.projection.tables.join(', ')} and replaying ${this.projection.categories.join(', ')} from position 0 ` +
        `(head of the log: ${bounds ? bounds.head.toString() : 'none'}${threaded ? ', on a worker thread' : ''})`,
    );
    this.db
      .transaction(() => {
        for (const table of this.projection.tables) this.db.exec(`DROP TABLE IF EXISTS ${table}`);
        this.db.prepare('DELETE FROM projection_applied WHERE name = ?').run(this.projection.name);
        this.db.exec(this.projection.schema);
      })
      .immediate();
    if (threaded) {
      rebuild.worker = rebuildInWorker(this.db, this.projection, this.log, (count) => rebuild.tracker.page(count));
      rebuild.markStarted();
      return undefined;
    }
    const scratch = ScratchReadModel.open(this.db, this.projection);
    rebuild.scratch = scratch;
    rebuild.markStarted();
    return {
      db: scratch.db,
      projector: scratch.projector,
      projection: this.projection,
      log: this.log,
      label: 'Rebuild',
      onPage: (count) => rebuild.tracker.page(count),
    };
  }

  /**
   * Moves the scratch read model into place; the report, with the digest of the read model as moved (taken on the
   * rebuild's worker thread, on its own connection to this file, when it has one: live messages wait meanwhile).
   */
  private async finishRebuild(rebuild: RunningRebuild, count: ReplayCount, scratchFile?: string): Promise<RebuildReport> {
    if (scratchFile === undefined) rebuild.scratch?.transferInto();
    else ScratchReadModel.moveInto(this.db, this.projection, scratchFile);
    const { digest, rows } = rebuild.worker ? await rebuild.worker.digest() : this.digest();
    const { eventsRead, applied, poison } = count;
    // The log was read to its end, past the head it had at the start: the events after the last one of these
    // categories were skipped by the store (not read), so the last one read may be before that head.
    const head = rebuild.bounds?.head;
    const lastPosition = head !== undefined && (count.lastPosition === null || BigInt(count.lastPosition) < head) ? head.toString() : count.lastPosition;
    const report: RebuildReport = {
      projection: this.projection.name,
      eventsRead,
      applied,
      poison,
      lastPosition,
      digest,
      rows,
      startedAt: rebuild.tracker.startedAt,
      finishedAt: this.now().toISOString(),
    };
    this.log.log(`Rebuild finished: ${eventsRead} events, ${applied} applied, ${poison} refused; digest ${digest}`);
    return report;
  }

  /**
   * The shared run of `rebuildTogether`: every rebuild settled, every scratch file gone, whatever fails. Several
   * rebuilt together on a log in this file (`threads`) each go to a worker thread when their projection can be loaded
   * there; the others share one read of the log here. Each read model is moved into place here as its build ends.
   */
  private static async runTogether(store: EventStore, rebuilds: readonly RunningRebuild[]): Promise<void> {
    let running = [...rebuilds];
    const fail = (rebuild: RunningRebuild, error: unknown) => {
      rebuild.scratch?.discard();
      const scratchFile = rebuild.worker?.scratchFile();
      if (scratchFile !== undefined) ScratchReadModel.remove(scratchFile);
      rebuild.reject(error);
      running = running.filter((other) => other !== rebuild);
    };
    const finish = async (rebuild: RunningRebuild, count: ReplayCount, scratchFile?: string) => {
      try {
        rebuild.resolve(await rebuild.runner.finishRebuild(rebuild, count, scratchFile));
        running = running.filter((other) => other !== rebuild);
      } catch (error) {
        fail(rebuild, error);
      } finally {
        if (scratchFile !== undefined) ScratchReadModel.remove(scratchFile);
        rebuild.worker?.stop();
      }
    };
    try {
      for (const rebuild of [...running]) {
        try {
          await rebuild.runner.checkRebuild();
        } catch (error) {
          fail(rebuild, error);
        }
      }
      // A live batch on another thread when the rebuild began: committed before the read model is dropped.
      await Promise.all(running.map((rebuild) => rebuild.runner.live.settled()));
      // The head of the log now: how far the rebuilds have to go (events appended meanwhile are replayed too).
      const bounds = running.length > 0 ? await logBounds(store) : null;
      const together = running.length > 1;
      const threaded = (rebuild: RunningRebuild) => together && rebuild.runner.threads && canRebuildInWorker(rebuild.runner.db, rebuild.runner.projection);
      const targets = new Map<RunningRebuild, ReplayTarget | undefined>();
      for (const rebuild of [...running]) {
        try {
          targets.set(rebuild, rebuild.runner.prepareRebuild(rebuild, bounds, threaded(rebuild)));
        } catch (error) {
          fail(rebuild, error);
        }
      }
      const here = running.filter((rebuild) => targets.get(rebuild) !== undefined);
      const onWorkers = running
        .filter((rebuild) => rebuild.worker !== undefined)
        .map((rebuild) =>
          rebuild.worker!.built.then(
            ({ count, file }) => finish(rebuild, count, file),
            (error: unknown) => fail(rebuild, error),
          ),
        );
      if (here.length > 0) {
        const outcomes = await replayLogInto(
          store,
          here.map((rebuild) => targets.get(rebuild)!),
        );
        for (const [index, rebuild] of here.entries()) {
          const outcome = outcomes[index];
          if ('error' in outcome) fail(rebuild, outcome.error);
          else await finish(rebuild, outcome.count);
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      await Promise.all(onWorkers);
    } catch (error) {
      for (const rebuild of [...running]) fail(rebuild, error);
    }
  }
}

/** One runner's part of a rebuild under way. */
interface RunningRebuild {
  readonly runner: ProjectionRunner;
  readonly tracker: RebuildTracker;
  readonly markStarted: () => void;
  readonly report: Promise<RebuildReport>;
  readonly resolve: (report: RebuildReport) => void;
  readonly reject: (error: unknown) => void;
  scratch: ScratchReadModel | undefined;
  /** Its worker thread, when rebuilt on one. */
  worker?: WorkerRebuild;
  /** The first and last positions of the log when the rebuild started. */
  bounds: LogBounds | null;
}
