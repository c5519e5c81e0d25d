import { ApiOperation } from '@nestjs/swagger';
import { Access, party, staff } from '@sigillum/auth';
import { RequestTraceparent } from '@sigillum/runtime';
import { Body, Controller, Get, Inject, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import {
  ATTRIBUTES_CATEGORY,
  type AttributeEvent,
  CLOCK,
  type Clock,
  DomainError,
  ID_GENERATOR,
  type IdGenerator,
  type PartyKind,
  streamIdOf,
  type TrustLevel,
} from '@sigillum/contracts';
import { commandHandler, EVENT_STORE, type EventStore, type HandleCommand, requestContext } from '@sigillum/eventstore';
import { CERTIFIER_SOURCE } from '../certifier.source';
import { type AttributeStatus, attributeStatus, levelHeld } from '../policy/evaluate';
import { LevelPolicyService } from '../policy/level-policy.service';
import { TrustStateReader } from '../state/trust-state.reader';
import { type AttributesCommand, attributesDecider, type AttributesState, certifiedAttributesOf } from './attributes.decider';
import { CertifyAttributeBody, RevokeAttributeBody } from './attributes.dto';

export interface TrustView {
  readonly partyId: string;
  readonly kind: PartyKind;
  readonly policyId: string;
  /** Highest level the party's valid certified attributes support now; null when none. */
  readonly level: TrustLevel | null;
  readonly evaluatedAt: string;
  readonly attributes: readonly {
    readonly attributeId: string;
    readonly name: string;
    readonly level: TrustLevel;
    readonly validFrom: string;
    readonly validUntil: string;
    readonly status: AttributeStatus;
    readonly revokedAt: string | null;
  }[];
}

@Controller()
export class AttributesController {
  private readonly handle: HandleCommand<AttributesCommand, AttributesState, AttributeEvent>;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    private readonly reader: TrustStateReader,
    private readonly policies: LevelPolicyService,
  ) {
    this.handle = commandHandler(attributesDecider, { store, clock, ids, source: CERTIFIER_SOURCE });
  }

  /** Certifies an attribute of a party of the directory at a level of the policy in force. */
  @Post('parties/:partyId/certifications')
  @ApiOperation({ summary: "Certifies a party's identity attribute at a level, after identity proofing" })
  @Access(staff('registrar'))
  async certify(
    @Param('partyId', new ParseUUIDPipe()) partyId: string,
    @Body() body: CertifyAttributeBody,
    @RequestTraceparent() traceparent: string | undefined,
  ) {
    await this.requireParty(partyId);
    const policy = await this.policies.current();
    const now = this.clock.now();
    const attributeId = this.ids.next();
    const result = await this.handle(
      streamIdOf(ATTRIBUTES_CATEGORY, partyId),
      {
        type: 'CertifyAttribute',
        partyId,
        attributeId,
        name: body.name,
        level: body.level,
        scale: policy.scale,
        validFrom: body.validFrom ? new Date(body.validFrom) : now,
        validUntil: new Date(body.validUntil),
        evidence: body.evidence,
        now,
      },
      requestContext(this.ids.next(), traceparent),
    );
    return { partyId, attributeId, policyId: policy.policyId, revision: result.nextExpectedVersion };
  }

  /** Records a revocation (201: a new fact, the AttributeRevoked event). */
  @Post('certifications/:partyId/:attributeId/revocation')
  @ApiOperation({ summary: 'Revokes a certified attribute' })
  @Access(staff('registrar'))
  async revoke(
    @Param('partyId', new ParseUUIDPipe()) partyId: string,
    @Param('attributeId', new ParseUUIDPipe()) attributeId: string,
    @Body() body: RevokeAttributeBody,
    @RequestTraceparent() traceparent: string | undefined,
  ) {
    const now = this.clock.now();
    const result = await this.handle(
      streamIdOf(ATTRIBUTES_CATEGORY, partyId),
      { type: 'RevokeAttribute', partyId, attributeId, reason: body.reason, now },
      requestContext(this.ids.next(), traceparent),
    );
    return { partyId, attributeId, revokedAt: now.toISOString(), revision: result.nextExpectedVersion };
  }

  /** The party's level and each certification's standing, computed now under the policy in force. */
  @Get('parties/:partyId/trust')
  @ApiOperation({ summary: "A party's certified attributes and the level they support now" })
  @Access(party('partyId'), staff('admin', 'registrar', 'ops', 'auditor'))
  async trust(@Param('partyId', new ParseUUIDPipe()) partyId: string): Promise<TrustView> {
    const facts = await this.requireParty(partyId);
    const [{ state }, policy] = await Promise.all([this.reader.certifiedAttributes(partyId), this.policies.current()]);
    const now = this.clock.now();
    const attributes = certifiedAttributesOf(state);
    return {
      partyId,
      kind: facts.kind,
      policyId: policy.policyId,
      level: levelHeld(facts, attributes, policy, now),
      evaluatedAt: now.toISOString(),
      attributes: attributes.map((attribute) => ({
        attributeId: attribute.attributeId,
        name: attribute.name,
        level: attribute.level,
        validFrom: attribute.validFrom,
        validUntil: attribute.validUntil,
        status: attributeStatus(attribute, now),
        revokedAt: attribute.revoked?.revokedAt ?? null,
      })),
    };
  }

  private async requireParty(partyId: string) {
    const { state } = await this.reader.partyFacts(partyId);
    if (state.status !== 'registered') {
      throw new DomainError('CERTIFIER.PARTY_NOT_FOUND', `No party ${partyId} in the directory`, 'not-found');
    }
    return state;
  }
}
