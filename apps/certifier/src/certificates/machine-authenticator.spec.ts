import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuthenticationError, type PresentedCertificate } from '@sigillum/auth';
import type { CertificateIssued, PartyEvent, RecordedEvent } from '@sigillum/contracts';
import { CertificateAuthority, type CertificateProfile, FileKeyStore, generateKeyPair } from '@sigillum/crypto';
import type { EventStore } from '@sigillum/eventstore';
import type { CertificateState } from './certificate.decider';
import { serialForCertificateId } from './certificate-serials';
import { CertificateMachineAuthenticator, MACHINE_RULES, machinePrincipalFor } from './machine-authenticator';
import { type PartyKeys, partyKeysOf } from './party-keys';

const issuedAt = new Date('2026-11-25T08:00:00.000Z');
const during = new Date('2026-12-01T00:00:00.000Z');
const partyId = '6f9619ff-8b86-4d01-b42d-00c04fc964ff';
const keyId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const certificateId = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';
const at = issuedAt.toISOString();

describe('machine authentication (client certificate → directory party)', () => {
  let dir: string;
  let ca: CertificateAuthority;
  const key = generateKeyPair('Ed25519');

  function issue(profile: CertificateProfile, commonName = partyId, validityDays = 30): CertificateIssued['data'] {
    const certificate = ca.issue({
      subject: { commonName, organisation: 'Acme Processing' },
      publicKeyPem: key.publicKeyPem,
      profile,
      validityDays,
      now: issuedAt,
      serialNumber: serialForCertificateId(certificateId),
    });
    const { certificatePem, serialNumber, fingerprint, subject, issuer, notBefore, notAfter } = certificate;
    return { certificateId, partyId, keyId, serialNumber, subject, issuer, certificatePem, fingerprint, notBefore, notAfter, issuedAt: at };
  }

  const presentedOf = (data: CertificateIssued['data'], commonName = partyId): PresentedCertificate => ({
    serialNumber: data.serialNumber.replace(/^0+/, ''),
    subjectCommonName: commonName,
    fingerprint256: data.fingerprint,
  });

  const partyEvents = (...more: PartyEvent[]): PartyEvent[] => [
    {
      type: 'PartyRegistered',
      version: 1,
      data: { partyId, kind: 'operator', operatorRole: 'processing', displayName: 'Acme Processing', registeredAt: at },
    } as PartyEvent,
    {
      type: 'PublicKeyRegistered',
      version: 1,
      data: { partyId, keyId, algorithm: 'Ed25519', use: 'signature', publicKeyPem: key.publicKeyPem, fingerprint: key.fingerprint, registeredAt: at },
    },
    ...more,
  ];
  const party = (...more: PartyEvent[]): PartyKeys => partyKeysOf(partyEvents(...more));

  const refusal = (run: () => unknown): string => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(AuthenticationError);
      return (error as AuthenticationError).rule;
    }
    throw new Error('expected a refusal');
  };

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-machine-'));
    const keystore = FileKeyStore.open({ directory: dir, passphrase: 'unit test passphrase' });
    ca = CertificateAuthority.loadOrCreate(keystore, { commonName: 'Sigillum Certifier CA', organisation: 'Sigillum', validityDays: 3650, now: issuedAt }).ca;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('maps a client certificate the CA issued to the party it certified', () => {
    const client = issue('client');
    expect(machinePrincipalFor(presentedOf(client), { status: 'issued', certificate: client }, party(), during)).toEqual({
      kind: 'machine',
      partyId,
      certificateSerial: client.serialNumber,
    });
  });

  it('refuses a serial the CA never issued', () => {
    const client = issue('client');
    expect(refusal(() => machinePrincipalFor(presentedOf(client), { status: 'none' }, party(), during))).toBe(MACHINE_RULES.unknownCertificate);
    expect(
      refusal(() => machinePrincipalFor(presentedOf(client), { status: 'established', caId: 'x', fingerprint: 'y', signingCertificates: [] }, party(), during)),
    ).toBe(MACHINE_RULES.unknownCertificate);
  });

  it('refuses another certificate under an issued serial (fingerprint) or a serial that is not the recorded one', () => {
    const client = issue('client');
    const state: CertificateState = { status: 'issued', certificate: client };
    expect(refusal(() => machinePrincipalFor({ ...presentedOf(client), fingerprint256: 'f'.repeat(64) }, state, party(), during))).toBe(
      MACHINE_RULES.unknownCertificate,
    );
    expect(refusal(() => machinePrincipalFor({ ...presentedOf(client), serialNumber: '1234' }, state, party(), during))).toBe(MACHINE_RULES.unknownCertificate);
    // Colons and upper case in the fingerprint are the same fingerprint.
    const colons = client.fingerprint.toUpperCase().match(/../g)!.join(':');
    expect(machinePrincipalFor({ ...presentedOf(client), fingerprint256: colons }, state, party(), during).partyId).toBe(partyId);
  });

  it('refuses a certificate of the CA that is not for TLS client authentication', () => {
    for (const profile of ['signing', 'tsa'] as const) {
      const other = issue(profile);
      expect(refusal(() => machinePrincipalFor(presentedOf(other), { status: 'issued', certificate: other }, party(), during))).toBe(
        MACHINE_RULES.notClientCertificate,
      );
    }
  });

  it('refuses a CN other than the party the certificate was issued to', () => {
    const client = issue('client');
    const state: CertificateState = { status: 'issued', certificate: client };
    expect(refusal(() => machinePrincipalFor(presentedOf(client, 'someone-else'), state, party(), during))).toBe(MACHINE_RULES.subjectMismatch);
    // A certificate recorded with another subject (e.g. issued before client certificates named the party by CN).
    const named = issue('client', 'Acme Processing');
    expect(refusal(() => machinePrincipalFor(presentedOf(named), { status: 'issued', certificate: named }, party(), during))).toBe(
      MACHINE_RULES.subjectMismatch,
    );
  });

  it('refuses a revoked certificate', () => {
    const client = issue('client');
    const state: CertificateState = { status: 'revoked', certificate: client, reason: 'key compromise', revokedAt: during.toISOString() };
    expect(refusal(() => machinePrincipalFor(presentedOf(client), state, party(), during))).toBe(MACHINE_RULES.revoked);
  });

  it('refuses outside the validity period; both ends are inclusive at the second', () => {
    const client = issue('client', partyId, 1);
    const state: CertificateState = { status: 'issued', certificate: client };
    const notAfter = Date.parse(client.notAfter);
    expect(machinePrincipalFor(presentedOf(client), state, party(), new Date(notAfter + 999)).partyId).toBe(partyId);
    expect(machinePrincipalFor(presentedOf(client), state, party(), issuedAt).partyId).toBe(partyId);
    expect(refusal(() => machinePrincipalFor(presentedOf(client), state, party(), new Date(notAfter + 1000)))).toBe(MACHINE_RULES.expired);
    expect(refusal(() => machinePrincipalFor(presentedOf(client), state, party(), new Date(issuedAt.getTime() - 1)))).toBe(MACHINE_RULES.notYetValid);
  });

  it('refuses when the certified key was revoked in the directory, or the party is not there', () => {
    const client = issue('client');
    const state: CertificateState = { status: 'issued', certificate: client };
    const revokedKey: PartyEvent = { type: 'PublicKeyRevoked', version: 1, data: { partyId, keyId, reason: 'lost', revokedAt: at } };
    expect(refusal(() => machinePrincipalFor(presentedOf(client), state, party(revokedKey), during))).toBe(MACHINE_RULES.keyRevoked);
    expect(refusal(() => machinePrincipalFor(presentedOf(client), state, { status: 'unknown' }, during))).toBe(MACHINE_RULES.keyRevoked);
  });

  describe('CertificateMachineAuthenticator', () => {
    const recorded = (streamId: string, events: object[]): RecordedEvent[] =>
      events.map((event, revision) => ({ event, streamId, revision: BigInt(revision) }) as unknown as RecordedEvent);

    function authenticatorOver(streams: Record<string, object[]>, now = during) {
      const reads: string[] = [];
      const store = {
        readStream: async (streamId: string) => {
          reads.push(streamId);
          return recorded(streamId, streams[streamId] ?? []);
        },
      } as unknown as EventStore;
      return { authenticator: new CertificateMachineAuthenticator(store, { now: () => now }), reads };
    }

    it('reads the certificate named by the serial and the party, at every call (no cache)', async () => {
      const client = issue('client');
      const streams: Record<string, object[]> = {
        [`certificate-${certificateId}`]: [{ type: 'CertificateIssued', version: 1, data: client }],
        [`party-${partyId}`]: partyEvents(),
      };
      const { authenticator, reads } = authenticatorOver(streams);
      await expect(authenticator.authenticate(presentedOf(client))).resolves.toMatchObject({ kind: 'machine', partyId });
      expect(reads).toEqual([`certificate-${certificateId}`, `party-${partyId}`]);
      streams[`certificate-${certificateId}`].push({
        type: 'CertificateRevoked',
        version: 1,
        data: { certificateId, reason: 'key compromise', revokedAt: at },
      });
      await expect(authenticator.authenticate(presentedOf(client))).rejects.toMatchObject({ rule: MACHINE_RULES.revoked });
    });

    it('refuses a serial that cannot name a certificate without reading anything', async () => {
      const { authenticator, reads } = authenticatorOver({});
      await expect(
        authenticator.authenticate({ serialNumber: 'ab'.repeat(20), subjectCommonName: partyId, fingerprint256: 'f'.repeat(64) }),
      ).rejects.toMatchObject({
        rule: MACHINE_RULES.unknownCertificate,
      });
      expect(reads).toEqual([]);
      await expect(authenticator.authenticate({ serialNumber: 'abcd', subjectCommonName: partyId, fingerprint256: 'f'.repeat(64) })).rejects.toMatchObject({
        rule: MACHINE_RULES.unknownCertificate,
      });
    });

    it('registers itself with the registry at start-up', () => {
      const registry = { registerMachines: jest.fn() };
      const authenticator = new CertificateMachineAuthenticator({} as EventStore, { now: () => during }, registry as never);
      authenticator.onModuleInit();
      expect(registry.registerMachines).toHaveBeenCalledWith(authenticator);
    });
  });
});
