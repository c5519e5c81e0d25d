import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { foldEvents, STAFF_CATEGORY, type StaffEvent, streamIdOf } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { AuthenticationError, type StaffAuthenticator, type StaffPrincipal } from '../authenticators';
import { AuthenticatorRegistry } from '../authenticator-registry';

import { staffCredentialDecider, type StaffCredentialState } from './staff-credential.decider';
import { looksLikeStaffToken, parseStaffToken, secretMatches } from './staff-credential.token';

/**
 * Staff credentials issued by Sigillum (`sgst_…`), checked at every request in every process, whichever roles it
 * runs: the directory records them on `staff-<credentialId>` streams and every role reads them from the event store
 * it shares (a revocation takes effect at the next call, in every process).
 */
@Injectable()
export class StaffCredentialAuthenticator implements StaffAuthenticator, OnModuleInit {
  readonly name = 'sigillum-staff-credential';

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly registry: AuthenticatorRegistry,
  ) {}

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
    return foldEvents(
      staffCredentialDecider,
      recorded.map(({ event }) => event as StaffEvent),
    );
  }
}
