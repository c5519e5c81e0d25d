import { DomainError } from '@sigillum/contracts';
import { staffCredentialDecider as decider, type StaffCredentialCommand } from './staff-credential.decider';

const now = new Date('2026-12-02T08:00:00Z');
const issue: StaffCredentialCommand = {
  type: 'IssueStaffCredential',
  credentialId: 'c1',
  subject: 'ada@operator.example',
  roles: ['registrar', 'registrar'],
  secretDigest: 'ab'.repeat(32),
  issuedBy: 'first-start',
  now,
};
const given = (...commands: StaffCredentialCommand[]) =>
  commands.reduce((state, command) => decider.decide(command, state).reduce(decider.evolve, state), decider.initialState());

describe('staff credential decider', () => {
  it('issues a credential once, recording the digest and never a secret', () => {
    const [event] = decider.decide(issue, decider.initialState());
    expect(event).toEqual({
      type: 'StaffCredentialIssued',
      version: 1,
      data: {
        credentialId: 'c1',
        subject: 'ada@operator.example',
        roles: ['registrar'],
        secretDigest: 'ab'.repeat(32),
        issuedBy: 'first-start',
        issuedAt: now.toISOString(),
      },
    });
    expect(() => decider.decide(issue, given(issue))).toThrow(DomainError);
  });

  it('refuses an empty or unknown role', () => {
    expect(() => decider.decide({ ...issue, roles: [] }, decider.initialState())).toThrow(/Roles must be/);
    expect(() => decider.decide({ ...issue, roles: ['root' as never] }, decider.initialState())).toThrow(/Roles must be/);
  });

  it('revokes once; a second revocation changes nothing; an unknown credential is not found', () => {
    const revoke: StaffCredentialCommand = { type: 'RevokeStaffCredential', credentialId: 'c1', revokedBy: 'root', reason: 'left the company', now };
    expect(decider.decide(revoke, given(issue))).toHaveLength(1);
    expect(given(issue, revoke)).toMatchObject({ status: 'revoked', reason: 'left the company' });
    expect(decider.decide(revoke, given(issue, revoke))).toEqual([]);
    expect(() => decider.decide(revoke, decider.initialState())).toThrow(/No staff credential/);
  });
});
