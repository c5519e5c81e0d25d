import { Body, Controller, HttpCode, Inject, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { CLOCK, type Clock, ID_GENERATOR, type IdGenerator, PARTY_CATEGORY, streamIdOf } from '@sigillum/contracts';
import { commandHandler, EVENT_STORE, type EventStore, type HandleCommand } from '@sigillum/eventstore';
import type { PartyEvent } from '@sigillum/contracts';
import { type PartyCommand, partyDecider, type PartyState } from './party.decider';
import { RegisterPartyBody, RenamePartyBody } from './party.dto';

@Controller('parties')
export class PartyController {
  private readonly handle: HandleCommand<PartyCommand, PartyState, PartyEvent>;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {
    this.handle = commandHandler(partyDecider, { store, clock, ids, source: '/sigillum/directory' });
  }

  /** Registers a party; the directory assigns its id. */
  @Post()
  async register(@Body() body: RegisterPartyBody) {
    const partyId = this.ids.next();
    const requestId = this.ids.next();
    const result = await this.handle(
      streamIdOf(PARTY_CATEGORY, partyId),
      { type: 'RegisterParty', partyId, kind: body.kind, displayName: body.displayName, now: this.clock.now() },
      { correlationId: requestId, causationId: requestId },
    );
    return { partyId, revision: result.nextExpectedVersion };
  }

  @Post(':partyId/name')
  @HttpCode(200)
  async rename(@Param('partyId', new ParseUUIDPipe()) partyId: string, @Body() body: RenamePartyBody) {
    const requestId = this.ids.next();
    const result = await this.handle(
      streamIdOf(PARTY_CATEGORY, partyId),
      { type: 'RenameParty', partyId, displayName: body.displayName, now: this.clock.now() },
      { correlationId: requestId, causationId: requestId },
    );
    return { partyId, revision: result.nextExpectedVersion, changed: result.events.length > 0 };
  }
}
