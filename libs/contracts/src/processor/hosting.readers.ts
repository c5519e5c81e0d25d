import { among, eventReader, Hex64, Id, list, pemOf, record, readersOf, Time } from '../readers/shape';
import type { HostingEvent } from './hosting.events';

/** Typed readers of the hosting events (`hosting-<operatorId>`, processor). */
export const HOSTING_READERS = readersOf<HostingEvent>({
  OperatorHosted: {
    operatorId: Id,
    hostedAt: Time,
    keys: list(
      record({ purpose: among(['signing', 'tsa']), algorithm: among(['Ed25519', 'RSA']), publicKeyPem: pemOf('PUBLIC KEY', 4_096), fingerprint: Hex64 }),
    ),
  },
});

export const readOperatorHosted = HOSTING_READERS.OperatorHosted;
export const readHostingEvent = eventReader(HOSTING_READERS);
