import type { DeliveredMessage, RecordedEvent } from '@sigillum/contracts';
import type { EventStore } from '@sigillum/eventstore';
import Database from 'better-sqlite3';
import { KnownCertificates } from './known-certificates';

const PEM = (n: number) => `-----BEGIN CERTIFICATE-----\nMII${n}\n-----END CERTIFICATE-----\n`;
const fp = (n: number) => n.toString(16).padStart(64, '0');

function issuedData(n: number) {
  return {
    certificateId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    partyId: 'p',
    keyId: 'k',
    serialNumber: '01',
    subject: 'CN=x',
    issuer: 'CN=ca',
    certificatePem: PEM(n),
    fingerprint: fp(n),
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2027-01-01T00:00:00.000Z',
    issuedAt: '2026-01-01T00:00:00.000Z',
  };
}

const recorded = (position: number, streamId: string, type: string, data: unknown): RecordedEvent =>
  ({ streamId, streamRevision: 0, globalPosition: BigInt(position), event: { type, version: 1, data }, metadata: {} }) as unknown as RecordedEvent;

function storeOf(events: RecordedEvent[]): EventStore & { reads: number } {
  const store = {
    reads: 0,
    async readAll(options: { after?: bigint; maxCount?: number } = {}) {
      store.reads++;
      return events.filter((event) => options.after === undefined || event.globalPosition > options.after).slice(0, options.maxCount ?? events.length);
    },
  };
  return store as unknown as EventStore & { reads: number };
}

describe('KnownCertificates: the certificates the CA issued, by fingerprint (what x5t#S256 names)', () => {
  it('knows what it was told at issue, what the consumer applied, and keeps it in the local file across instances', () => {
    const db = new Database(':memory:');
    const known = new KnownCertificates(db, storeOf([]));
    known.recordIssued(fp(1), PEM(1));
    const message = {
      id: 'e2',
      topic: 'sigillum.certificate.events',
      partition: 0,
      offset: '0',
      type: 'sigillum.certificate.CertificateIssued',
      dataVersion: 1,
      data: issuedData(2),
    } as unknown as DeliveredMessage;
    known.apply(message);
    expect(known.certificatePemOf(fp(1))).toBe(PEM(1));
    expect(known.certificatePemOf(fp(3))).toBeUndefined();
    const again = new KnownCertificates(db, storeOf([]));
    expect(again.certificatePemOf(fp(1))).toBe(PEM(1));
  });

  it('looks a missing fingerprint up in the log once, from where the last look stopped', async () => {
    const events = [
      recorded(1, 'certificate-a', 'CertificateIssued', issuedData(5)),
      recorded(2, 'party-b', 'PublicKeyRegistered', { fingerprint: fp(6), certificatePem: PEM(6) }),
    ];
    const store = storeOf(events);
    const known = new KnownCertificates(new Database(':memory:'), store);
    await known.ensureKnown([fp(5)]);
    expect(known.certificatePemOf(fp(5))).toBe(PEM(5));
    // Not a CertificateIssued of a certificate stream: never taken.
    await known.ensureKnown([fp(6)]);
    expect(known.certificatePemOf(fp(6))).toBeUndefined();
    const reads = store.reads;
    events.push(recorded(3, 'certificate-c', 'CertificateIssued', issuedData(7)));
    await known.ensureKnown([fp(7), fp(5)]);
    expect(known.certificatePemOf(fp(7))).toBe(PEM(7));
    expect(store.reads).toBe(reads + 1);
  });
});
