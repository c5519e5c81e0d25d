import { Injectable } from '@nestjs/common';
import type { MachineAuthenticator, PartySessionAuthenticator, StaffAuthenticator } from './authenticators';

/**
 * Where the roles of this process plug in the authenticators they own: the directory its staff credentials, the
 * domicile its party sessions, the certifier its machine certificates; the OIDC verifier when an issuer is configured.
 * Apps never import each other: they meet here, in a library.
 */
@Injectable()
export class AuthenticatorRegistry {
  private readonly staffAuthenticators: StaffAuthenticator[] = [];
  private partySessionAuthenticator?: PartySessionAuthenticator;
  private machineAuthenticator?: MachineAuthenticator;

  registerStaff(authenticator: StaffAuthenticator): void {
    this.staffAuthenticators.push(authenticator);
  }

  registerPartySessions(authenticator: PartySessionAuthenticator): void {
    this.partySessionAuthenticator = authenticator;
  }

  registerMachines(authenticator: MachineAuthenticator): void {
    this.machineAuthenticator = authenticator;
  }

  staffFor(token: string): StaffAuthenticator | undefined {
    return this.staffAuthenticators.find((candidate) => candidate.recognises(token));
  }

  get partySessions(): PartySessionAuthenticator | undefined {
    return this.partySessionAuthenticator;
  }

  get machines(): MachineAuthenticator | undefined {
    return this.machineAuthenticator;
  }
}
