import type { DeliveredMessage } from '@sigillum/contracts';
import type Database from 'better-sqlite3';
import type { SqliteProjector } from './sqlite-projector';
import { TurnCommit, type TurnWrites } from './turn-commit';

/** What became of one message of a batch. */
export type Outcome = { readonly applied: boolean } | { readonly error: unknown };

/**
 * Applies a batch somewhere else than on this connection (a worker thread with its own connection to the file), with
 * the outcomes `applyBatch` would give; resolves once that batch is committed.
 */
export type ApplyElsewhere = (messages: readonly DeliveredMessage[]) => Promise<Outcome[]>;

/** What an ApplyElsewhere rejects with when it cannot apply at all (its thread is gone for good): the batch is applied here. */
export class ApplyElsewhereUnavailable extends Error {
  override readonly name = 'ApplyElsewhereUnavailable';
}

interface Pending {
  readonly message: DeliveredMessage;
  readonly resolve: (applied: boolean) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A projector's messages that arrive together (the bus hands a group several at once) applied in one SQLite
 * transaction: a commit per batch instead of per message. `handle` resolves once the batch is committed, so a
 * consumer that awaits it acknowledges only what is durable. The batch is applied first without a savepoint per
 * message, its event ids recorded together (`SqliteProjector.applyAll`); when a message throws, that transaction is thrown away and the
 * batch applied again with a savepoint per message, so that only the message that throws fails. The batch joins the
 * handle's turn transaction (TurnCommit: one commit with the event store's appends and the other projectors of the
 * turn); while a rebuild runs, or when the turn is rolled back, it is applied alone as described.
 *
 * With `elsewhere`, the batches go there instead (a batch per tick, sent without waiting for those away, applied there
 * in the order sent) and nothing joins the turn; when `elsewhere` is unavailable, the batch and every later one are
 * applied here.
 */
export class BatchedProjector {
  private readonly pending: Pending[] = [];
  private readonly turnWrites: TurnWrites = {
    write: () => {
      if (this.before?.()) {
        void this.flush(); // a rebuild runs: wait for it, then apply alone
        return () => undefined;
      }
      const batch = this.pending.slice();
      const applied = this.projector.applyAll(batch.map(({ message }) => message));
      return () => {
        this.pending.splice(0, batch.length);
        batch.forEach(({ resolve }, index) => resolve(applied[index]));
      };
    },
    writeAlone: () => void this.flush(),
  };

  /** Batches sent `elsewhere` and not answered yet (they are applied there in the order sent). */
  private readonly away = new Set<Promise<unknown>>();
  private sendScheduled = false;

  constructor(
    private readonly db: Database.Database,
    private readonly projector: SqliteProjector,
    /** Awaited before each batch (a running rebuild of the read model, which live messages wait for). */
    private readonly before?: () => Promise<unknown> | undefined,
    private elsewhere?: ApplyElsewhere,
  ) {}

  /** Applies the message once, with the others of its tick; false when it had already been applied. */
  handle(message: DeliveredMessage): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ message, resolve, reject });
      if (this.pending.length !== 1) return;
      if (!this.elsewhere) TurnCommit.of(this.db).join(this.turnWrites);
      else if (!this.sendScheduled) {
        this.sendScheduled = true;
        setImmediate(() => {
          this.sendScheduled = false;
          void this.sendElsewhere();
        });
      }
    });
  }

  /** Resolves once no batch is being applied elsewhere (a rebuild waits for it before it drops the read model). */
  async settled(): Promise<void> {
    while (this.away.size > 0) await Promise.allSettled([...this.away]);
  }

  /**
   * Sends the messages of this tick `elsewhere` as one batch, without waiting for the batches already away (they are
   * applied there one after the other, in the order sent: a consumer's next message of a key is not held up by a
   * round trip per batch). When `elsewhere` is unavailable, the batch is applied here, and so is every later one.
   */
  private async sendElsewhere(): Promise<void> {
    const waiting = this.before?.();
    if (waiting) await waiting.catch(() => undefined);
    if (this.pending.length === 0) return;
    const elsewhere = this.elsewhere;
    if (!elsewhere) return this.flush();
    const batch = this.pending.splice(0, this.pending.length);
    const answer = elsewhere(batch.map(({ message }) => message));
    this.away.add(answer);
    try {
      settle(batch, await answer);
    } catch (error) {
      if (!(error instanceof ApplyElsewhereUnavailable)) {
        for (const { reject } of batch) reject(error); // nothing of it kept: the bus delivers them again
        return;
      }
      // Gone for good: this batch here now, before anything later (later batches away are refused the same way, in order).
      this.elsewhere = undefined;
      this.applyHere(batch);
    } finally {
      this.away.delete(answer);
    }
  }

  private async flush(): Promise<void> {
    const waiting = this.before?.();
    if (waiting) await waiting.catch(() => undefined);
    this.applyHere(this.pending.splice(0, this.pending.length));
  }

  /** `batch` in a transaction of its own on this connection. */
  private applyHere(batch: readonly Pending[]): void {
    let outcomes: Outcome[];
    try {
      outcomes = applyBatch(
        this.db,
        this.projector,
        batch.map(({ message }) => message),
        () => true,
      );
    } catch (error) {
      // The commit itself failed: nothing of the batch is kept; every message is retried by the bus.
      for (const { reject } of batch) reject(error);
      return;
    }
    settle(batch, outcomes);
  }
}

/** Each message's caller gets its outcome: applied (or skipped as applied before), or its error. */
function settle(batch: readonly Pending[], outcomes: readonly Outcome[]): void {
  batch.forEach(({ resolve, reject }, index) => {
    const outcome = outcomes[index];
    if ('error' in outcome) reject(outcome.error);
    else resolve(outcome.applied);
  });
}

/**
 * `messages` in one transaction (IMMEDIATE: the write lock first, since a projection reads before it writes and
 * upgrading a read snapshot to a write fails at once when the WAL checkpointer reset the WAL in between), first with
 * no savepoint per message (`applyAll`: the event ids recorded together). When a message throws an error `refused` accepts, that transaction
 * is thrown away and the batch applied again with a savepoint per message, so that only the refused messages fail
 * (their outcome is the error); any other error rolls the whole batch back and is thrown.
 */
export function applyBatch(
  db: Database.Database,
  projector: SqliteProjector,
  messages: readonly DeliveredMessage[],
  refused: (error: unknown) => boolean,
): Outcome[] {
  try {
    return db.transaction(() => projector.applyAll(messages).map((applied): Outcome => ({ applied }))).immediate();
  } catch (error) {
    if (!refused(error)) throw error;
  }
  return db
    .transaction(() =>
      messages.map((message): Outcome => {
        try {
          return { applied: projector.handle(message) }; // a savepoint inside this transaction
        } catch (error) {
          if (!refused(error)) throw error;
          return { error };
        }
      }),
    )
    .immediate();
}
