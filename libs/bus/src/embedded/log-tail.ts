import type { DeliveredMessage } from '@sigillum/contracts';
import type Database from 'better-sqlite3';
import { toDeliveredMessage, type MessageRow } from './embedded-log';

/**
 * The end of the embedded bus log as this process wrote it, kept in memory: the consumers of the process read the
 * messages it just published from here, each decoded once for every group, instead of each group querying
 * `bus_messages` and parsing the same JSON again.
 *
 * What makes that exactly as correct as the query: the tail knows every row of the log in (`from`, `last`] — the rows
 * this process committed through the bus since `from`, with nothing from anyone else in between. AUTOINCREMENT gives
 * offsets in commit order under the write lock, so a batch committed in one IMMEDIATE transaction starting at
 * `last + 1` continues that range; one starting further on means another writer (another process, another handle,
 * another code path on this handle) inserted in between: the range restarts after the gap. And the log has nothing
 * after `last` while AUTOINCREMENT's counter (`sqlite_sequence`) is still `last`, which is checked at most once per
 * event-loop turn (a commit elsewhere during the turn is seen at the next read, as a commit just after a query is).
 * A consumer reads from the tail only when every one of its topics is covered from its read position on; otherwise,
 * and whenever anything else wrote, it reads SQL as before. A topic's rows are bounded (oldest dropped first); a
 * consumer behind what the tail still holds reads SQL. Only the topics a consumer of this process reads are kept (the
 * rows of the others are dropped at once: a consumer starting later on one reads SQL until it catches up), and their
 * rows only until every such consumer has read them.
 */
export interface LogTailLimits {
  /** Rows kept per topic at most; 0 keeps none (every read queries SQL). Default 1024. */
  readonly rows: number;
  /** Characters of `data` kept per topic at most; default 4 M, whichever bound comes first. */
  readonly dataChars: number;
}

export const DEFAULT_LOG_TAIL: LogTailLimits = { rows: 1024, dataChars: 4 * 1024 * 1024 };

interface TopicTail {
  /** Rows in offset order; the live ones start at `head` (dropping the oldest is an index move, compacted now and then). */
  rows: MessageRow[];
  head: number;
  dataChars: number;
  /** The tail holds every row of this topic after this offset (up to the log's `last`); the rows up to it were dropped. */
  droppedUpTo: number;
}

/** A row decoded once for every group, or why it cannot be: the same poison error for each. */
type Decoded = { readonly message: DeliveredMessage } | { readonly poison: Error };

export class LogTail {
  /** Every row of the log in (from, last] is in the tail (unless dropped, see TopicTail); undefined: no range known. */
  private from?: number;
  private last = 0;
  private readonly topics = new Map<string, TopicTail>();
  /** The read positions (per topic, live) of this process's consumers of each topic: only these topics' rows are kept. */
  private readonly readers = new Map<string, Set<ReadonlyMap<string, number>>>();
  /** AUTOINCREMENT's counter as read (or known) in this event-loop turn; undefined: to be read. */
  private counterThisTurn?: number;
  private readonly decoded = new WeakMap<MessageRow, Decoded>();
  private readonly counter: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly limits: LogTailLimits,
  ) {
    this.counter = db.prepare("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'bus_messages'").pluck();
    if (limits.rows > 0) {
      // Nothing after the counter's value exists yet: the range starts empty, there.
      this.from = this.last = this.readCounter();
    }
  }

  /**
   * Rows committed by this process in one transaction that has just committed (not one nested in a transaction
   * still open: it could roll back), in offset order. `before`: the log's last offset when the transaction began, if
   * known; `after`: its last offset at commit (offsets given to rows skipped by ON CONFLICT included). `decoded`: per
   * row, the message already decoded, if the publisher had it (a relayed event: the data the store parsed).
   */
  committed(rows: readonly MessageRow[], before: number | undefined, after: number, decoded?: readonly (DeliveredMessage | undefined)[]): void {
    if (this.limits.rows === 0) return;
    if (before === undefined || this.from === undefined || before !== this.last) {
      // Someone else wrote (or we cannot tell): start a new range after what we do not know.
      this.restart(before ?? (rows.length > 0 ? rows[0].offset - 1 : after));
    }
    rows.forEach((row, index) => {
      const message = decoded?.[index];
      if (message) this.decoded.set(row, { message: freezeEnvelope(message) });
      this.append(Object.freeze(row));
    });
    this.last = after;
    // Our write transaction held the lock: at its commit the counter was `after`.
    this.counterThisTurn = after;
    this.scheduleTurnEnd();
  }

  /**
   * A consumer of this process reads these topics from now on (until `unwatch`), `positions` being its read position
   * per topic as it moves: their rows are kept until every such consumer has read them (or the bounds drop them).
   */
  watch(topics: readonly string[], positions: ReadonlyMap<string, number>): void {
    for (const topic of topics) {
      let readers = this.readers.get(topic);
      if (!readers) this.readers.set(topic, (readers = new Set()));
      readers.add(positions);
    }
  }

  unwatch(topics: readonly string[], positions: ReadonlyMap<string, number>): void {
    for (const topic of topics) {
      const readers = this.readers.get(topic);
      readers?.delete(positions);
      if (readers?.size) continue;
      this.readers.delete(topic);
      const tail = this.topics.get(topic);
      if (tail) this.dropUpTo(tail, this.last);
    }
  }

  /** The log pruner deleted rows of `topic` up to `offset`: a consumer behind that must find the log as SQL has it. */
  pruned(topic: string, offset: number): void {
    const tail = this.topics.get(topic);
    if (tail) this.dropUpTo(tail, offset);
    else if (this.from !== undefined && offset > this.from) this.topics.set(topic, { rows: [], head: 0, dataChars: 0, droppedUpTo: offset });
  }

  /**
   * The next rows of `topics` after their read positions, merged in log order, at most `limit`: exactly what the page
   * query would return now. Undefined when the tail cannot tell (a topic not covered from its position, or the log
   * has rows it does not know): read SQL.
   */
  read(topics: readonly string[], positions: ReadonlyMap<string, number>, limit: number): MessageRow[] | undefined {
    if (this.from === undefined || !this.isCurrent()) return undefined;
    const from = this.from;
    const pages: MessageRow[][] = [];
    for (const topic of topics) {
      const position = positions.get(topic) ?? 0;
      const tail = this.topics.get(topic);
      if (position < Math.max(from, tail?.droppedUpTo ?? 0)) return undefined;
      if (tail) pages.push(this.after(tail, position, limit));
    }
    if (pages.length === 1) return pages[0];
    return pages
      .flat()
      .sort((a, b) => a.offset - b.offset)
      .slice(0, limit);
  }

  /** The row's message, decoded once for every group if it is a tail row; one of its own otherwise. Its envelope frozen. */
  messageOf(row: MessageRow): DeliveredMessage {
    if (!Object.isFrozen(row)) return freezeEnvelope(toDeliveredMessage(row));
    let decoded = this.decoded.get(row);
    if (!decoded) {
      try {
        decoded = { message: freezeEnvelope(toDeliveredMessage(row)) };
      } catch (error) {
        decoded = { poison: error as Error };
      }
      this.decoded.set(row, decoded);
    }
    if ('poison' in decoded) throw decoded.poison;
    return decoded.message;
  }

  private isCurrent(): boolean {
    if (this.counterThisTurn === undefined) {
      this.counterThisTurn = this.readCounter();
      this.scheduleTurnEnd();
    }
    return this.counterThisTurn === this.last;
  }

  private turnEndScheduled = false;
  private scheduleTurnEnd(): void {
    if (this.turnEndScheduled) return;
    this.turnEndScheduled = true;
    setImmediate(() => {
      this.turnEndScheduled = false;
      this.counterThisTurn = undefined;
    });
  }

  private readCounter(): number {
    return this.counter.get() as number;
  }

  private restart(from: number): void {
    this.topics.clear();
    this.from = from;
    this.last = from;
  }

  private append(row: MessageRow): void {
    let tail = this.topics.get(row.topic);
    if (!tail) {
      tail = { rows: [], head: 0, dataChars: 0, droppedUpTo: 0 };
      this.topics.set(row.topic, tail);
    }
    const readers = this.readers.get(row.topic);
    if (!readers) {
      tail.droppedUpTo = row.offset; // nobody here reads it: as if dropped at once
      return;
    }
    // What every reader has read goes: kept longer, the rows (and their decoded messages) would only burden the
    // garbage collector. A consumer that goes back (a restart from its checkpoint) reads SQL. One not reading yet
    // (a standby waiting for its group) holds nothing back.
    let slowest = Infinity;
    for (const positions of readers) slowest = Math.min(slowest, positions.get(row.topic) ?? Infinity);
    if (slowest !== Infinity && tail.head < tail.rows.length && tail.rows[tail.head].offset <= slowest) this.dropUpTo(tail, slowest);
    tail.rows.push(row);
    tail.dataChars += row.data.length;
    while (tail.rows.length - tail.head > this.limits.rows || (tail.dataChars > this.limits.dataChars && tail.rows.length - tail.head > 1)) {
      this.dropOldest(tail);
    }
    this.compact(tail);
  }

  private dropUpTo(tail: TopicTail, offset: number): void {
    while (tail.head < tail.rows.length && tail.rows[tail.head].offset <= offset) this.dropOldest(tail);
    tail.droppedUpTo = Math.max(tail.droppedUpTo, offset);
    this.compact(tail);
  }

  private dropOldest(tail: TopicTail): void {
    const oldest = tail.rows[tail.head];
    tail.rows[tail.head] = undefined as unknown as MessageRow;
    tail.head++;
    tail.dataChars -= oldest.data.length;
    tail.droppedUpTo = Math.max(tail.droppedUpTo, oldest.offset);
  }

  private compact(tail: TopicTail): void {
    if (tail.head > 1024 && tail.head * 2 > tail.rows.length) {
      tail.rows = tail.rows.slice(tail.head);
      tail.head = 0;
    }
  }

  /** The first `limit` rows of the topic after `position` (binary search: positions are mostly near the end). */
  private after(tail: TopicTail, position: number, limit: number): MessageRow[] {
    let low = tail.head;
    let high = tail.rows.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (tail.rows[middle].offset <= position) low = middle + 1;
      else high = middle;
    }
    return tail.rows.slice(low, Math.min(low + limit, tail.rows.length));
  }
}

/**
 * Handlers of every group get the same object: freezing the envelope (and its headers) makes an accidental write throw
 * instead of changing what the other groups see, as the event store does with the events it caches (recent-streams.ts).
 * `data` (typed `unknown`, read through the contracts' readers) is shared as it is: freezing it deeply cost about half
 * a JSON parse per message, most of what sharing saves.
 */
function freezeEnvelope(message: DeliveredMessage): DeliveredMessage {
  if (message.headers) Object.freeze(message.headers);
  return Object.freeze(message);
}
