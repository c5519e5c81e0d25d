import { assertNever, type Decider, DomainError, STAFF_ROLE_NAMES, type StaffEvent } from '@sigillum/contracts';

export type StaffRoleName = (typeof STAFF_ROLE_NAMES)[number];

/** One staff credential's life: issued once, revoked at most once. */
export type StaffCredentialState =
  | { readonly status: 'none' }
  | {
      readonly status: 'active';
      readonly credentialId: string;
      readonly subject: string;
      readonly roles: readonly StaffRoleName[];
      readonly secretDigest: string;
      readonly issuedAt: string;
      readonly issuedBy: string;
    }
  | {
      readonly status: 'revoked';
      readonly credentialId: string;
      readonly subject: string;
      readonly roles: readonly StaffRoleName[];
      readonly secretDigest: string;
      readonly issuedAt: string;
      readonly issuedBy: string;
      readonly revokedAt: string;
      readonly reason: string;
    };

export type StaffCredentialCommand =
  | {
      readonly type: 'IssueStaffCredential';
      readonly credentialId: string;
      readonly subject: string;
      readonly roles: readonly StaffRoleName[];
      readonly secretDigest: string;
      readonly issuedBy: string;
      readonly now: Date;
    }
  | { readonly type: 'RevokeStaffCredential'; readonly credentialId: string; readonly revokedBy: string; readonly reason: string; readonly now: Date };

function decide(command: StaffCredentialCommand, state: StaffCredentialState): StaffEvent[] {
  switch (command.type) {
    case 'IssueStaffCredential': {
      if (state.status !== 'none') {
        throw new DomainError('STAFF.CREDENTIAL_EXISTS', `Credential ${command.credentialId} was already issued`, 'conflict', [
          { rule: 'staff.credential-exists', message: 'a credential id is issued once' },
        ]);
      }
      const roles = [...new Set(command.roles)];
      if (roles.length === 0 || roles.some((role) => !STAFF_ROLE_NAMES.includes(role))) {
        throw new DomainError('STAFF.ROLES_INVALID', `Roles must be some of ${STAFF_ROLE_NAMES.join(', ')}`, 'invalid', [
          { rule: 'staff.roles', message: `roles must be a non-empty subset of ${STAFF_ROLE_NAMES.join(', ')}` },
        ]);
      }
      return [
        {
          type: 'StaffCredentialIssued',
          version: 1,
          data: {
            credentialId: command.credentialId,
            subject: command.subject,
            roles,
            secretDigest: command.secretDigest,
            issuedBy: command.issuedBy,
            issuedAt: command.now.toISOString(),
          },
        },
      ];
    }
    case 'RevokeStaffCredential': {
      if (state.status === 'none') {
        throw new DomainError('STAFF.CREDENTIAL_UNKNOWN', `No staff credential ${command.credentialId}`, 'not-found', [
          { rule: 'staff.credential-unknown', message: 'no credential has this id' },
        ]);
      }
      if (state.status === 'revoked') return []; // revoking twice changes nothing
      return [
        {
          type: 'StaffCredentialRevoked',
          version: 1,
          data: { credentialId: command.credentialId, revokedBy: command.revokedBy, reason: command.reason, revokedAt: command.now.toISOString() },
        },
      ];
    }
    default:
      return assertNever(command, 'staff credential command');
  }
}

function evolve(state: StaffCredentialState, event: StaffEvent): StaffCredentialState {
  switch (event.type) {
    case 'StaffCredentialIssued':
      return { status: 'active', ...event.data, roles: [...event.data.roles] };
    case 'StaffCredentialRevoked':
      if (state.status !== 'active') return state;
      return {
        ...state,
        status: 'revoked',
        revokedAt: event.data.revokedAt,
        reason: event.data.reason,
      };
    default:
      return assertNever(event, 'staff event');
  }
}

/** Staff credentials issued by Sigillum (the embedded default's and the demo's staff; OIDC staff need none). */
export const staffCredentialDecider: Decider<StaffCredentialCommand, StaffCredentialState, StaffEvent> = {
  decide,
  evolve,
  initialState: () => ({ status: 'none' }),
};
