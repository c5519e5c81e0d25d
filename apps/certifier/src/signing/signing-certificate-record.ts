import { X509Certificate } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { CA_CATEGORY, type Clock, type IdGenerator, streamIdOf } from '@sigillum/contracts';
import type { CertificateAuthority } from '@sigillum/crypto';
import { commandHandler, type EventStore } from '@sigillum/eventstore';
import { CERTIFIER_SOURCE } from '../certifier.source';
import { certificateDecider } from '../certificates/certificate.decider';

/** What is recorded of the certifier's signer (CertifierSigner has it). */
export interface RecordedSigner {
  readonly keyId: string;
  readonly certificatePem: string;
  readonly certificateFingerprint: string;
}

export interface SigningCertificateRecordDeps {
  readonly store: EventStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

/**
 * Makes sure `ca-<caId>` records the signer's certificate (CertifierSigningCertificateIssued) before anything is
 * signed under it: at every start, so a certificate issued at first start, at a rotation, or before this event
 * existed (an older DATA_DIR) is recorded once; the decider makes it a no-op once recorded.
 */
export async function recordSigningCertificate(deps: SigningCertificateRecordDeps, ca: CertificateAuthority, signer: RecordedSigner): Promise<boolean> {
  const x509 = new X509Certificate(signer.certificatePem);
  const handle = commandHandler(certificateDecider, { store: deps.store, clock: deps.clock, ids: deps.ids, source: CERTIFIER_SOURCE });
  const requestId = deps.ids.next();
  const result = await handle(
    streamIdOf(CA_CATEGORY, ca.caId),
    {
      type: 'RecordCertifierSigningCertificate',
      certificate: {
        caId: ca.caId,
        keyId: signer.keyId,
        serialNumber: x509.serialNumber,
        subject: x509.subject.split('\n').join(', '),
        certificatePem: signer.certificatePem,
        fingerprint: signer.certificateFingerprint,
        notBefore: new Date(x509.validFrom).toISOString(),
        notAfter: new Date(x509.validTo).toISOString(),
      },
      now: deps.clock.now(),
    },
    { correlationId: requestId, causationId: requestId },
  );
  const recorded = result.events.length > 0;
  if (recorded) new Logger('CertifierSigner').log(`Recorded the certifier's signing certificate ${signer.certificateFingerprint} on ca-${ca.caId}`);
  return recorded;
}
