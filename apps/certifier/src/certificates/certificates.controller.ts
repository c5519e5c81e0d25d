import { Body, Controller, Get, Header, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { IssueCertificateBody } from './certificates.dto';
import { CertificatesService } from './certificates.service';

/** X.509 certificates the certifier's CA issues for keys registered in the directory, and the CA certificate itself. */
@Controller()
export class CertificatesController {
  constructor(private readonly certificates: CertificatesService) {}

  /** Issues a certificate for a party's registered key: 404 unknown party or key, 409 revoked key, 400 key unfit for the profile. */
  @Post('certificates')
  issue(@Body() body: IssueCertificateBody) {
    return this.certificates.issue({
      partyId: body.partyId,
      keyId: body.keyId,
      profile: body.profile,
      ...(body.validityDays !== undefined ? { validityDays: body.validityDays } : {}),
    });
  }

  @Get('certificates/:certificateId')
  get(@Param('certificateId', new ParseUUIDPipe()) certificateId: string) {
    return this.certificates.get(certificateId);
  }

  /** The CA certificate, PEM: the trust anchor to give `openssl verify -CAfile`. */
  @Get('ca/certificate')
  @Header('Content-Type', 'application/x-pem-file')
  caCertificate(): string {
    return this.certificates.caCertificatePem();
  }
}
