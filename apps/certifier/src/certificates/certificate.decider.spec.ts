import type {
  CertificateIssued,
  CertificateRevoked,
  CertificationAuthorityEstablished,
  CertifierSigningCertificateIssued,
  DomainError,
  PartyEvent,
} from '@sigillum/contracts';
import type { IssuedCertificate } from '@sigillum/crypto';
import { deciderSpecification } from '@sigillum/testing/decider-specification';
import {
  certifiableKey,
  certificateDecider,
  certificateSubjectOf,
  type EstablishCertificationAuthority,
  keyUseFor,
  subjectNamesParty,
  type IssueCertificate,
  type RecordCertifierSigningCertificate,
  type RevokeCertificate,
} from './certificate.decider';
import { partyKeysOf } from './party-keys';

const now = new Date('2026-11-25T08:00:00.000Z');
const at = '2026-11-25T08:00:00.000Z';
const spec = deciderSpecification(certificateDecider);

const establish: EstablishCertificationAuthority = {
  type: 'EstablishCertificationAuthority',
  caId: '0123456789abcdef',
  subject: 'CN=Sigillum Certifier CA,O=Sigillum',
  certificatePem: '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n',
  fingerprint: '0123456789abcdef'.padEnd(64, '0'),
  notBefore: at,
  notAfter: '2036-11-22T08:00:00.000Z',
  now,
};
const established: CertificationAuthorityEstablished = {
  type: 'CertificationAuthorityEstablished',
  version: 1,
  data: {
    caId: establish.caId,
    subject: establish.subject,
    certificatePem: establish.certificatePem,
    fingerprint: establish.fingerprint,
    notBefore: establish.notBefore,
    notAfter: establish.notAfter,
    establishedAt: at,
  },
};

const partyEvents = (...more: PartyEvent[]): PartyEvent[] => [
  { type: 'PartyRegistered', version: 1, data: { partyId: 'p1', kind: 'person', displayName: 'Ada Lovelace', registeredAt: at } },
  {
    type: 'PublicKeyRegistered',
    version: 1,
    data: { partyId: 'p1', keyId: 'k-sig', algorithm: 'Ed25519', use: 'signature', publicKeyPem: 'PEM-SIG', fingerprint: 'f1', registeredAt: at },
  },
  {
    type: 'PublicKeyRegistered',
    version: 1,
    data: { partyId: 'p1', keyId: 'k-enc', algorithm: 'X25519', use: 'encryption', publicKeyPem: 'PEM-ENC', fingerprint: 'f2', registeredAt: at },
  },
  ...more,
];
const revokedSig: PartyEvent = { type: 'PublicKeyRevoked', version: 1, data: { partyId: 'p1', keyId: 'k-sig', reason: 'lost', revokedAt: at } };

const certificate: IssuedCertificate = {
  certificatePem: '-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n',
  serialNumber: '01ab',
  fingerprint: 'a'.repeat(64),
  subject: 'CN=Ada Lovelace,OU=p1',
  issuer: establish.subject,
  notBefore: at,
  notAfter: '2027-11-25T08:00:00.000Z',
};
const issue = (overrides: Partial<IssueCertificate> = {}): IssueCertificate => ({
  type: 'IssueCertificate',
  certificateId: 'c1',
  partyId: 'p1',
  keyId: 'k-sig',
  profile: 'signing',
  party: partyKeysOf(partyEvents()),
  certificate,
  now,
  ...overrides,
});
const issued: CertificateIssued = {
  type: 'CertificateIssued',
  version: 1,
  data: {
    certificateId: 'c1',
    partyId: 'p1',
    keyId: 'k-sig',
    serialNumber: '01ab',
    subject: certificate.subject,
    issuer: certificate.issuer,
    certificatePem: certificate.certificatePem,
    fingerprint: certificate.fingerprint,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    issuedAt: at,
  },
};

const codeOf = (check: (code: string) => void) => (error: Error) => check((error as DomainError).code);

describe('certificate decider', () => {
  describe('the CA stream', () => {
    it('given nothing, when established, then CertificationAuthorityEstablished', () => {
      spec.given([]).when(establish).then([established]);
    });

    it('given it is established, when established again with the same certificate, then nothing happens', () => {
      spec.given([established]).when(establish).thenNothingHappens();
    });

    it('given it is established, when established with another certificate, then it is a conflict', () => {
      spec
        .given([established])
        .when({ ...establish, fingerprint: 'f'.repeat(64) })
        .thenThrows(codeOf((code) => expect(code).toBe('CERTIFIER.CA_ALREADY_ESTABLISHED')));
    });

    const recordSigning = (fingerprint = 'b'.repeat(64)): RecordCertifierSigningCertificate => ({
      type: 'RecordCertifierSigningCertificate',
      certificate: {
        caId: establish.caId,
        keyId: 'c'.repeat(64),
        serialNumber: '02cd',
        subject: 'CN=Sigillum certifier signing, O=Sigillum',
        certificatePem: '-----BEGIN CERTIFICATE-----\nSIGNER\n-----END CERTIFICATE-----\n',
        fingerprint,
        notBefore: at,
        notAfter: '2029-02-27T08:00:00.000Z',
      },
      now,
    });
    const signingRecorded = (fingerprint = 'b'.repeat(64)): CertifierSigningCertificateIssued => ({
      type: 'CertifierSigningCertificateIssued',
      version: 1,
      data: { ...recordSigning(fingerprint).certificate, recordedAt: at },
    });

    it("given it is established, when the certifier's signing certificate is recorded, then CertifierSigningCertificateIssued", () => {
      spec.given([established]).when(recordSigning()).then([signingRecorded()]);
    });

    it('given the signing certificate is recorded, when recorded again (every start), then nothing happens; a rotated one is recorded beside it', () => {
      spec.given([established, signingRecorded()]).when(recordSigning()).thenNothingHappens();
      spec
        .given([established, signingRecorded()])
        .when(recordSigning('d'.repeat(64)))
        .then([signingRecorded('d'.repeat(64))]);
      spec
        .given([established, signingRecorded(), signingRecorded('d'.repeat(64))])
        .when(recordSigning())
        .thenNothingHappens();
    });

    it('given no CA (or another CA), when a signing certificate is recorded, then it is refused', () => {
      spec
        .given([])
        .when(recordSigning())
        .thenThrows(codeOf((code) => expect(code).toBe('CERTIFIER.CA_NOT_ESTABLISHED')));
      spec
        .given([{ ...established, data: { ...established.data, caId: 'another' } }])
        .when(recordSigning())
        .thenThrows(codeOf((code) => expect(code).toBe('CERTIFIER.CA_NOT_ESTABLISHED')));
    });

    it('never carries a private key', () => {
      expect(JSON.stringify(certificateDecider.decide(establish, certificateDecider.initialState()))).not.toMatch(/PRIVATE KEY/);
    });
  });

  describe('a certificate stream', () => {
    it('given nothing, when a registered key is certified, then CertificateIssued', () => {
      spec.given([]).when(issue()).then([issued]);
    });

    it('certifies an encryption key under the encryption profile', () => {
      const [event] = certificateDecider.decide(issue({ keyId: 'k-enc', profile: 'encryption' }), certificateDecider.initialState());
      expect(event).toMatchObject({ type: 'CertificateIssued', data: { keyId: 'k-enc' } });
    });

    it('certifies a signature key under the client profile when the subject CN is the party id', () => {
      const client = { ...certificate, subject: 'CN=p1,O=Ada Lovelace' };
      const [event] = certificateDecider.decide(issue({ profile: 'client', certificate: client }), certificateDecider.initialState());
      expect(event).toMatchObject({ type: 'CertificateIssued', version: 1, data: { keyId: 'k-sig', subject: 'CN=p1,O=Ada Lovelace' } });
      expect(Object.keys(event.data)).not.toContain('profile'); // the event shape stays version 1
    });

    it('refuses a client certificate whose CN is not the party id (the machine authenticator maps by it)', () => {
      spec
        .given([])
        .when(issue({ profile: 'client' }))
        .thenThrows(codeOf((code) => expect(code).toBe('CERTIFIER.CERTIFICATE_SUBJECT_MISMATCH')));
      spec
        .given([])
        .when(issue({ profile: 'client', certificate: { ...certificate, subject: 'CN=p10,O=Other' } }))
        .thenThrows(codeOf((code) => expect(code).toBe('CERTIFIER.CERTIFICATE_SUBJECT_MISMATCH')));
    });

    it('refuses an encryption key under the client profile (invalid)', () => {
      spec
        .given([])
        .when(issue({ profile: 'client', keyId: 'k-enc', certificate: { ...certificate, subject: 'CN=p1' } }))
        .thenThrows(codeOf((code) => expect(code).toBe('CERTIFIER.KEY_PROFILE_MISMATCH')));
      expect(keyUseFor('client')).toBe('signature');
    });

    it('given it is issued, when the same certificate is recorded again, then nothing happens', () => {
      spec.given([issued]).when(issue()).thenNothingHappens();
    });

    it('given it is issued, when another certificate comes under the same id, then it is a conflict', () => {
      spec
        .given([issued])
        .when(issue({ certificate: { ...certificate, fingerprint: 'b'.repeat(64) } }))
        .thenThrows(codeOf((code) => expect(code).toBe('CERTIFIER.CERTIFICATE_EXISTS')));
    });

    it('refuses an unknown party (not found)', () => {
      spec
        .given([])
        .when(issue({ party: partyKeysOf([]) }))
        .thenThrows((error) => {
          expect((error as DomainError).code).toBe('CERTIFIER.PARTY_NOT_FOUND');
          expect((error as DomainError).kind).toBe('not-found');
        });
    });

    it('refuses an unknown key (not found)', () => {
      spec
        .given([])
        .when(issue({ keyId: 'k-other' }))
        .thenThrows((error) => {
          expect((error as DomainError).code).toBe('CERTIFIER.KEY_NOT_FOUND');
          expect((error as DomainError).kind).toBe('not-found');
        });
    });

    it('refuses a revoked key (conflict), with the rule', () => {
      spec
        .given([])
        .when(issue({ party: partyKeysOf(partyEvents(revokedSig)) }))
        .thenThrows((error) => {
          expect((error as DomainError).code).toBe('CERTIFIER.KEY_REVOKED');
          expect((error as DomainError).kind).toBe('conflict');
          expect((error as DomainError).reasons).toEqual([expect.objectContaining({ rule: 'key.revoked', partyId: 'p1' })]);
        });
    });

    it.each([
      ['k-enc', 'signing'],
      ['k-enc', 'tsa'],
      ['k-sig', 'encryption'],
    ] as const)('refuses key %s for the %s profile (invalid)', (keyId, profile) => {
      spec
        .given([])
        .when(issue({ keyId, profile }))
        .thenThrows((error) => {
          expect((error as DomainError).code).toBe('CERTIFIER.KEY_PROFILE_MISMATCH');
          expect((error as DomainError).kind).toBe('invalid');
        });
    });

    describe('revocation', () => {
      const revokeCommand: RevokeCertificate = { type: 'RevokeCertificate', certificateId: 'c1', reason: 'key compromise', now };
      const revokedEvent: CertificateRevoked = {
        type: 'CertificateRevoked',
        version: 1,
        data: { certificateId: 'c1', reason: 'key compromise', revokedAt: at },
      };

      it('given an issued certificate, when it is revoked, then CertificateRevoked with the reason and the time', () => {
        spec.given([issued]).when(revokeCommand).then([revokedEvent]);
      });

      it('given a revoked certificate, when it is revoked again (another reason, later), then nothing happens: the first revocation stands', () => {
        spec
          .given([issued, revokedEvent])
          .when({ ...revokeCommand, reason: 'superseded', now: new Date('2026-12-01T00:00:00.000Z') })
          .thenNothingHappens();
      });

      it('given nothing (or a CA stream), when revoked, then it is not found', () => {
        for (const history of [[], [established]]) {
          spec
            .given(history)
            .when(revokeCommand)
            .thenThrows((error) => {
              expect((error as DomainError).code).toBe('CERTIFIER.CERTIFICATE_NOT_FOUND');
              expect((error as DomainError).kind).toBe('not-found');
            });
        }
      });
    });

    it('given a certificate, when it is revoked, then the state says so', () => {
      const revoked = { type: 'CertificateRevoked', version: 1, data: { certificateId: 'c1', reason: 'key compromise', revokedAt: at } } as const;
      const state = [issued, revoked].reduce(certificateDecider.evolve, certificateDecider.initialState());
      expect(state).toEqual({ status: 'revoked', certificate: issued.data, reason: 'key compromise', revokedAt: at });
    });
  });
});

describe('party keys', () => {
  it('follows registration, renaming and revocation', () => {
    const party = partyKeysOf(partyEvents(revokedSig, { type: 'PartyRenamed', version: 1, data: { partyId: 'p1', displayName: 'Ada King', renamedAt: at } }));
    expect(party).toMatchObject({ status: 'registered', displayName: 'Ada King' });
    if (party.status !== 'registered') throw new Error('registered expected');
    expect(party.keys['k-sig'].revokedAt).toBe(at);
    expect(party.keys['k-enc'].revokedAt).toBeNull();
  });

  it('keeps the first revocation time', () => {
    const later = { ...revokedSig, data: { ...revokedSig.data, revokedAt: '2027-01-01T00:00:00.000Z' } } as PartyEvent;
    const party = partyKeysOf(partyEvents(revokedSig, later));
    expect(party.status === 'registered' && party.keys['k-sig'].revokedAt).toBe(at);
  });

  it('gives the certifiable key', () => {
    expect(certifiableKey(partyKeysOf(partyEvents()), 'p1', 'k-sig', 'tsa')).toMatchObject({ keyId: 'k-sig', publicKeyPem: 'PEM-SIG' });
  });
});

describe('certificate subject', () => {
  const registered = (displayName: string) => {
    const party = partyKeysOf([{ type: 'PartyRegistered', version: 1, data: { partyId: 'p1', kind: 'organisation', displayName, registeredAt: at } }]);
    if (party.status !== 'registered') throw new Error('registered expected');
    return party;
  };

  it('names the party and its id', () => {
    expect(certificateSubjectOf(registered('Acme SA'))).toEqual({ commonName: 'Acme SA', organisationalUnit: 'p1' });
  });

  it('cuts a long name to 64 characters and drops control characters', () => {
    expect(certificateSubjectOf(registered(`A\u0007B ${'x'.repeat(100)}`)).commonName).toBe(`A B ${'x'.repeat(60)}`);
  });

  it('falls back to the party id when the name is blank', () => {
    expect(certificateSubjectOf(registered('\u0001')).commonName).toBe('p1');
  });

  it('names a client certificate by the party id (CN) and its name (O)', () => {
    expect(certificateSubjectOf(registered('Acme SA'), 'client')).toEqual({ commonName: 'p1', organisation: 'Acme SA' });
    expect(certificateSubjectOf(registered(`A\u0007B ${'x'.repeat(100)}`), 'client').organisation).toBe(`A B ${'x'.repeat(60)}`);
    expect(certificateSubjectOf(registered('\u0001'), 'client')).toEqual({ commonName: 'p1' });
  });

  it('tells whether an RFC 4514 subject names the party by its CN', () => {
    expect(subjectNamesParty('CN=p1', 'p1')).toBe(true);
    expect(subjectNamesParty('CN=p1,O=Acme SA', 'p1')).toBe(true);
    expect(subjectNamesParty('CN=p10,O=Acme SA', 'p1')).toBe(false);
    expect(subjectNamesParty('CN=Acme SA,OU=p1', 'p1')).toBe(false);
    expect(subjectNamesParty('O=p1', 'p1')).toBe(false);
  });
});
