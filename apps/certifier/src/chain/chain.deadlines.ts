import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DURABLE_TIMERS, type DurableTimer, DurableTimers, nameBasedId } from '@sigillum/runtime';
import { ChainService } from './chain.service';
import { DEADLINE_KINDS, type DeadlineKind, dueDeadlines } from './rules/token-deadlines';

const TIMER_KINDS: Readonly<Record<DeadlineKind, string>> = { acknowledgement: 'chain.ack', return: 'chain.return' };

/** The durable timer of one deadline of one token: a stable id, so a redelivered StepTokenIssued schedules nothing new. */
export const deadlineTimerId = (tokenId: string, missing: DeadlineKind): string => nameBasedId(`${TIMER_KINDS[missing]}:${tokenId}`);

/** A token to watch: its ids and its two deadlines. */
export interface WatchedToken {
  readonly tokenId: string;
  readonly correspondenceId: string;
  readonly acknowledgeBy: string;
  readonly returnBy: string;
}

/**
 * The two deadlines of every token (rules/token-deadlines.ts) on durable timers (they survive restarts and fire by
 * the injected clock, never early): `chain.ack` at acknowledgeBy and `chain.return` at returnBy. Scheduled from the
 * consumer of the chain's own events (at least once), cancelled once the token is settled; a timer that fires for a
 * settled token does nothing.
 */
@Injectable()
export class ChainDeadlines implements OnModuleInit {
  constructor(
    @Inject(DURABLE_TIMERS) private readonly timers: DurableTimers,
    private readonly chains: ChainService,
  ) {}

  onModuleInit(): void {
    for (const missing of DEADLINE_KINDS) {
      this.timers.onDue(TIMER_KINDS[missing], (timer) => this.fire(timer, missing));
    }
  }

  /** Resolves once both timers are committed (asked in the same turn, they share one transaction). */
  async schedule(token: WatchedToken, correlationId: string): Promise<void> {
    const payload = { correspondenceId: token.correspondenceId, tokenId: token.tokenId, correlationId };
    await Promise.all(
      dueDeadlines(token).map(({ missing, dueAt }) =>
        this.timers.schedule({ timerId: deadlineTimerId(token.tokenId, missing), kind: TIMER_KINDS[missing], dueAt, payload }),
      ),
    );
  }

  /** The token is settled: its timers need not fire (they would find nothing to do). Resolves once committed. */
  async cancel(tokenId: string): Promise<void> {
    await Promise.all(DEADLINE_KINDS.map((missing) => this.timers.cancel(deadlineTimerId(tokenId, missing))));
  }

  private async fire(timer: DurableTimer, missing: DeadlineKind): Promise<void> {
    const { correspondenceId, tokenId, correlationId } = timer.payload as { correspondenceId: string; tokenId: string; correlationId?: string };
    await this.chains.onDeadline(correspondenceId, tokenId, missing, { correlationId: correlationId ?? timer.timerId, causationId: timer.timerId });
  }
}
