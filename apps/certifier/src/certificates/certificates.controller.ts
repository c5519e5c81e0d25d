import { Access, publicRoute, staff } from '@sigillum/auth';
import { RequestTraceparent } from '@sigillum/runtime';
import { Body, Controller, Get, Header, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { IssueCertificateBody, RevokeCertificateBody } from './certificates.dto';
import { CertificatesService } from './certificates.service';

/** X.509 certificates the certifier's CA issues for keys registered in the directory, and the CA certificate itself. */
@Controller()
export class CertificatesController {
  constructor(private readonly certificates: CertificatesService) {}

  /** Issues a certificate for a party's registered key: 404 unknown party or key, 409 revoked key, 400 key unfit for the profile. */
  @Post('certificates')
  @ApiOperation({ summary: "Issues an X.509 certificate of the Sigillum CA for a party's registered key" })
  @Access(staff('admin'))
  issue(@Body() body: IssueCertificateBody, @RequestTraceparent() traceparent: string | undefined) {
    return this.certificates.issue(
      {
        partyId: body.partyId,
        keyId: body.keyId,
        profile: body.profile,
        ...(body.validityDays !== undefined ? { validityDays: body.validityDays } : {}),
      },
      traceparent,
    );
  }

  @Get('certificates/:certificateId')
  @ApiOperation({ summary: 'One certificate the CA issued' })
  @Access(staff('admin', 'ops', 'auditor'))
  get(@Param('certificateId', new ParseUUIDPipe()) certificateId: string) {
    return this.certificates.get(certificateId);
  }

  @Post('certificates/:certificateId/revocation')
  @Access(staff('admin'))
  @HttpCode(200)
  @ApiTags('certificates')
  @ApiOperation({
    summary: 'Revokes a certificate of the certifier CA: from then on the certified chain refuses what is signed under it (rule certificate.revoked)',
  })
  @ApiParam({ name: 'certificateId', format: 'uuid' })
  @ApiOkResponse({
    description: 'The certificate, status revoked, with revokedAt and revocationReason; a certificate revoked already keeps its first revocation',
  })
  @ApiBadRequestResponse({ description: 'certificateId is not a UUID, or reason is missing, empty or longer than 300 characters (nothing recorded)' })
  @ApiNotFoundResponse({ description: 'No certificate with this id' })
  revoke(
    @Param('certificateId', new ParseUUIDPipe()) certificateId: string,
    @Body() body: RevokeCertificateBody,
    @RequestTraceparent() traceparent: string | undefined,
  ) {
    return this.certificates.revoke(certificateId, body.reason, traceparent);
  }

  /** The CA certificate, PEM: the trust anchor to give `openssl verify -CAfile`. */
  @Get('ca/certificate')
  @ApiOperation({ summary: 'The Sigillum CA certificate (PEM), for every relying party' })
  @Access(publicRoute('the CA certificate: every relying party needs it to verify what Sigillum signs'))
  @Header('Content-Type', 'application/x-pem-file')
  caCertificate(): string {
    return this.certificates.caCertificatePem();
  }
}
