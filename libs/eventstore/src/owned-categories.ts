import { type PendingEvent, streamCategory } from '@sigillum/contracts';
import type { AppendResult, EventStore, ExpectedVersion } from './event-store.port';
import { ForwardingEventStore } from './forwarding-event-store';

/**
 * The process tried to append to a stream of a category none of its roles owns. Every category has one owner
 * role (its `ownedCategories` in apps/<role>/src/<role>.role.ts); other roles read it, or ask the owner to write.
 * Nothing of the append was written.
 */
export class ForeignStreamWriteError extends Error {
  constructor(
    readonly streamId: string,
    readonly category: string,
    /** The categories the roles of this process own, sorted. */
    readonly ownedCategories: readonly string[],
  ) {
    super(
      `Append to "${streamId}" refused: its category "${category}" is not owned by the roles of this process ` +
        `(they own ${ownedCategories.length === 0 ? 'no category' : ownedCategories.map((c) => `"${c}"`).join(', ')}); nothing was written. ` +
        `Send the owner of "${category}" a command or let it react to an event instead, ` +
        `or, if this role is the rightful writer, declare "${category}" in its role spec's ownedCategories.`,
    );
    this.name = 'ForeignStreamWriteError';
  }
}

/**
 * Write ownership enforced at the store port: a decorator of any adapter that refuses `append` to a stream whose
 * category is not in `ownedCategories` (with ForeignStreamWriteError, before the adapter is called). Reads,
 * subscriptions, health and close pass through unchanged.
 */
export class OwnedCategoriesEventStore extends ForwardingEventStore {
  private readonly owned: ReadonlySet<string>;
  private readonly ownedList: readonly string[];

  constructor(inner: EventStore, ownedCategories: readonly string[]) {
    super(inner);
    this.owned = new Set(ownedCategories);
    this.ownedList = [...this.owned].sort();
  }

  /** Whether this process may append to `streamId`. */
  mayAppendTo(streamId: string): boolean {
    return this.owned.has(streamCategory(streamId));
  }

  override append(streamId: string, events: readonly PendingEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    if (!this.mayAppendTo(streamId)) {
      return Promise.reject(new ForeignStreamWriteError(streamId, streamCategory(streamId), this.ownedList));
    }
    return super.append(streamId, events, expected);
  }
}

/**
 * The store this process writes through: `store` restricted to `ownedCategories`, or `store` itself when
 * `ownedCategories` is undefined (no restriction declared: every category is allowed).
 */
export function restrictToOwnedCategories(store: EventStore, ownedCategories: readonly string[] | undefined): EventStore {
  return ownedCategories === undefined ? store : new OwnedCategoriesEventStore(store, ownedCategories);
}
