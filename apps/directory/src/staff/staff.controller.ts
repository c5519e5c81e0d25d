import { Body, Controller, Get, HttpCode, HttpStatus, NotFoundException, Param, Post } from '@nestjs/common';
import { Access, CurrentPrincipal, type Principal, staff } from '@sigillum/auth';
import { RequestTraceparent } from '@sigillum/runtime';
import { ApiOperation, ApiParam } from '@nestjs/swagger';
import { Matches } from 'class-validator';
import { staffCredentialView, StaffCredentialService } from './staff-credential.service';
import { IssueStaffCredentialBody, RevokeStaffCredentialBody } from './staff.dto';

class CredentialParams {
  @Matches(/^[0-9a-z-]{1,64}$/, { message: 'credentialId is lower-case letters, digits and dashes' })
  credentialId!: string;
}

const issuer = (principal: Principal) => (principal.kind === 'staff' ? principal.subject : principal.kind);

/** Staff credentials issued by Sigillum: an admin issues and revokes them; every staff member can see who it is. */
@Controller('staff')
export class StaffController {
  constructor(private readonly credentials: StaffCredentialService) {}

  /** Issues a staff credential; the answer holds its token, shown this once. */
  @Post('credentials')
  @ApiOperation({ summary: 'Issues a staff credential (shown once)' })
  @Access(staff('admin'))
  async issue(@Body() body: IssueStaffCredentialBody, @CurrentPrincipal() principal: Principal, @RequestTraceparent() traceparent: string | undefined) {
    return this.credentials.issue(body.subject, body.roles, issuer(principal), traceparent);
  }

  @Get('credentials/:credentialId')
  @ApiParam({ name: 'credentialId', type: 'string' })
  @ApiOperation({ summary: 'One staff credential (never its secret)' })
  @Access(staff('admin'))
  async view(@Param() params: CredentialParams) {
    const view = staffCredentialView(await this.credentials.load(params.credentialId));
    if (!view) throw new NotFoundException({ statusCode: 404, code: 'STAFF.CREDENTIAL_UNKNOWN', message: 'No staff credential has this id' });
    return view;
  }

  /** Revokes a credential: refused from its next call on. */
  @Post('credentials/:credentialId/revocation')
  @ApiParam({ name: 'credentialId', type: 'string' })
  @ApiOperation({ summary: 'Revokes a staff credential: refused from its next call on' })
  @HttpCode(HttpStatus.OK)
  @Access(staff('admin'))
  async revoke(
    @Param() params: CredentialParams,
    @Body() body: RevokeStaffCredentialBody,
    @CurrentPrincipal() principal: Principal,
    @RequestTraceparent() traceparent: string | undefined,
  ) {
    return this.credentials.revoke(params.credentialId, issuer(principal), body.reason, traceparent);
  }

  /** Who the caller is, as the server authenticated it (roles included): for consoles and scripts. */
  @Get('me')
  @ApiOperation({ summary: 'Who the calling staff member is, with roles' })
  @Access(staff('admin', 'registrar', 'ops', 'auditor'))
  me(@CurrentPrincipal() principal: Principal) {
    return principal;
  }
}
