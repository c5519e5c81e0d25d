/** Time as the domain sees it; never read `Date.now()` inside a decider. */
export interface Clock {
  now(): Date;
}
export const CLOCK = Symbol('Clock');

/** Identifier generation, injected so tests can fix ids. */
export interface IdGenerator {
  next(): string;
}
export const ID_GENERATOR = Symbol('IdGenerator');

export const systemClock: Clock = { now: () => new Date() };
