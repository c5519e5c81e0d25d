import {
  assertNever,
  type CertificateIssued,
  type CertificateRevoked,
  type CertificationAuthorityEstablished,
  type CertifierSigningCertificateIssued,
  type Decider,
  DomainError,
} from '@sigillum/contracts';
import { type CertificateProfile, type DistinguishedName, type IssuedCertificate, profileKeyProblem } from '@sigillum/crypto/ca-model';
import type { PartyKey, PartyKeys } from './party-keys';

/**
 * Streams `ca-<caId>` (the CA, established once) and `certificate-<certificateId>` (one issued certificate).
 * Signing is done before deciding (it needs the CA key, an effect); the decider judges the facts and records them.
 */

export type CertificateEvent = CertificationAuthorityEstablished | CertifierSigningCertificateIssued | CertificateIssued | CertificateRevoked;

//////// Commands

export type EstablishCertificationAuthority = {
  readonly type: 'EstablishCertificationAuthority';
  readonly caId: string;
  readonly subject: string;
  readonly certificatePem: string;
  readonly fingerprint: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly now: Date;
};

/** Records the certifier's own signing certificate on the CA's stream (a no-op when that certificate is recorded). */
export type RecordCertifierSigningCertificate = {
  readonly type: 'RecordCertifierSigningCertificate';
  readonly certificate: Omit<CertifierSigningCertificateIssued['data'], 'recordedAt'>;
  readonly now: Date;
};

export type IssueCertificate = {
  readonly type: 'IssueCertificate';
  readonly certificateId: string;
  readonly partyId: string;
  readonly keyId: string;
  readonly profile: CertificateProfile;
  /** The party's directory facts the certificate was issued on. */
  readonly party: PartyKeys;
  readonly certificate: IssuedCertificate;
  readonly now: Date;
};

/** Revokes an issued certificate: relying parties refuse signatures under it from `now` on. */
export type RevokeCertificate = {
  readonly type: 'RevokeCertificate';
  readonly certificateId: string;
  readonly reason: string;
  readonly now: Date;
};

export type CertificateCommand = EstablishCertificationAuthority | RecordCertifierSigningCertificate | IssueCertificate | RevokeCertificate;

//////// State

export type CertificateState =
  | { readonly status: 'none' }
  | {
      readonly status: 'established';
      readonly caId: string;
      readonly fingerprint: string;
      /** Fingerprints of the certifier's signing certificates recorded on the CA's stream. */
      readonly signingCertificates: readonly string[];
    }
  | { readonly status: 'issued'; readonly certificate: CertificateIssued['data'] }
  | { readonly status: 'revoked'; readonly certificate: CertificateIssued['data']; readonly reason: string; readonly revokedAt: string };

//////// Rules shared with the controller (checked before signing, and again when deciding)

/** The directory use a key must be registered for to carry a certificate of `profile`. */
export function keyUseFor(profile: CertificateProfile): PartyKey['use'] {
  switch (profile) {
    case 'signing':
    case 'tsa':
    case 'client':
      return 'signature';
    case 'encryption':
      return 'encryption';
    default:
      return assertNever(profile, 'certificate profile');
  }
}

/** The key to certify, or the DomainError that says why it cannot be: unknown party or key (404), revoked (409), wrong use (400). */
export function certifiableKey(party: PartyKeys, partyId: string, keyId: string, profile: CertificateProfile): PartyKey {
  if (party.status !== 'registered') {
    throw new DomainError('CERTIFIER.PARTY_NOT_FOUND', `Party ${partyId} is not registered in the directory`, 'not-found', [
      { rule: 'party.unknown', message: 'no such party in the directory', partyId },
    ]);
  }
  const key = party.keys[keyId];
  if (!key) {
    throw new DomainError('CERTIFIER.KEY_NOT_FOUND', `Party ${partyId} has no public key ${keyId}; register it in the directory first`, 'not-found', [
      { rule: 'key.unknown', message: 'no such key for this party', partyId },
    ]);
  }
  if (key.revokedAt !== null) {
    throw new DomainError('CERTIFIER.KEY_REVOKED', `Key ${keyId} of party ${partyId} was revoked at ${key.revokedAt}; register a new key`, 'conflict', [
      { rule: 'key.revoked', message: `the key was revoked at ${key.revokedAt}`, partyId },
    ]);
  }
  const use = keyUseFor(profile);
  const problem =
    key.use !== use
      ? `a ${profile} certificate needs a key registered for ${use}, and key ${keyId} is for ${key.use}`
      : profileKeyProblem(profile, key.algorithm);
  if (problem) {
    throw new DomainError('CERTIFIER.KEY_PROFILE_MISMATCH', `Key ${keyId} cannot carry a ${profile} certificate: ${problem}`, 'invalid', [
      { rule: 'key.profile', message: problem, partyId },
    ]);
  }
  return key;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]+/g;

/**
 * The certificate subject of a party: CN = its display name (cut to the X.520 limit of 64), OU = its party id.
 * A `client` certificate (mutual TLS) is the exception: CN = the party id (what the machine authenticator maps to the
 * directory party), O = the display name.
 */
export function certificateSubjectOf(party: Extract<PartyKeys, { status: 'registered' }>, profile: CertificateProfile = 'signing'): DistinguishedName {
  const name = party.displayName.replace(CONTROL, ' ').trim();
  if (profile === 'client') {
    return name.length > 0 ? { commonName: party.partyId, organisation: [...name].slice(0, 64).join('').trim() } : { commonName: party.partyId };
  }
  const commonName = [...(name.length > 0 ? name : party.partyId)].slice(0, 64).join('').trim();
  return { commonName, organisationalUnit: party.partyId };
}

/** The RFC 4514 subject a client certificate of `partyId` starts with: its CN, which names the directory party. */
export const clientSubjectPrefix = (partyId: string): string => `CN=${partyId}`;

/** Whether an RFC 4514 subject's CN (most specific first) is exactly `partyId`. */
export function subjectNamesParty(subject: string, partyId: string): boolean {
  const prefix = clientSubjectPrefix(partyId);
  return subject === prefix || subject.startsWith(`${prefix},`);
}

//////// Decisions

function establish(command: EstablishCertificationAuthority, state: CertificateState): CertificationAuthorityEstablished[] {
  if (state.status === 'established') {
    if (state.fingerprint === command.fingerprint) return [];
    throw new DomainError('CERTIFIER.CA_ALREADY_ESTABLISHED', `Another certificate is already recorded for CA ${command.caId}`);
  }
  if (state.status !== 'none') throw new DomainError('CERTIFIER.STREAM_MISMATCH', `Stream of CA ${command.caId} holds a certificate`);
  const { caId, subject, certificatePem, fingerprint, notBefore, notAfter } = command;
  return [
    {
      type: 'CertificationAuthorityEstablished',
      version: 1,
      data: { caId, subject, certificatePem, fingerprint, notBefore, notAfter, establishedAt: command.now.toISOString() },
    },
  ];
}

function recordSigningCertificate(command: RecordCertifierSigningCertificate, state: CertificateState): CertifierSigningCertificateIssued[] {
  const { certificate } = command;
  if (state.status !== 'established' || state.caId !== certificate.caId) {
    throw new DomainError('CERTIFIER.CA_NOT_ESTABLISHED', `CA ${certificate.caId} is not recorded: establish it before its signing certificate`);
  }
  if (state.signingCertificates.includes(certificate.fingerprint)) return [];
  return [{ type: 'CertifierSigningCertificateIssued', version: 1, data: { ...certificate, recordedAt: command.now.toISOString() } }];
}

function issue(command: IssueCertificate, state: CertificateState): CertificateIssued[] {
  if (state.status === 'issued' || state.status === 'revoked') {
    // A retried append of the same certificate is a no-op; anything else under this id is a conflict.
    if (state.certificate.fingerprint === command.certificate.fingerprint) return [];
    throw new DomainError('CERTIFIER.CERTIFICATE_EXISTS', `Certificate ${command.certificateId} already exists`);
  }
  if (state.status !== 'none') throw new DomainError('CERTIFIER.STREAM_MISMATCH', `Stream of certificate ${command.certificateId} holds a CA`);
  certifiableKey(command.party, command.partyId, command.keyId, command.profile);
  if (command.profile === 'client' && !subjectNamesParty(command.certificate.subject, command.partyId)) {
    // The machine authenticator maps a client certificate to the party its CN names: it must be this party.
    throw new DomainError(
      'CERTIFIER.CERTIFICATE_SUBJECT_MISMATCH',
      `A client certificate of party ${command.partyId} must have CN=${command.partyId}`,
      'invalid',
      [{ rule: 'subject.party', message: `the subject ${command.certificate.subject} does not name the party by its CN`, partyId: command.partyId }],
    );
  }
  const { serialNumber, subject, issuer, certificatePem, fingerprint, notBefore, notAfter } = command.certificate;
  return [
    {
      type: 'CertificateIssued',
      version: 1,
      data: {
        certificateId: command.certificateId,
        partyId: command.partyId,
        keyId: command.keyId,
        serialNumber,
        subject,
        issuer,
        certificatePem,
        fingerprint,
        notBefore,
        notAfter,
        issuedAt: command.now.toISOString(),
      },
    },
  ];
}

function revoke(command: RevokeCertificate, state: CertificateState): CertificateRevoked[] {
  // Revocation is final: a second request keeps the first revocation (its time and reason) and records nothing.
  if (state.status === 'revoked') return [];
  if (state.status !== 'issued') throw new DomainError('CERTIFIER.CERTIFICATE_NOT_FOUND', `No certificate ${command.certificateId}`, 'not-found');
  return [
    {
      type: 'CertificateRevoked',
      version: 1,
      data: { certificateId: command.certificateId, reason: command.reason, revokedAt: command.now.toISOString() },
    },
  ];
}

export function decide(command: CertificateCommand, state: CertificateState): CertificateEvent[] {
  switch (command.type) {
    case 'EstablishCertificationAuthority':
      return establish(command, state);
    case 'RecordCertifierSigningCertificate':
      return recordSigningCertificate(command, state);
    case 'IssueCertificate':
      return issue(command, state);
    case 'RevokeCertificate':
      return revoke(command, state);
    default:
      return assertNever(command, 'certificate command');
  }
}

export function evolve(state: CertificateState, event: CertificateEvent): CertificateState {
  switch (event.type) {
    case 'CertificationAuthorityEstablished':
      return { status: 'established', caId: event.data.caId, fingerprint: event.data.fingerprint, signingCertificates: [] };
    case 'CertifierSigningCertificateIssued':
      return state.status === 'established' ? { ...state, signingCertificates: [...state.signingCertificates, event.data.fingerprint] } : state;
    case 'CertificateIssued':
      return { status: 'issued', certificate: event.data };
    case 'CertificateRevoked':
      return state.status === 'issued'
        ? { status: 'revoked', certificate: state.certificate, reason: event.data.reason, revokedAt: event.data.revokedAt }
        : state;
    default:
      return assertNever(event, 'certificate event');
  }
}

export const initialState = (): CertificateState => ({ status: 'none' });

export const certificateDecider: Decider<CertificateCommand, CertificateState, CertificateEvent> = { decide, evolve, initialState };
