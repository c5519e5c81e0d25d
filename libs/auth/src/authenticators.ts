import type { Principal } from './principal';

/** An authentication failure: the guard answers 401 with this rule and message (never the credential itself). */
export class AuthenticationError extends Error {
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
    this.name = 'AuthenticationError';
  }
}

export type StaffPrincipal = Extract<Principal, { kind: 'staff' }>;
export type PartyPrincipal = Extract<Principal, { kind: 'party' }>;
export type MachinePrincipal = Extract<Principal, { kind: 'machine' }>;

/**
 * Checks a staff bearer token of the kind it knows. Answers null when the token is not of its kind (another
 * authenticator may know it); throws AuthenticationError when it is of its kind and does not hold.
 */
export interface StaffAuthenticator {
  readonly name: string;
  recognises(token: string): boolean;
  authenticate(token: string): Promise<StaffPrincipal>;
}

/** Checks a party's session credential against its open session (claim 1); the domicile provides it. */
export interface PartySessionAuthenticator {
  authenticate(sessionId: string, credential: string): Promise<PartyPrincipal>;
}

/** What the TLS layer saw of a client certificate whose chain verified against Sigillum's CA. */
export interface PresentedCertificate {
  /** Hex serial number, lower case, as the CA issued it. */
  readonly serialNumber: string;
  /** The subject's CN: the directory party id the CA certified. */
  readonly subjectCommonName: string;
  /** SHA-256 of the DER certificate, hex. */
  readonly fingerprint256: string;
}

/** Maps a verified client certificate to its directory party, refusing revoked or unknown certificates; the certifier provides it. */
export interface MachineAuthenticator {
  authenticate(certificate: PresentedCertificate): Promise<MachinePrincipal>;
}
