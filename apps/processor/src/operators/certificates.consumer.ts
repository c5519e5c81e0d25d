import { X509Certificate } from 'node:crypto';
import { Controller, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { parseData, RoleViewPattern } from '@sigillum/bus';
import {
  CA_CATEGORY,
  CERTIFICATE_CATEGORY,
  type DeliveredMessage,
  eventTypeOf,
  readCertificateIssued,
  readCertificateRevoked,
  readCertificationAuthorityEstablished,
  readCertifierSigningCertificateIssued,
  ShapeError,
  Topics,
} from '@sigillum/contracts';
import { fingerprintOf } from '@sigillum/crypto';
import { CertifierCertificates } from '../job/certifier-certificates';
import { HostedOperatorsStore } from './hosted-operators.store';
import { certificateFingerprintOf } from './operator-signer';

function certificateOf(pemText: string, field: string): X509Certificate {
  try {
    return new X509Certificate(pemText);
  } catch {
    throw new ShapeError(`${field} is not a readable X.509 certificate`);
  }
}

/**
 * What the processor learns from the certifier's CA: the CA certificate (trust anchor, `sigillum.ca.events`), the
 * certifier's signing certificates (CertifierSigningCertificateIssued: what tokens naming `x5t#S256` are checked with) and the
 * certificates issued for keys it hosts (`sigillum.certificate.events`), matched by the public key's fingerprint;
 * revocations drop them. Recorded in LOCAL_DB, idempotently (by CA id and certificate id).
 */
@Controller()
export class CertificatesConsumer {
  private readonly log = new Logger('ProcessorCertificates');

  constructor(
    private readonly operators: HostedOperatorsStore,
    private readonly certifierCertificates: CertifierCertificates,
  ) {}

  @RoleViewPattern('processor', Topics.eventsOf(CA_CATEGORY))
  onCaEvent(@Payload() message: DeliveredMessage): void {
    const type = eventTypeOf(message);
    if (type === 'CertifierSigningCertificateIssued') {
      const issued = parseData(message, (d) => {
        const data = readCertifierSigningCertificateIssued(d);
        const certificate = certificateOf(data.certificatePem, 'certificatePem');
        if (certificateFingerprintOf(certificate) !== data.fingerprint) throw new ShapeError('fingerprint is not the SHA-256 of the certificate');
        return data;
      });
      if (this.certifierCertificates.record(issued.caId, issued.certificatePem, issued.fingerprint, issued.recordedAt))
        this.log.log(`Certifier signing certificate ${issued.fingerprint} (CA ${issued.caId})`);
      return;
    }
    if (type !== 'CertificationAuthorityEstablished') return;
    const anchor = parseData(message, (d) => {
      const { caId, certificatePem, fingerprint, establishedAt } = readCertificationAuthorityEstablished(d);
      const certificate = certificateOf(certificatePem, 'certificatePem');
      if (!certificate.ca) throw new ShapeError('certificatePem is not a CA certificate');
      if (certificateFingerprintOf(certificate) !== fingerprint) throw new ShapeError('fingerprint is not the SHA-256 of the CA certificate');
      return { caId, certificatePem, fingerprint, establishedAt };
    });
    if (this.operators.recordTrustAnchor(anchor)) this.log.log(`Trust anchor: CA ${anchor.caId}`);
  }

  @RoleViewPattern('processor', Topics.eventsOf(CERTIFICATE_CATEGORY))
  onCertificateEvent(@Payload() message: DeliveredMessage): void {
    switch (eventTypeOf(message)) {
      case 'CertificateIssued': {
        const issued = parseData(message, (d) => {
          const { certificateId, partyId, keyId, serialNumber, certificatePem, notBefore, notAfter, issuedAt } = readCertificateIssued(d);
          return {
            certificateId,
            partyId,
            keyId,
            serialNumber,
            certificatePem,
            certificate: certificateOf(certificatePem, 'certificatePem'),
            notBefore,
            notAfter,
            issuedAt,
          };
        });
        const keyFingerprint = fingerprintOf(issued.certificate.publicKey);
        const hosted = this.operators.keyByFingerprint(keyFingerprint);
        if (hosted && hosted.operatorId !== issued.partyId) {
          this.log.warn(
            `Certificate ${issued.certificateId} certifies operator ${hosted.operatorId}'s ${hosted.purpose} key for party ${issued.partyId}; ignored`,
          );
          return;
        }
        // Recorded whether or not the key is hosted yet: an instance may learn the hosting (OperatorHosted, another
        // topic) after the certificate; the certificate counts once a hosted key of that operator has its fingerprint.
        const { certificate, partyId, ...facts } = issued;
        const recorded = this.operators.recordCertificate({
          ...facts,
          operatorId: partyId,
          purpose: hosted?.purpose ?? null,
          keyFingerprint,
          fingerprint: certificateFingerprintOf(certificate),
        });
        if (recorded && hosted) this.log.log(`Operator ${partyId}: ${hosted.purpose} certificate ${issued.certificateId} (key ${issued.keyId})`);
        return;
      }
      case 'CertificateRevoked': {
        const revoked = parseData(message, readCertificateRevoked);
        if (this.operators.revokeCertificate(revoked.certificateId, revoked.revokedAt))
          this.log.warn(`Certificate ${revoked.certificateId} of a hosted operator was revoked`);
        return;
      }
      default:
        return;
    }
  }
}
