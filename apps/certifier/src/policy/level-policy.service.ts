import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { CLOCK, type Clock, ID_GENERATOR, type IdGenerator, type LevelPolicy, type LevelPolicyPublished } from '@sigillum/contracts';
import { type CommandContext, commandHandler, EVENT_STORE, type EventStore, type HandleCommand } from '@sigillum/eventstore';
import { CERTIFIER_SOURCE } from '../certifier.source';
import { DEFAULT_LEVEL_POLICY, LEVEL_POLICY_STREAM_ID, type LevelPolicyDraft } from './level-policy';
import { type LevelPolicyCommand, levelPolicyDecider, type LevelPolicyState } from './level-policy.decider';

/** The level policy in force, read from `levelpolicy-current`; `eidas-default@1` is published when none is. */
@Injectable()
export class LevelPolicyService implements OnApplicationBootstrap {
  private readonly handle: HandleCommand<LevelPolicyCommand, LevelPolicyState, LevelPolicyPublished>;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {
    // One stream, read before every decision: its fold is cached.
    this.handle = commandHandler(levelPolicyDecider, { store, clock, ids, source: CERTIFIER_SOURCE, cache: { maxStreams: 1 } });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.current();
  }

  /** The policy in force; every decision records its `policyId`, so the default is written before it is used. */
  async current(): Promise<LevelPolicy> {
    const { state } = await this.handle.load(LEVEL_POLICY_STREAM_ID);
    if (state.status === 'published') return state.current;
    const requestId = this.ids.next();
    const result = await this.handle(
      LEVEL_POLICY_STREAM_ID,
      { type: 'PublishInitialPolicy', policy: DEFAULT_LEVEL_POLICY, now: this.clock.now() },
      { correlationId: requestId, causationId: requestId },
    );
    if (result.state.status !== 'published') throw new Error('The default level policy could not be published');
    return result.state.current;
  }

  async publish(draft: LevelPolicyDraft, context: CommandContext): Promise<{ policy: LevelPolicy; changed: boolean }> {
    await this.current();
    const result = await this.handle(LEVEL_POLICY_STREAM_ID, { type: 'PublishPolicy', draft, now: this.clock.now() }, context);
    if (result.state.status !== 'published') throw new Error('The level policy could not be published');
    return { policy: result.state.current, changed: result.events.length > 0 };
  }
}
