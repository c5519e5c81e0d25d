import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RoleViewPattern } from '@sigillum/bus';
import { CERTIFICATE_CATEGORY, type DeliveredMessage, Topics } from '@sigillum/contracts';
import { KnownCertificates } from './known-certificates';
import { RevokedCertificates } from './revoked-certificates';

/** Keeps the revoked-certificate index and the issued certificates by fingerprint of this process up to date (at least once; the projector applies each event once). */
@Controller()
export class RevokedCertificatesConsumer {
  constructor(
    private readonly index: RevokedCertificates,
    private readonly known: KnownCertificates,
  ) {}

  @RoleViewPattern('certifier', Topics.eventsOf(CERTIFICATE_CATEGORY))
  async onCertificateEvent(@Payload() message: DeliveredMessage): Promise<void> {
    this.index.apply(message);
    this.known.apply(message);
  }
}
