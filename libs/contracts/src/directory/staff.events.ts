import type { DomainEvent } from '../event';

/** Stream category of staff credentials issued by Sigillum itself; stream id `staff-<credentialId>`. */
export const STAFF_CATEGORY = 'staff';

/** Staff roles (BRIEF §4b), as recorded in events. */
export const STAFF_ROLE_NAMES = ['admin', 'registrar', 'ops', 'auditor'] as const;

/**
 * A staff credential issued (the first-start admin credential, or one an admin issued). `secretDigest` is the
 * SHA-256 of a 256-bit random secret shown once to whoever receives it: the secret itself is never recorded.
 */
export type StaffCredentialIssued = DomainEvent<
  'StaffCredentialIssued',
  {
    readonly credentialId: string;
    /** Who the credential is for: a login name or e-mail of the staff member, plain text. */
    readonly subject: string;
    readonly roles: readonly (typeof STAFF_ROLE_NAMES)[number][];
    readonly secretDigest: string;
    /** `first-start` for the admin credential written to DATA_DIR at the first start; else the issuing admin's subject. */
    readonly issuedBy: string;
    readonly issuedAt: string;
  }
>;

export type StaffCredentialRevoked = DomainEvent<
  'StaffCredentialRevoked',
  { readonly credentialId: string; readonly revokedBy: string; readonly reason: string; readonly revokedAt: string }
>;

export type StaffEvent = StaffCredentialIssued | StaffCredentialRevoked;
