import { among, eventReader, Hex64, list, readersOf, text, Time } from '../readers/shape';
import { STAFF_ROLE_NAMES, type StaffEvent } from './staff.events';

/** Typed readers of the staff credentials' events (`staff-<credentialId>`, directory). */
export const STAFF_READERS = readersOf<StaffEvent>({
  StaffCredentialIssued: {
    credentialId: text(64),
    subject: text(120),
    roles: list(among(STAFF_ROLE_NAMES), 1),
    secretDigest: Hex64,
    issuedBy: text(),
    issuedAt: Time,
  },
  StaffCredentialRevoked: { credentialId: text(64), revokedBy: text(), reason: text(500), revokedAt: Time },
});

export const readStaffEvent = eventReader(STAFF_READERS);
