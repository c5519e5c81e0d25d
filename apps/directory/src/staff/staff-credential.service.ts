import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { AuthenticationError, AuthenticatorRegistry, type StaffAuthenticator, type StaffPrincipal } from '@sigillum/auth';
import { CLOCK, type Clock, foldEvents, ID_GENERATOR, type IdGenerator, STAFF_CATEGORY, type StaffEvent, streamIdOf } from '@sigillum/contracts';
import { commandHandler, EVENT_STORE, type EventStore, type HandleCommand } from '@sigillum/eventstore';
import { type StaffCredentialCommand, staffCredentialDecider, type StaffCredentialState, type StaffRoleName } from './staff-credential.decider';
import { looksLikeStaffToken, newStaffToken, parseStaffToken, secretMatches } from './staff-credential.token';

/** What anyone but the holder may see of a credential: never the digest. */
export function staffCredentialView(state: StaffCredentialState) {
  if (state.status === 'none') return null;
  const { credentialId, subject, roles, issuedAt, issuedBy } = state;
  return state.status === 'active'
    ? { credentialId, subject, roles, issuedAt, issuedBy, status: 'active' as const }
    : { credentialId, subject, roles, issuedAt, issuedBy, status: 'revoked' as const, revokedAt: state.revokedAt, reason: state.reason };
}

/**
 * Staff credentials issued by Sigillum: issued and revoked as events on `staff-<credentialId>` streams, checked at
 * every request from the current state (a revocation takes effect at the next call). Plugged into the AccessGuard.
 */
@Injectable()
export class StaffCredentialService implements StaffAuthenticator, OnModuleInit {
  readonly name = 'sigillum-staff-credential';
  private readonly handle: HandleCommand<StaffCredentialCommand, StaffCredentialState, StaffEvent>;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    private readonly registry: AuthenticatorRegistry,
  ) {
    this.handle = commandHandler(staffCredentialDecider, { store, clock, ids, source: '/sigillum/directory' });
  }

  onModuleInit(): void {
    this.registry.registerStaff(this);
  }

  recognises(token: string): boolean {
    return looksLikeStaffToken(token);
  }

  async authenticate(token: string): Promise<StaffPrincipal> {
    const parsed = parseStaffToken(token);
    const invalid = new AuthenticationError('staff.credential-invalid', 'The staff credential is not valid');
    if (!parsed) throw invalid;
    const state = await this.load(parsed.credentialId);
    if (state.status === 'none' || !secretMatches(parsed.secret, state.secretDigest)) throw invalid;
    // Only a holder of the secret learns that it was revoked.
    if (state.status === 'revoked') throw new AuthenticationError('staff.credential-revoked', 'This staff credential was revoked; ask an admin for a new one');
    return { kind: 'staff', subject: state.subject, roles: state.roles, via: 'credential' };
  }

  async load(credentialId: string): Promise<StaffCredentialState> {
    const recorded = await this.store.readStream(streamIdOf(STAFF_CATEGORY, credentialId));
    return foldEvents(staffCredentialDecider, recorded.map(({ event }) => event as StaffEvent));
  }

  /** Issues a credential and returns its token: the only time the secret exists outside its holder. */
  async issue(subject: string, roles: readonly StaffRoleName[], issuedBy: string, credentialId = this.ids.next()) {
    const { token, secretDigest } = newStaffToken(credentialId);
    return { ...(await this.record(credentialId, subject, roles, secretDigest, issuedBy)), credential: token };
  }

  /** Records a credential whose secret the caller already holds (the first-start file written before the event). */
  async record(credentialId: string, subject: string, roles: readonly StaffRoleName[], secretDigest: string, issuedBy: string) {
    const requestId = this.ids.next();
    const result = await this.handle(
      streamIdOf(STAFF_CATEGORY, credentialId),
      { type: 'IssueStaffCredential', credentialId, subject, roles, secretDigest, issuedBy, now: this.clock.now() },
      { correlationId: requestId, causationId: requestId },
    );
    return staffCredentialView(result.state)!;
  }

  async revoke(credentialId: string, revokedBy: string, reason: string) {
    const requestId = this.ids.next();
    const result = await this.handle(
      streamIdOf(STAFF_CATEGORY, credentialId),
      { type: 'RevokeStaffCredential', credentialId, revokedBy, reason, now: this.clock.now() },
      { correlationId: requestId, causationId: requestId },
    );
    return staffCredentialView(result.state)!;
  }
}
