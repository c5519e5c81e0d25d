import { Inject, Injectable } from '@nestjs/common';
import {
  newStaffToken,
  StaffCredentialAuthenticator,
  type StaffCredentialCommand,
  staffCredentialDecider,
  type StaffCredentialState,
  type StaffRoleName,
} from '@sigillum/auth';
import { CLOCK, type Clock, ID_GENERATOR, type IdGenerator, STAFF_CATEGORY, type StaffEvent, streamIdOf } from '@sigillum/contracts';
import { commandHandler, EVENT_STORE, type EventStore, type HandleCommand, requestContext } from '@sigillum/eventstore';

/** What anyone but the holder may see of a credential: never the digest. */
export function staffCredentialView(state: StaffCredentialState) {
  if (state.status === 'none') return null;
  const { credentialId, subject, roles, issuedAt, issuedBy } = state;
  return state.status === 'active'
    ? { credentialId, subject, roles, issuedAt, issuedBy, status: 'active' as const }
    : { credentialId, subject, roles, issuedAt, issuedBy, status: 'revoked' as const, revokedAt: state.revokedAt, reason: state.reason };
}

/**
 * Staff credentials issued by Sigillum: issued and revoked as events on `staff-<credentialId>` streams (the rule:
 * libs/auth staff-credential.decider.ts). Every process checks them at each request (StaffCredentialAuthenticator).
 */
@Injectable()
export class StaffCredentialService {
  private readonly handle: HandleCommand<StaffCredentialCommand, StaffCredentialState, StaffEvent>;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    private readonly authenticator: StaffCredentialAuthenticator,
  ) {
    this.handle = commandHandler(staffCredentialDecider, { store, clock, ids, source: '/sigillum/directory' });
  }

  load(credentialId: string): Promise<StaffCredentialState> {
    return this.authenticator.load(credentialId);
  }

  /** Issues a credential and returns its token: the only time the secret exists outside its holder. */
  async issue(subject: string, roles: readonly StaffRoleName[], issuedBy: string, traceparent?: string) {
    const credentialId = this.ids.next();
    const { token, secretDigest } = newStaffToken(credentialId);
    return { ...(await this.record(credentialId, subject, roles, secretDigest, issuedBy, traceparent)), credential: token };
  }

  /** Records a credential whose secret the caller already holds (the first-start file written before the event). */
  async record(credentialId: string, subject: string, roles: readonly StaffRoleName[], secretDigest: string, issuedBy: string, traceparent?: string) {
    const result = await this.handle(
      streamIdOf(STAFF_CATEGORY, credentialId),
      { type: 'IssueStaffCredential', credentialId, subject, roles, secretDigest, issuedBy, now: this.clock.now() },
      requestContext(this.ids.next(), traceparent),
    );
    return staffCredentialView(result.state)!;
  }

  async revoke(credentialId: string, revokedBy: string, reason: string, traceparent?: string) {
    const result = await this.handle(
      streamIdOf(STAFF_CATEGORY, credentialId),
      { type: 'RevokeStaffCredential', credentialId, revokedBy, reason, now: this.clock.now() },
      requestContext(this.ids.next(), traceparent),
    );
    return staffCredentialView(result.state)!;
  }
}
