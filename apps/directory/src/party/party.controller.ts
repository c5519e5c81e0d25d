import { ApiOperation } from '@nestjs/swagger';
import { Access, party, staff } from '@sigillum/auth';
import { RequestTraceparent } from '@sigillum/runtime';
import { Body, Controller, Delete, HttpCode, Param, ParseUUIDPipe, Post, Put } from '@nestjs/common';
import {
  EnrolChannelBody,
  RegisterKeyBody,
  RegisterPartyBody,
  RenamePartyBody,
  RevokeKeyBody,
  SpecificationBody,
  AttributeBody,
  VerifyChannelBody,
} from './party.dto';
import { PartyService } from './party.service';

const uuid = () => new ParseUUIDPipe();

/** The directory's command API: parties, their declared attributes, second channels, keys and specifications. */
@Controller('parties')
export class PartyController {
  constructor(private readonly parties: PartyService) {}

  /** Registers a party; the directory assigns its id. */
  @Post()
  @ApiOperation({ summary: 'Enrols a party (person, organisation or operator)' })
  @Access(staff('registrar', 'admin'))
  register(@Body() body: RegisterPartyBody, @RequestTraceparent() traceparent: string | undefined) {
    return this.parties.register(
      {
        kind: body.kind,
        ...(body.operatorRole !== undefined ? { operatorRole: body.operatorRole } : {}),
        displayName: body.displayName,
        attributes: (body.attributes ?? []).map(({ name, value }) => ({ name, value })),
      },
      traceparent,
    );
  }

  @Post(':partyId/name')
  @ApiOperation({ summary: "Changes a party's display name" })
  @Access(party('partyId'), staff('registrar'))
  @HttpCode(200)
  rename(@Param('partyId', uuid()) partyId: string, @Body() body: RenamePartyBody, @RequestTraceparent() traceparent: string | undefined) {
    return this.parties.rename({ partyId, displayName: body.displayName }, traceparent);
  }

  /** Declares (or re-declares) one identity attribute; the certifier certifies it later. */
  @Post(':partyId/attributes')
  @ApiOperation({ summary: 'Declares an identity attribute of a party' })
  @Access(party('partyId'), staff('registrar'))
  @HttpCode(200)
  declareAttribute(@Param('partyId', uuid()) partyId: string, @Body() body: AttributeBody, @RequestTraceparent() traceparent: string | undefined) {
    return this.parties.declareAttribute({ partyId, name: body.name, value: body.value }, traceparent);
  }

  /** Enrols a second channel and sends a verification code over it. */
  @Post(':partyId/channels')
  @ApiOperation({ summary: 'Adds a second channel and sends its verification code over it' })
  @Access(party('partyId'), staff('registrar'))
  enrolChannel(@Param('partyId', uuid()) partyId: string, @Body() body: EnrolChannelBody, @RequestTraceparent() traceparent: string | undefined) {
    return this.parties.enrolChannel(partyId, body.kind, body.address, traceparent);
  }

  @Post(':partyId/channels/:channelId/verification')
  @ApiOperation({ summary: 'Verifies a second channel with the code it received' })
  @Access(party('partyId'), staff('registrar'))
  @HttpCode(200)
  verifyChannel(
    @Param('partyId', uuid()) partyId: string,
    @Param('channelId', uuid()) channelId: string,
    @Body() body: VerifyChannelBody,
    @RequestTraceparent() traceparent: string | undefined,
  ) {
    return this.parties.verifyChannel(partyId, channelId, body.code, traceparent);
  }

  @Delete(':partyId/channels/:channelId')
  @ApiOperation({ summary: 'Removes a second channel' })
  @Access(party('partyId'), staff('registrar'))
  removeChannel(
    @Param('partyId', uuid()) partyId: string,
    @Param('channelId', uuid()) channelId: string,
    @RequestTraceparent() traceparent: string | undefined,
  ) {
    return this.parties.removeChannel({ partyId, channelId }, traceparent);
  }

  @Post(':partyId/keys')
  @ApiOperation({ summary: 'Registers a public key of a party' })
  @Access(party('partyId'), staff('registrar', 'admin'))
  registerKey(@Param('partyId', uuid()) partyId: string, @Body() body: RegisterKeyBody, @RequestTraceparent() traceparent: string | undefined) {
    return this.parties.registerKey(partyId, body.algorithm, body.use, body.publicKeyPem, traceparent);
  }

  @Delete(':partyId/keys/:keyId')
  @ApiOperation({ summary: 'Revokes a public key of a party' })
  @Access(party('partyId'), staff('registrar', 'admin'))
  revokeKey(
    @Param('partyId', uuid()) partyId: string,
    @Param('keyId', uuid()) keyId: string,
    @Body() body: RevokeKeyBody,
    @RequestTraceparent() traceparent: string | undefined,
  ) {
    return this.parties.revokeKey({ partyId, keyId, reason: body.reason }, traceparent);
  }

  /** Registers the next version of a processing operator's specification. */
  @Put(':partyId/specification')
  @ApiOperation({ summary: "Registers a processing operator's specification" })
  @Access(staff('admin'))
  registerSpecification(@Param('partyId', uuid()) partyId: string, @Body() body: SpecificationBody, @RequestTraceparent() traceparent: string | undefined) {
    return this.parties.registerSpecification(
      partyId,
      {
        version: body.version,
        steps: body.steps.map(({ step, parameters, maxDurationSeconds }) => ({ step, parameters: { ...parameters }, maxDurationSeconds })),
      },
      traceparent,
    );
  }
}
