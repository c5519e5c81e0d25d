import { Logger, type Provider } from '@nestjs/common';
import { CA_CATEGORY, CLOCK, type Clock, ID_GENERATOR, type IdGenerator, streamIdOf } from '@sigillum/contracts';
import { CertificateAuthority, type FileKeyStore } from '@sigillum/crypto';
import { commandHandler, EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { KEY_STORE } from '@sigillum/runtime';
import { CERTIFIER_SOURCE } from '../certifier.source';
import { certificateDecider } from './certificate.decider';
import { CERTIFICATES_OPTIONS, type CertificatesOptions } from './certificates.options';

/** The certifier's CertificateAuthority, loaded (or created) from the keystore at start-up. */
export const CERTIFICATION_AUTHORITY = Symbol('CERTIFICATION_AUTHORITY');

const log = new Logger('CertificationAuthority');

export interface EstablishDeps {
  readonly keystore: FileKeyStore;
  readonly store: EventStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly options: CertificatesOptions;
}

/**
 * Loads or creates the CA, then makes sure `ca-<caId>` records it. The command runs at every start: the decider
 * makes it a no-op once recorded, so a crash between creating the key and appending the event heals itself.
 */
export async function establishCertificationAuthority(deps: EstablishDeps): Promise<CertificateAuthority> {
  const now = deps.clock.now();
  const { ca, created } = CertificateAuthority.loadOrCreate(deps.keystore, {
    commonName: deps.options.caCommonName,
    organisation: deps.options.caOrganisation,
    validityDays: deps.options.caValidityDays,
    now,
  });
  const handle = commandHandler(certificateDecider, { store: deps.store, clock: deps.clock, ids: deps.ids, source: CERTIFIER_SOURCE });
  const requestId = deps.ids.next();
  const result = await handle(
    streamIdOf(CA_CATEGORY, ca.caId),
    {
      type: 'EstablishCertificationAuthority',
      caId: ca.caId,
      subject: ca.subject,
      certificatePem: ca.caCertificatePem,
      fingerprint: ca.fingerprint,
      notBefore: ca.notBefore,
      notAfter: ca.notAfter,
      now,
    },
    { correlationId: requestId, causationId: requestId },
  );
  if (created) log.log(`Created certification authority ${ca.caId} (${ca.subject}), valid until ${ca.notAfter}`);
  else if (result.events.length > 0) log.log(`Recorded certification authority ${ca.caId} (${ca.subject})`);
  return ca;
}

export const certificationAuthorityProvider: Provider = {
  provide: CERTIFICATION_AUTHORITY,
  useFactory: (keystore: FileKeyStore, store: EventStore, clock: Clock, ids: IdGenerator, options: CertificatesOptions) =>
    establishCertificationAuthority({ keystore, store, clock, ids, options }),
  inject: [KEY_STORE, EVENT_STORE, CLOCK, ID_GENERATOR, CERTIFICATES_OPTIONS],
};
