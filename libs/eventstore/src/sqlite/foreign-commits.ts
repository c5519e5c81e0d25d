/**
 * When a SQLite store must ask the file whether another connection committed (`PRAGMA data_version`) before it
 * answers a read from its cache: once per turn of the event loop, and again after any store of this process
 * committed. Asking before every read (about 95 times per registered delivery, a third of the statements run) buys
 * nothing more: another process's commit may land just after the question in either case — the store never promised
 * to see it sooner than the turn after — and a commit of this process (another connection's store) is seen at once,
 * so a caller that awaited an append always reads it back, whichever store it reads through. The commits of the other
 * threads of the process (role threads) count too, once this thread learns of them: their wake-up message, or rows of
 * the embedded bus read from the file (thread-wakeups.ts, the embedded consumer).
 */
let turn = 0;
let turnEnding = false;
/** Captured at load: a test's fake timers must not freeze the turns. */
const endOfTurn = setImmediate;
const nextTurn = () => {
  turn++;
  turnEnding = false;
};

let commitsInProcess = 0;

/** A store of this process committed to its file. */
export function noteCommitInProcess(): void {
  commitsInProcess++;
}

/** Remembers when a store last asked the file; `due()` tells whether it must ask again. */
export class ForeignCommitWatch {
  private askedInTurn = -1;
  private askedAfterCommits = -1;

  /** True when the store must run data_version now (and it is then counted as asked). */
  due(): boolean {
    if (!turnEnding) {
      turnEnding = true;
      endOfTurn(nextTurn);
    }
    if (this.askedInTurn === turn && this.askedAfterCommits === commitsInProcess) return false;
    this.askedInTurn = turn;
    this.askedAfterCommits = commitsInProcess;
    return true;
  }
}
