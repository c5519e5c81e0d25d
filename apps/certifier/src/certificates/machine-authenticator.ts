import { Inject, Injectable, type OnModuleInit, Optional } from '@nestjs/common';
import { AuthenticationError, AuthenticatorRegistry, type MachineAuthenticator, type MachinePrincipal, type PresentedCertificate } from '@sigillum/auth';
import { CERTIFICATE_CATEGORY, CLOCK, type Clock, eventsOf, foldEvents, PARTY_CATEGORY, streamIdOf } from '@sigillum/contracts';
import { isClientAuthCertificate } from '@sigillum/crypto';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { type CertificateEvent, certificateDecider, type CertificateState, subjectNamesParty } from './certificate.decider';
import { certificateIdForSerial, sameSerial } from './certificate-serials';
import { type PartyKeys, partyKeysOf } from './party-keys';

/** The rules a machine's client certificate is refused under (401, `reasons[0].rule`). */
export const MACHINE_RULES = {
  unknownCertificate: 'machine.unknown-certificate',
  revoked: 'machine.certificate-revoked',
  expired: 'machine.certificate-expired',
  notYetValid: 'machine.certificate-not-yet-valid',
  notClientCertificate: 'machine.not-client-certificate',
  subjectMismatch: 'machine.subject-mismatch',
  keyRevoked: 'machine.key-revoked',
} as const;

/**
 * The mapping itself, pure: a client certificate the TLS layer verified, against what the CA recorded under its serial
 * (`certificate-<certificateId>`, current state) and the party's directory keys, at `now`. Answers the machine
 * principal of the party the CA certified, or throws AuthenticationError naming the first rule that fails:
 * - unknown serial, or a certificate other than the one issued under it (fingerprint): `machine.unknown-certificate`;
 * - not a TLS client certificate (no extendedKeyUsage clientAuth, e.g. a signing certificate): `machine.not-client-certificate`;
 * - CN other than the party the certificate was issued to: `machine.subject-mismatch`;
 * - revoked (POST /certificates/:id/revocation): `machine.certificate-revoked`;
 * - outside its validity: `machine.certificate-expired`, `machine.certificate-not-yet-valid`;
 * - the certified key revoked in the directory, or the party unknown there: `machine.key-revoked`.
 */
export function machinePrincipalFor(presented: PresentedCertificate, state: CertificateState, party: PartyKeys, now: Date): MachinePrincipal {
  if (state.status !== 'issued' && state.status !== 'revoked') {
    throw new AuthenticationError(MACHINE_RULES.unknownCertificate, `No client certificate with serial ${presented.serialNumber} was issued by this CA`);
  }
  const issued = state.certificate;
  if (!sameSerial(issued.serialNumber, presented.serialNumber) || issued.fingerprint !== presented.fingerprint256.replace(/:/g, '').toLowerCase()) {
    throw new AuthenticationError(
      MACHINE_RULES.unknownCertificate,
      `The certificate with serial ${presented.serialNumber} is not the one this CA issued under that serial`,
    );
  }
  let clientCertificate: boolean;
  try {
    clientCertificate = isClientAuthCertificate(issued.certificatePem);
  } catch {
    clientCertificate = false;
  }
  if (!clientCertificate) {
    throw new AuthenticationError(
      MACHINE_RULES.notClientCertificate,
      `Certificate ${issued.certificateId} is not a TLS client certificate (no extendedKeyUsage clientAuth); ask for a certificate of profile "client"`,
    );
  }
  if (presented.subjectCommonName !== issued.partyId || !subjectNamesParty(issued.subject, issued.partyId)) {
    throw new AuthenticationError(MACHINE_RULES.subjectMismatch, `The certificate's CN does not name the party ${issued.partyId} it was issued to`);
  }
  if (state.status === 'revoked') {
    throw new AuthenticationError(MACHINE_RULES.revoked, `Certificate ${issued.certificateId} was revoked at ${state.revokedAt}`);
  }
  const moment = now.getTime();
  if (moment < Date.parse(issued.notBefore)) {
    throw new AuthenticationError(MACHINE_RULES.notYetValid, `Certificate ${issued.certificateId} is valid from ${issued.notBefore}`);
  }
  // notAfter is inclusive, at the second (RFC 5280 §4.1.2.5), as CertificateAuthority.verify reads it.
  if (moment >= Date.parse(issued.notAfter) + 1000) {
    throw new AuthenticationError(MACHINE_RULES.expired, `Certificate ${issued.certificateId} expired at ${issued.notAfter}`);
  }
  const key = party.status === 'registered' && party.partyId === issued.partyId ? party.keys[issued.keyId] : undefined;
  if (!key || key.revokedAt !== null) {
    throw new AuthenticationError(
      MACHINE_RULES.keyRevoked,
      key
        ? `The key of certificate ${issued.certificateId} was revoked in the directory at ${key.revokedAt}`
        : `The key of certificate ${issued.certificateId} is not in the directory`,
    );
  }
  return { kind: 'machine', partyId: issued.partyId, certificateSerial: issued.serialNumber };
}

/**
 * Machines (processing operators, partners) calling over mutual TLS: maps the client certificate to the directory
 * party the CA certified. Registered with the AuthenticatorRegistry at start-up when the certifier runs in the process.
 * Every call reads the certificate's stream and the party's stream from the event store (current state, no cache):
 * a revocation recorded by `POST /certificates/:id/revocation` refuses the next call.
 */
@Injectable()
export class CertificateMachineAuthenticator implements MachineAuthenticator, OnModuleInit {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    // Absent only in test modules without the AuthModule: nothing to register with then.
    @Optional() private readonly registry?: AuthenticatorRegistry,
  ) {}

  onModuleInit(): void {
    this.registry?.registerMachines(this);
  }

  async authenticate(presented: PresentedCertificate): Promise<MachinePrincipal> {
    const certificateId = certificateIdForSerial(presented.serialNumber);
    if (certificateId === undefined) {
      throw new AuthenticationError(MACHINE_RULES.unknownCertificate, `No client certificate with serial ${presented.serialNumber} was issued by this CA`);
    }
    const recordedCertificate = await this.store.readStream(streamIdOf(CERTIFICATE_CATEGORY, certificateId));
    const state = foldEvents(
      certificateDecider,
      recordedCertificate.map(({ event }) => event as CertificateEvent),
    );
    let party: PartyKeys = { status: 'unknown' };
    if (state.status === 'issued' || state.status === 'revoked') {
      const recorded = await this.store.readStream(streamIdOf(PARTY_CATEGORY, state.certificate.partyId));
      party = partyKeysOf(eventsOf(PARTY_CATEGORY, recorded));
    }
    return machinePrincipalFor(presented, state, party, this.clock.now());
  }
}
