import { createHash, type KeyObject, randomBytes, sign as cryptoSign } from 'node:crypto';
import * as forge from 'node-forge';
import type { KeyAlgorithm } from '@sigillum/contracts';
import { CertificateRequestError, type CertificateProfile, type DistinguishedName, EXTENDED_KEY_USAGE } from './ca-model';
import { algorithmOf, spkiDerOf, toPublicKey } from './keys';
import { type Asn1, bin, derToPem, fromDer, oid, seq, toDer } from './timestamp/der';

/**
 * X.509 v3 encoding for the CA (node-forge asn1, signed by node:crypto): names, extensions and profiles, serials,
 * validity, server names, and the TBSCertificate signed into a certificate.
 */

const { asn1 } = forge;

//////// OIDs

export const OID = {
  commonName: '2.5.4.3',
  organisation: '2.5.4.10',
  organisationalUnit: '2.5.4.11',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  timeStamping: EXTENDED_KEY_USAGE.timeStamping,
  clientAuth: EXTENDED_KEY_USAGE.clientAuth,
  serverAuth: EXTENDED_KEY_USAGE.serverAuth,
  subjectAltName: '2.5.29.17',
} as const;

const SHORT_NAME_OF_OID: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '0.9.2342.19200300.100.1.1': 'UID',
};

/** keyUsage bits, first octet (RFC 5280 §4.2.1.3). */
export const KU = { digitalSignature: 0x80, nonRepudiation: 0x40, keyEncipherment: 0x20, keyAgreement: 0x08, keyCertSign: 0x04, cRLSign: 0x02 } as const;

//////// ASN.1 helpers beyond ./timestamp/der (node-forge)

export const U = asn1.Class.UNIVERSAL;
export const T = asn1.Type;

function time(date: Date): Asn1 {
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

const SHA256_WITH_RSA = (): Asn1 => seq([oid(OID.sha256WithRSAEncryption), asn1.create(U, T.NULL, false, '')]);

export function nameAsn1(dn: DistinguishedName): Asn1 {
  // DER order is most general first; the RFC 4514 string reverses it.
  const attributes: [string, string | undefined][] = [
    [OID.organisation, dn.organisation],
    [OID.organisationalUnit, dn.organisationalUnit],
    [OID.commonName, dn.commonName],
  ];
  return seq(
    attributes
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([type, value]) => asn1.create(U, T.SET, true, [seq([oid(type), asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(value))])])),
  );
}

function escapeRdnValue(value: string): string {
  let escaped = value.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
  if (/^[ #]/.test(escaped)) escaped = `\\${escaped}`;
  if (/ $/.test(escaped)) escaped = `${escaped.slice(0, -1)}\\ `;
  return escaped;
}

function decodeNameValue(node: Asn1): string {
  const raw = node.value as string;
  return node.type === T.UTF8 ? forge.util.decodeUtf8(raw) : node.type === T.BMPSTRING ? Buffer.from(raw, 'binary').swap16().toString('utf16le') : raw;
}

/** RFC 4514 string of an ASN.1 Name, most specific RDN first. */
export function nameToString(name: Asn1): string {
  const rdns = (name.value as Asn1[]).map((set) =>
    (set.value as Asn1[])
      .map((pair) => {
        const [type, value] = pair.value as Asn1[];
        const typeOid = asn1.derToOid(type.value as string);
        return `${SHORT_NAME_OF_OID[typeOid] ?? typeOid}=${escapeRdnValue(decodeNameValue(value))}`;
      })
      .join('+'),
  );
  return rdns.reverse().join(',');
}

/** RFC 4514 string of a DistinguishedName. */
export function distinguishedNameToString(dn: DistinguishedName): string {
  return nameToString(nameAsn1(dn));
}

export function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  const parts = [oid(id)];
  if (critical) parts.push(asn1.create(U, T.BOOLEAN, false, String.fromCharCode(0xff)));
  parts.push(asn1.create(U, T.OCTETSTRING, false, asn1.toDer(value).getBytes()));
  return seq(parts);
}

export function keyUsage(bits: number): Asn1 {
  let unused = 0;
  while (unused < 7 && (bits & (1 << unused)) === 0) unused++;
  return asn1.create(U, T.BITSTRING, false, String.fromCharCode(unused) + String.fromCharCode(bits));
}

/** The subjectPublicKey BIT STRING's bytes inside an SPKI DER (for the key identifier). */
function subjectPublicKeyBytes(spkiDer: Buffer): Buffer {
  const spki = fromDer(spkiDer);
  const bitString = (spki.value as Asn1[])[1];
  if (!bitString || bitString.type !== T.BITSTRING) throw new CertificateRequestError('publicKey.invalid', 'The public key is not a SubjectPublicKeyInfo');
  return Buffer.from(bitString.value as string, 'binary').subarray(1);
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifierOf(publicKey: string | KeyObject): Buffer {
  return createHash('sha1')
    .update(subjectPublicKeyBytes(spkiDerOf(publicKey)))
    .digest();
}

export function pemToDer(pem: string): Buffer {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!match) throw new CertificateRequestError('certificate.unreadable', 'Expected a PEM certificate ("-----BEGIN CERTIFICATE-----")');
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}

export function normaliseSerial(serialNumber: string | undefined): string {
  if (serialNumber === undefined) {
    const bytes = randomBytes(16);
    bytes[0] = (bytes[0] & 0x7f) | 0x01; // positive, no leading zero octet
    return bytes.toString('hex');
  }
  let hex = serialNumber.toLowerCase().replace(/^0x/, '');
  if (!/^[0-9a-f]+$/.test(hex)) throw new CertificateRequestError('serialNumber.hex', 'The serial number must be hexadecimal');
  hex = hex.replace(/^0+/, '');
  if (hex.length === 0) throw new CertificateRequestError('serialNumber.positive', 'The serial number must be positive');
  if (hex.length % 2 === 1) hex = `0${hex}`;
  if (hex.length > 40) throw new CertificateRequestError('serialNumber.length', 'The serial number has at most 20 octets');
  return hex;
}

function serialAsn1(hex: string): Asn1 {
  // A leading octet ≥ 0x80 would read as negative: prefix a zero octet.
  const content = parseInt(hex.slice(0, 2), 16) >= 0x80 ? `00${hex}` : hex;
  return asn1.create(U, T.INTEGER, false, forge.util.hexToBytes(content));
}

export function checkName(dn: DistinguishedName): void {
  const fields: [keyof DistinguishedName, string | undefined][] = [
    ['commonName', dn.commonName],
    ['organisation', dn.organisation],
    ['organisationalUnit', dn.organisationalUnit],
  ];
  for (const [field, value] of fields) {
    if (value === undefined && field !== 'commonName') continue;
    // eslint-disable-next-line no-control-regex
    if (typeof value !== 'string' || value.trim().length === 0 || value.length > 64 || /[\u0000-\u001f\u007f]/.test(value)) {
      throw new CertificateRequestError(`subject.${field}`, `The subject's ${field} must be 1 to 64 printable characters`);
    }
  }
}

export function validityOf(now: Date, validityDays: number, maxDays: number): { notBefore: Date; notAfter: Date } {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new CertificateRequestError('now.invalid', 'The issuing time is not a valid date');
  if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > maxDays) {
    throw new CertificateRequestError('validityDays.range', `The validity must be a whole number of days from 1 to ${maxDays}`);
  }
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + validityDays * 86_400_000) };
}

export function profileExtensions(profile: CertificateProfile, algorithm: KeyAlgorithm): Asn1[] {
  switch (profile) {
    case 'signing':
      return [extension(OID.keyUsage, true, keyUsage(KU.digitalSignature | KU.nonRepudiation))];
    case 'tsa':
      return [extension(OID.keyUsage, true, keyUsage(KU.digitalSignature)), extension(OID.extKeyUsage, true, seq([oid(OID.timeStamping)]))];
    case 'encryption':
      return [extension(OID.keyUsage, true, keyUsage(algorithm === 'X25519' ? KU.keyAgreement : KU.keyEncipherment))];
    case 'client':
      return [extension(OID.keyUsage, true, keyUsage(KU.digitalSignature)), extension(OID.extKeyUsage, false, seq([oid(OID.clientAuth)]))];
    default:
      throw new CertificateRequestError('profile.unknown', `Unknown certificate profile "${String(profile)}"`);
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** The octets of an IP address (4 or 16), or undefined when `name` is not one. */
function ipOctets(name: string): Buffer | undefined {
  if (IPV4.test(name)) return Buffer.from(name.split('.').map(Number));
  if (!name.includes(':')) return undefined;
  const parts = name.split('::');
  if (parts.length > 2) return undefined;
  const groups = (text: string): string[] | undefined => {
    if (text === '') return [];
    const list = text.split(':');
    return list.every((group) => /^[0-9a-f]{1,4}$/i.test(group)) ? list : undefined;
  };
  const head = groups(parts[0]);
  const tail = parts.length === 2 ? groups(parts[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if ((parts.length === 1 && missing !== 0) || (parts.length === 2 && missing < 1)) return undefined;
  const all = [...head, ...Array<string>(parts.length === 2 ? missing : 0).fill('0'), ...tail];
  const octets = Buffer.alloc(16);
  all.forEach((group, index) => octets.writeUInt16BE(parseInt(group, 16), index * 2));
  return octets;
}

/** Whether `name` can be a subjectAltName of a TLS server certificate: a DNS name (wildcard allowed on the left) or an IP address. */
export function isServerName(name: string): boolean {
  return ipOctets(name) !== undefined || (name.length <= 253 && DNS_NAME.test(name));
}

/** subjectAltName: dNSName [2] IA5String for host names, iPAddress [7] OCTET STRING for addresses. */
export function subjectAltNames(names: readonly string[]): Asn1 {
  return seq(
    names.map((name) => {
      const ip = ipOctets(name);
      return ip ? asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, bin(ip)) : asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, name);
    }),
  );
}

interface TbsParts {
  readonly serialHex: string;
  readonly issuer: Asn1;
  readonly subject: Asn1;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spkiDer: Buffer;
  readonly extensions: Asn1[];
}

/** Builds the TBSCertificate (v3, sha256WithRSAEncryption), signs its DER with the CA's RSA key via node:crypto and assembles the certificate. */
export function buildCertificate(parts: TbsParts, signer: KeyObject): { pem: string; der: Buffer } {
  const tbs = seq([
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(U, T.INTEGER, false, asn1.integerToDer(2).getBytes())]),
    serialAsn1(parts.serialHex),
    SHA256_WITH_RSA(),
    parts.issuer,
    seq([time(parts.notBefore), time(parts.notAfter)]),
    parts.subject,
    fromDer(parts.spkiDer),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 3, true, [seq(parts.extensions)]),
  ]);
  const tbsDer = toDer(tbs);
  const signature = cryptoSign('sha256', tbsDer, signer);
  const certificate = seq([fromDer(tbsDer), SHA256_WITH_RSA(), asn1.create(U, T.BITSTRING, false, String.fromCharCode(0) + bin(signature))]);
  const der = toDer(certificate);
  return { pem: derToPem(der), der };
}

/** The algorithm and SPKI DER of a subject's public key, or CertificateRequestError('publicKey.unsupported'). */
export function subjectKeyOf(publicKeyPem: string): { algorithm: KeyAlgorithm; spkiDer: Buffer } {
  try {
    const publicKey = toPublicKey(publicKeyPem);
    if (publicKey.type !== 'public') throw new Error('not a public key');
    return { algorithm: algorithmOf(publicKey), spkiDer: spkiDerOf(publicKey) };
  } catch (error) {
    throw new CertificateRequestError('publicKey.unsupported', (error as Error).message);
  }
}
