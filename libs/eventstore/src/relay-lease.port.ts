/**
 * Who relays a role's streams to the bus when the role runs as several instances on one shared store: one holder
 * at a time, the others standing by, and a checkpoint shared by all (so a new holder resumes where the last one
 * published, not from its own stale or empty checkpoint). Without a lease each process relays alone from its own
 * local checkpoint (the embedded default: one process, one store file).
 */
export interface RelayLease {
  /** `<relay name> in <where>`, for health and logs. */
  readonly description: string;
  /**
   * Resolves once this process holds the lease, trying every `retryMs` while another holds it; rejects only when
   * `signal` aborts. `onLost` is called at most once if the lease is lost afterwards (its connection broke).
   */
  acquire(signal: AbortSignal, onLost: (reason: Error) => void): Promise<void>;
  /** The shared checkpoint (global position of the last event published), undefined before the first. */
  readCheckpoint(): Promise<bigint | undefined>;
  /** Saves the checkpoint; refused (throws) when the lease is no longer held. */
  saveCheckpoint(position: bigint): Promise<void>;
  /** Gives the lease up (stop) so another instance takes over at once. */
  release(): Promise<void>;
}
