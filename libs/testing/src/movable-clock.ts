import type { Clock } from '@sigillum/contracts';

/** Real time plus an offset that a test moves forward, to make codes, attributes and sessions expire. */
export class MovableClock implements Clock {
  private offsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }
}
