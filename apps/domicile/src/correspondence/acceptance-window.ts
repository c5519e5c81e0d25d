import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DomainError, ID_GENERATOR, type IdGenerator } from '@sigillum/contracts';
import { DURABLE_TIMERS, type DurableTimer, type DurableTimers } from '@sigillum/runtime';
import { CorrespondenceService } from './correspondence.service';

/** Kind of the durable timer that closes a recipient's acceptance window. */
export const ACCEPTANCE_TIMER_KIND = 'domicile.acceptance-window';

/** One timer per (correspondence, recipient): scheduling it again (a redelivered DeliveredToRecipient) changes nothing. */
export const acceptanceTimerId = (correspondenceId: string, recipientId: string) => `acceptance-window:${correspondenceId}:${recipientId}`;

/**
 * The acceptance windows: a durable timer at each recipient's `acceptBy` (scheduled from the consumer of our own
 * DeliveredToRecipient, so a crash cannot lose it), fired by event time — the injected clock — never before. On
 * fire, AcceptanceWindowExpired is recorded if the recipient has still not answered (the decider refuses it before
 * acceptBy and ignores a recipient who answered). A failing fire is retried by the timers.
 */
@Injectable()
export class AcceptanceWindows implements OnModuleInit {
  private readonly log = new Logger('AcceptanceWindows');

  constructor(
    @Inject(DURABLE_TIMERS) private readonly timers: DurableTimers,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    private readonly correspondences: CorrespondenceService,
  ) {}

  onModuleInit(): void {
    this.timers.onDue(ACCEPTANCE_TIMER_KIND, (timer) => this.fire(timer));
  }

  /** Resolves once the timer is committed. */
  schedule(correspondenceId: string, recipientId: string, acceptBy: string): Promise<void> {
    return this.timers.schedule({
      timerId: acceptanceTimerId(correspondenceId, recipientId),
      kind: ACCEPTANCE_TIMER_KIND,
      dueAt: acceptBy,
      payload: { correspondenceId, recipientId },
    });
  }

  /** The recipient answered: the timer has nothing left to do (firing it anyway would change nothing). */
  cancel(correspondenceId: string, recipientId: string): Promise<void> {
    return this.timers.cancel(acceptanceTimerId(correspondenceId, recipientId));
  }

  private async fire(timer: DurableTimer): Promise<void> {
    const { correspondenceId, recipientId } = timer.payload as { correspondenceId?: unknown; recipientId?: unknown };
    if (typeof correspondenceId !== 'string' || typeof recipientId !== 'string') {
      this.log.error(`Timer ${timer.timerId} has no correspondence or recipient in its payload; dropped`);
      return;
    }
    const id = this.ids.next();
    try {
      const result = await this.correspondences.execute(
        correspondenceId,
        { type: 'ExpireWindow', recipientId, now: this.correspondences.now() },
        { correlationId: id, causationId: timer.timerId },
      );
      if (result.events.length > 0) this.log.log(`Acceptance window of ${recipientId} on correspondence ${correspondenceId} expired (due ${timer.dueAt})`);
    } catch (error) {
      // `window.still-open` cannot happen with the timers' own clock; if it does, the timer is retried later.
      if (error instanceof DomainError) this.log.warn(`Timer ${timer.timerId}: ${error.message}`);
      throw error;
    }
  }
}
