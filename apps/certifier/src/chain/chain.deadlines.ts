import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DURABLE_TIMERS, type DurableTimer, DurableTimers, nameBasedId } from '@sigillum/runtime';
import { ChainService, type DeadlineKind } from './chain.service';

const TIMER_KINDS: Readonly<Record<DeadlineKind, string>> = { acknowledgement: 'chain.ack', return: 'chain.return' };

/** The durable timer of one deadline of one token: a stable id, so a redelivered StepTokenIssued schedules nothing new. */
export const deadlineTimerId = (tokenId: string, missing: DeadlineKind): string => nameBasedId(`${TIMER_KINDS[missing]}:${tokenId}`);

export interface TokenDeadlines {
  readonly tokenId: string;
  readonly correspondenceId: string;
  readonly acknowledgeBy: string;
  readonly returnBy: string;
}

/**
 * The two deadlines of every token on durable timers (they survive restarts and fire by the injected clock, never
 * early): `chain.ack` at acknowledgeBy and `chain.return` at returnBy. Scheduled from the consumer of the chain's own
 * events (at least once), cancelled once the token is settled; a timer that fires for a settled token does nothing.
 */
@Injectable()
export class ChainDeadlines implements OnModuleInit {
  constructor(
    @Inject(DURABLE_TIMERS) private readonly timers: DurableTimers,
    private readonly chains: ChainService,
  ) {}

  onModuleInit(): void {
    for (const missing of Object.keys(TIMER_KINDS) as DeadlineKind[]) {
      this.timers.onDue(TIMER_KINDS[missing], (timer) => this.fire(timer, missing));
    }
  }

  schedule(token: TokenDeadlines, correlationId: string): void {
    const payload = { correspondenceId: token.correspondenceId, tokenId: token.tokenId, correlationId };
    this.timers.schedule({ timerId: deadlineTimerId(token.tokenId, 'acknowledgement'), kind: TIMER_KINDS.acknowledgement, dueAt: token.acknowledgeBy, payload });
    this.timers.schedule({ timerId: deadlineTimerId(token.tokenId, 'return'), kind: TIMER_KINDS.return, dueAt: token.returnBy, payload });
  }

  /** The token is settled: its timers need not fire (they would find nothing to do). */
  cancel(tokenId: string): void {
    this.timers.cancel(deadlineTimerId(tokenId, 'acknowledgement'));
    this.timers.cancel(deadlineTimerId(tokenId, 'return'));
  }

  private async fire(timer: DurableTimer, missing: DeadlineKind): Promise<void> {
    const { correspondenceId, tokenId, correlationId } = timer.payload as { correspondenceId: string; tokenId: string; correlationId?: string };
    await this.chains.onDeadline(correspondenceId, tokenId, missing, { correlationId: correlationId ?? timer.timerId, causationId: timer.timerId });
  }
}
