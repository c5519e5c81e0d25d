import { createHash, type KeyObject, randomBytes, sign as cryptoSign, X509Certificate } from 'node:crypto';
import * as forge from 'node-forge';
import type { KeyAlgorithm } from '@sigillum/contracts';
import { algorithmOf, spkiDerOf, toPublicKey } from './keys';
import type { FileKeyStore } from './keystore';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

/**
 * What a certificate is for:
 * - `signing`: evidence and report signatures (Ed25519 or RSA): digitalSignature + nonRepudiation;
 * - `tsa`: a time-stamping unit (Ed25519 or RSA): digitalSignature, extendedKeyUsage timeStamping (critical);
 * - `encryption`: keys messages are sealed to (X25519: keyAgreement; RSA: keyEncipherment);
 * - `client`: a machine's TLS client certificate (mutual TLS, Ed25519 or RSA): digitalSignature, extendedKeyUsage
 *   clientAuth; its subject CN is the directory party id the CA certified.
 * A TLS server certificate (serverAuth, subjectAltName) is not a party's profile: see `issueServerCertificate`.
 */
export const CERTIFICATE_PROFILES = ['signing', 'tsa', 'encryption', 'client'] as const;
export type CertificateProfile = (typeof CERTIFICATE_PROFILES)[number];

const ALGORITHMS_OF_PROFILE: Readonly<Record<CertificateProfile, readonly KeyAlgorithm[]>> = {
  signing: ['Ed25519', 'RSA'],
  tsa: ['Ed25519', 'RSA'],
  encryption: ['X25519', 'RSA'],
  client: ['Ed25519', 'RSA'],
};

/** Keys a TLS server certificate may certify. */
const SERVER_ALGORITHMS: readonly KeyAlgorithm[] = ['RSA', 'Ed25519'];

/** extendedKeyUsage purposes (RFC 5280 §4.2.1.12) the CA puts in certificates. */
export const EXTENDED_KEY_USAGE = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  timeStamping: '1.3.6.1.5.5.7.3.8',
} as const;

export interface DistinguishedName {
  readonly commonName: string;
  readonly organisation?: string;
  readonly organisationalUnit?: string;
}

export interface IssueCertificateRequest {
  readonly subject: DistinguishedName;
  /** The subject's public key, SPKI PEM: Ed25519, RSA or X25519. */
  readonly publicKeyPem: string;
  readonly profile: CertificateProfile;
  readonly validityDays: number;
  /** Start of validity (truncated to the second), from the caller's clock. */
  readonly now: Date;
  /** Positive serial, hex, at most 20 bytes; 16 random bytes when omitted. */
  readonly serialNumber?: string;
}

/** A TLS server certificate: subjectAltName DNS names and IP addresses, extendedKeyUsage serverAuth. */
export interface IssueServerCertificateRequest {
  /** Host names (`localhost`, `gateway.example.org`, `*.example.org`) and IPv4/IPv6 addresses; the first is also the CN. */
  readonly names: readonly string[];
  /** The server's public key, SPKI PEM: RSA (what every client accepts) or Ed25519. */
  readonly publicKeyPem: string;
  readonly validityDays: number;
  readonly now: Date;
  readonly serialNumber?: string;
  /** The subject's O; the CN is the first name. */
  readonly organisation?: string;
}

export interface IssuedCertificate {
  readonly certificatePem: string;
  /** Lowercase hex, without a sign byte. */
  readonly serialNumber: string;
  /** SHA-256 of the certificate DER, lowercase hex. */
  readonly fingerprint: string;
  /** RFC 4514 string, most specific first, e.g. `CN=Ada,OU=p1,O=Acme`. */
  readonly subject: string;
  readonly issuer: string;
  /** ISO-8601 UTC. */
  readonly notBefore: string;
  readonly notAfter: string;
}

export interface CertificateAuthorityOptions {
  readonly commonName: string;
  readonly organisation?: string;
  /** Validity of the CA certificate when it is created. */
  readonly validityDays: number;
  /** Creation time when the CA is created; the time the CA certificate must be valid at otherwise. */
  readonly now: Date;
  /** Keystore entry of the CA key and certificate; default `certifier-ca`. */
  readonly keyName?: string;
}

export interface CertificateVerification {
  readonly valid: boolean;
  /** Why not, e.g. `issuer.mismatch`, `signature.invalid`, `validity.expired`, `certificate.unreadable`. */
  readonly reasons: readonly string[];
}

/** A request the CA refuses (bad subject, key, profile, validity or serial); the message says which. */
export class CertificateRequestError extends Error {
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
    this.name = 'CertificateRequestError';
  }
}

//////// OIDs

const OID = {
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
const KU = { digitalSignature: 0x80, nonRepudiation: 0x40, keyEncipherment: 0x20, keyAgreement: 0x08, keyCertSign: 0x04, cRLSign: 0x02 } as const;

//////// Small ASN.1 helpers (node-forge)

const U = asn1.Class.UNIVERSAL;
const T = asn1.Type;

function bin(buffer: Buffer): string {
  return buffer.toString('binary');
}

function fromDer(der: Buffer): Asn1 {
  // decodeBitStrings: false keeps BIT STRINGs (the public key) as raw bytes, so they re-encode verbatim.
  // (@types/node-forge declares only the boolean form of the options.)
  const parse = asn1.fromDer as unknown as (input: forge.util.ByteStringBuffer, options: { strict: boolean; decodeBitStrings: boolean }) => Asn1;
  return parse(forge.util.createBuffer(bin(der)), { strict: true, decodeBitStrings: false });
}

function toDer(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

function oid(value: string): Asn1 {
  return asn1.create(U, T.OID, false, asn1.oidToDer(value).getBytes());
}

function seq(values: Asn1[]): Asn1 {
  return asn1.create(U, T.SEQUENCE, true, values);
}

function time(date: Date): Asn1 {
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

const SHA256_WITH_RSA = (): Asn1 => seq([oid(OID.sha256WithRSAEncryption), asn1.create(U, T.NULL, false, '')]);

function nameAsn1(dn: DistinguishedName): Asn1 {
  // DER order is most general first; the RFC 4514 string reverses it.
  const attributes: [string, string | undefined][] = [
    [OID.organisation, dn.organisation],
    [OID.organisationalUnit, dn.organisationalUnit],
    [OID.commonName, dn.commonName],
  ];
  return seq(
    attributes
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([type, value]) =>
        asn1.create(U, T.SET, true, [seq([oid(type), asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(value))])]),
      ),
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
function nameToString(name: Asn1): string {
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

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  const parts = [oid(id)];
  if (critical) parts.push(asn1.create(U, T.BOOLEAN, false, String.fromCharCode(0xff)));
  parts.push(asn1.create(U, T.OCTETSTRING, false, asn1.toDer(value).getBytes()));
  return seq(parts);
}

function keyUsage(bits: number): Asn1 {
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
  return createHash('sha1').update(subjectPublicKeyBytes(spkiDerOf(publicKey))).digest();
}

function derToPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function pemToDer(pem: string): Buffer {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!match) throw new CertificateRequestError('certificate.unreadable', 'Expected a PEM certificate ("-----BEGIN CERTIFICATE-----")');
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}

function normaliseSerial(serialNumber: string | undefined): string {
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

function checkName(dn: DistinguishedName): void {
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

function validityOf(now: Date, validityDays: number, maxDays: number): { notBefore: Date; notAfter: Date } {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new CertificateRequestError('now.invalid', 'The issuing time is not a valid date');
  if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > maxDays) {
    throw new CertificateRequestError('validityDays.range', `The validity must be a whole number of days from 1 to ${maxDays}`);
  }
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + validityDays * 86_400_000) };
}

/** Why a key of `algorithm` cannot carry a certificate of `profile`, or undefined when it can. */
export function profileKeyProblem(profile: CertificateProfile, algorithm: KeyAlgorithm): string | undefined {
  const allowed = ALGORITHMS_OF_PROFILE[profile];
  if (!allowed) return `Unknown certificate profile "${String(profile)}"; use one of ${CERTIFICATE_PROFILES.join(', ')}`;
  return allowed.includes(algorithm) ? undefined : `A ${profile} certificate needs an ${allowed.join(' or ')} key, not ${algorithm}`;
}

function profileExtensions(profile: CertificateProfile, algorithm: KeyAlgorithm): Asn1[] {
  switch (profile) {
    case 'signing':
      return [extension(OID.keyUsage, true, keyUsage(KU.digitalSignature | KU.nonRepudiation))];
    case 'tsa':
      return [
        extension(OID.keyUsage, true, keyUsage(KU.digitalSignature)),
        extension(OID.extKeyUsage, true, seq([oid(OID.timeStamping)])),
      ];
    case 'encryption':
      return [extension(OID.keyUsage, true, keyUsage(algorithm === 'X25519' ? KU.keyAgreement : KU.keyEncipherment))];
    case 'client':
      return [
        extension(OID.keyUsage, true, keyUsage(KU.digitalSignature)),
        extension(OID.extKeyUsage, false, seq([oid(OID.clientAuth)])),
      ];
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
function subjectAltNames(names: readonly string[]): Asn1 {
  return seq(
    names.map((name) => {
      const ip = ipOctets(name);
      return ip
        ? asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, bin(ip))
        : asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, name);
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
function buildCertificate(parts: TbsParts, signer: KeyObject): { pem: string; der: Buffer } {
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
  const certificate = seq([
    fromDer(tbsDer),
    SHA256_WITH_RSA(),
    asn1.create(U, T.BITSTRING, false, String.fromCharCode(0) + bin(signature)),
  ]);
  const der = toDer(certificate);
  return { pem: derToPem(der), der };
}

/** The algorithm and SPKI DER of a subject's public key, or CertificateRequestError('publicKey.unsupported'). */
function subjectKeyOf(publicKeyPem: string): { algorithm: KeyAlgorithm; spkiDer: Buffer } {
  try {
    const publicKey = toPublicKey(publicKeyPem);
    if (publicKey.type !== 'public') throw new Error('not a public key');
    return { algorithm: algorithmOf(publicKey), spkiDer: spkiDerOf(publicKey) };
  } catch (error) {
    throw new CertificateRequestError('publicKey.unsupported', (error as Error).message);
  }
}

/**
 * The extendedKeyUsage purposes (OIDs) a certificate names; empty when it has no such extension (any purpose then,
 * for a TLS stack, but never a `client` certificate of this CA, which always names clientAuth).
 */
export function extendedKeyUsagesOf(certificatePem: string): string[] {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certificatePem);
  } catch {
    throw new CertificateRequestError('certificate.unreadable', 'The text is not a readable X.509 certificate');
  }
  // Node 20 names the extendedKeyUsage list `keyUsage` (later versions add `extKeyUsage`).
  const purposes = (x509 as X509Certificate & { extKeyUsage?: string[] }).extKeyUsage ?? x509.keyUsage;
  return Array.isArray(purposes) ? [...purposes] : [];
}

/** Whether the certificate is fit for TLS client authentication (extendedKeyUsage clientAuth). */
export function isClientAuthCertificate(certificatePem: string): boolean {
  return extendedKeyUsagesOf(certificatePem).includes(EXTENDED_KEY_USAGE.clientAuth);
}

/** The facts of a certificate of any key type, read back from its PEM. */
export function describeCertificate(certificatePem: string): IssuedCertificate {
  const der = pemToDer(certificatePem);
  let x509: X509Certificate;
  let tbsFields: Asn1[];
  try {
    x509 = new X509Certificate(der);
    tbsFields = ((fromDer(der).value as Asn1[])[0].value as Asn1[]).filter((node) => node.tagClass === U);
  } catch {
    throw new CertificateRequestError('certificate.unreadable', 'The text is not a readable X.509 certificate');
  }
  // Universal-class fields of the TBS: serial, signature, issuer, validity, subject, spki.
  const [, , issuer, , subject] = tbsFields;
  return {
    certificatePem: derToPem(der),
    serialNumber: x509.serialNumber.toLowerCase().replace(/^(00)+(?=.)/, ''),
    fingerprint: createHash('sha256').update(der).digest('hex'),
    subject: nameToString(subject),
    issuer: nameToString(issuer),
    notBefore: new Date(x509.validFrom).toISOString(),
    notAfter: new Date(x509.validTo).toISOString(),
  };
}

/**
 * The certifier's certification authority: an RSA-2048 key in the keystore and a self-signed certificate kept
 * beside it (`<name>.pem`), so the CA is the same across restarts. It issues v3 certificates for Ed25519, RSA and
 * X25519 subject keys, always signed sha256WithRSAEncryption by node:crypto.
 */
export class CertificateAuthority {
  static readonly DEFAULT_KEY_NAME = 'certifier-ca';
  /** Longest validity of a certificate the CA issues. */
  static readonly MAX_LEAF_VALIDITY_DAYS = 3650;

  /** SHA-256 of the CA certificate DER, hex. */
  readonly fingerprint: string;
  /** Short stable id: the first 16 hex digits of the fingerprint (stream `ca-<caId>`). */
  readonly caId: string;
  readonly subject: string;
  readonly notBefore: string;
  readonly notAfter: string;
  private readonly x509: X509Certificate;
  private readonly subjectName: Asn1;
  private readonly keyIdentifier: Buffer;

  private constructor(
    readonly caCertificatePem: string,
    private readonly privateKey: KeyObject,
  ) {
    const facts = describeCertificate(caCertificatePem);
    this.x509 = new X509Certificate(caCertificatePem);
    this.fingerprint = facts.fingerprint;
    this.caId = facts.fingerprint.slice(0, 16);
    this.subject = facts.subject;
    this.notBefore = facts.notBefore;
    this.notAfter = facts.notAfter;
    const tbsFields = ((fromDer(pemToDer(caCertificatePem)).value as Asn1[])[0].value as Asn1[]).filter((node) => node.tagClass === U);
    this.subjectName = tbsFields[4];
    this.keyIdentifier = keyIdentifierOf(this.x509.publicKey);
  }

  /**
   * Loads the CA from the keystore, or creates its key and self-signed certificate on first start.
   * `created` says whether it was created by this call (the caller then records CertificationAuthorityEstablished).
   */
  static loadOrCreate(keystore: FileKeyStore, options: CertificateAuthorityOptions): { ca: CertificateAuthority; created: boolean } {
    const keyName = options.keyName ?? CertificateAuthority.DEFAULT_KEY_NAME;
    checkName({ commonName: options.commonName, organisation: options.organisation });
    const validity = validityOf(options.now, options.validityDays, 36_500);
    const pair = keystore.getOrCreateKeyPair(keyName, 'RSA');
    const { content, created } = keystore.getOrCreateArtifact(keyName, () => {
      const name = nameAsn1({ commonName: options.commonName, organisation: options.organisation });
      const keyId = keyIdentifierOf(pair.publicKeyPem);
      return buildCertificate(
        {
          serialHex: normaliseSerial(undefined),
          issuer: name,
          subject: name,
          ...validity,
          spkiDer: spkiDerOf(pair.publicKeyPem),
          extensions: [
            extension(OID.basicConstraints, true, seq([asn1.create(U, T.BOOLEAN, false, String.fromCharCode(0xff))])),
            extension(OID.keyUsage, true, keyUsage(KU.keyCertSign | KU.cRLSign)),
            extension(OID.subjectKeyIdentifier, false, asn1.create(U, T.OCTETSTRING, false, bin(keyId))),
          ],
        },
        pair.privateKey,
      ).pem;
    });
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(content);
    } catch {
      throw new Error(`The CA certificate ${keystore.artifactFile(keyName)} is unreadable; restore it or move it away to create a new CA`);
    }
    if (!certificate.publicKey.export({ type: 'spki', format: 'der' }).equals(spkiDerOf(pair.publicKeyPem))) {
      throw new Error(
        `The CA certificate ${keystore.artifactFile(keyName)} does not belong to the CA key ${keystore.keyFile(keyName)}; ` +
          'restore the matching pair, or move both away to create a new CA',
      );
    }
    const ca = new CertificateAuthority(content, pair.privateKey);
    if (new Date(ca.notAfter).getTime() <= options.now.getTime()) {
      throw new Error(
        `The CA certificate ${keystore.artifactFile(keyName)} expired at ${ca.notAfter}; ` +
          'move it away (keeping the key) to create a new self-signed certificate for the same key, or move both away for a new CA',
      );
    }
    return { ca, created };
  }

  /** Issues a certificate for the subject's public key under `profile`. Throws CertificateRequestError on a bad request. */
  issue(request: IssueCertificateRequest): IssuedCertificate {
    checkName(request.subject);
    const { algorithm, spkiDer } = subjectKeyOf(request.publicKeyPem);
    const problem = profileKeyProblem(request.profile, algorithm);
    if (problem) throw new CertificateRequestError('profile.key', problem);
    return this.sign(request, spkiDer, profileExtensions(request.profile, algorithm));
  }

  /**
   * Issues a TLS server certificate (e.g. the gateway's HTTPS listener): CN = the first name, subjectAltName = every
   * name (DNS names and IP addresses), keyUsage digitalSignature (+ keyEncipherment for RSA), extendedKeyUsage serverAuth.
   */
  issueServerCertificate(request: IssueServerCertificateRequest): IssuedCertificate {
    const names = [...new Set(request.names.map((name) => name.trim().toLowerCase()).filter((name) => name.length > 0))];
    if (names.length === 0 || names.length > 100) throw new CertificateRequestError('names.count', 'A server certificate names 1 to 100 hosts');
    const bad = names.find((name) => !isServerName(name));
    if (bad !== undefined) throw new CertificateRequestError('names.invalid', `"${bad}" is neither a DNS name nor an IP address`);
    const subject: DistinguishedName = { commonName: names[0].slice(0, 64), ...(request.organisation ? { organisation: request.organisation } : {}) };
    checkName(subject);
    const { algorithm, spkiDer } = subjectKeyOf(request.publicKeyPem);
    if (!SERVER_ALGORITHMS.includes(algorithm)) {
      throw new CertificateRequestError('profile.key', `A TLS server certificate needs an ${SERVER_ALGORITHMS.join(' or ')} key, not ${algorithm}`);
    }
    return this.sign({ ...request, subject }, spkiDer, [
      extension(OID.keyUsage, true, keyUsage(algorithm === 'RSA' ? KU.digitalSignature | KU.keyEncipherment : KU.digitalSignature)),
      extension(OID.extKeyUsage, false, seq([oid(OID.serverAuth)])),
      extension(OID.subjectAltName, false, subjectAltNames(names)),
    ]);
  }

  private sign(
    request: { readonly subject: DistinguishedName; readonly publicKeyPem: string; readonly validityDays: number; readonly now: Date; readonly serialNumber?: string },
    spkiDer: Buffer,
    purposeExtensions: Asn1[],
  ): IssuedCertificate {
    const { notBefore, notAfter } = validityOf(request.now, request.validityDays, CertificateAuthority.MAX_LEAF_VALIDITY_DAYS);
    const caNotAfter = new Date(this.notAfter);
    if (notBefore.getTime() >= caNotAfter.getTime()) {
      throw new CertificateRequestError('ca.expired', `The CA certificate expired at ${this.notAfter}; renew the CA before issuing`);
    }
    const cappedNotAfter = notAfter.getTime() > caNotAfter.getTime() ? caNotAfter : notAfter;
    const serialHex = normaliseSerial(request.serialNumber);
    const subject = nameAsn1(request.subject);
    const { pem, der } = buildCertificate(
      {
        serialHex,
        issuer: this.subjectName,
        subject,
        notBefore,
        notAfter: cappedNotAfter,
        spkiDer,
        extensions: [
          extension(OID.basicConstraints, true, seq([])),
          ...purposeExtensions,
          extension(OID.subjectKeyIdentifier, false, asn1.create(U, T.OCTETSTRING, false, bin(keyIdentifierOf(request.publicKeyPem)))),
          extension(
            OID.authorityKeyIdentifier,
            false,
            seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, bin(this.keyIdentifier))]),
          ),
        ],
      },
      this.privateKey,
    );
    return {
      certificatePem: pem,
      serialNumber: serialHex,
      fingerprint: createHash('sha256').update(der).digest('hex'),
      subject: nameToString(subject),
      issuer: this.subject,
      notBefore: notBefore.toISOString(),
      notAfter: cappedNotAfter.toISOString(),
    };
  }

  /** Whether `certificatePem` was issued by this CA, its signature holds and it is valid at `at` (default: the current time). */
  verify(certificatePem: string, at: Date = new Date()): CertificateVerification {
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(certificatePem);
    } catch {
      return { valid: false, reasons: ['certificate.unreadable'] };
    }
    const reasons: string[] = [];
    if (!leaf.checkIssued(this.x509)) reasons.push('issuer.mismatch');
    if (!leaf.verify(this.x509.publicKey)) reasons.push('signature.invalid');
    const moment = at.getTime();
    // notBefore and notAfter are both inclusive (RFC 5280 §4.1.2.5), at the second.
    if (moment < new Date(leaf.validFrom).getTime()) reasons.push('validity.not-yet-valid');
    if (moment >= new Date(leaf.validTo).getTime() + 1000) reasons.push('validity.expired');
    return { valid: reasons.length === 0, reasons };
  }
}
