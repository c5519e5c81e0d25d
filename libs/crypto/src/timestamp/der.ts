import * as forge from 'node-forge';

/** Small DER helpers over node-forge's asn1, shared by the time-stamp authority and its parsers. */

const { asn1 } = forge;
export type Asn1 = forge.asn1.Asn1;

export const UNIVERSAL = asn1.Class.UNIVERSAL;
export const CONTEXT = asn1.Class.CONTEXT_SPECIFIC;
export const TYPE = asn1.Type;

export const OID = {
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  signingCertificate: '1.2.840.113549.1.9.16.2.12',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ed25519: '1.3.101.112',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  timeStamping: '1.3.6.1.5.5.7.3.8',
} as const;

export function bin(buffer: Buffer): string {
  return buffer.toString('binary');
}

export function fromDer(der: Buffer): Asn1 {
  // decodeBitStrings: false keeps BIT STRINGs as raw bytes so they re-encode verbatim.
  const parse = asn1.fromDer as unknown as (input: forge.util.ByteStringBuffer, options: { strict: boolean; decodeBitStrings: boolean }) => Asn1;
  return parse(forge.util.createBuffer(bin(der)), { strict: true, decodeBitStrings: false });
}

export function toDer(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

export function oid(value: string): Asn1 {
  return asn1.create(UNIVERSAL, TYPE.OID, false, asn1.oidToDer(value).getBytes());
}

export function seq(values: Asn1[]): Asn1 {
  return asn1.create(UNIVERSAL, TYPE.SEQUENCE, true, values);
}

/** A DER SET OF: members sorted by their encodings (X.690 §11.6). */
export function setOf(values: Asn1[]): Asn1 {
  const sorted = values
    .map((value) => ({ value, der: toDer(value) }))
    .sort((a, b) => Buffer.compare(a.der, b.der))
    .map((entry) => entry.value);
  return asn1.create(UNIVERSAL, TYPE.SET, true, sorted);
}

export function octets(data: Buffer): Asn1 {
  return asn1.create(UNIVERSAL, TYPE.OCTETSTRING, false, bin(data));
}

export function boolean(value: boolean): Asn1 {
  return asn1.create(UNIVERSAL, TYPE.BOOLEAN, false, String.fromCharCode(value ? 0xff : 0x00));
}

export function utf8(text: string): Asn1 {
  return asn1.create(UNIVERSAL, TYPE.UTF8, false, forge.util.encodeUtf8(text));
}

/** Minimal two's-complement content octets of an integer. */
export function integerBytes(value: bigint): Buffer {
  if (value >= 0n) {
    let hex = value.toString(16);
    if (hex.length % 2 === 1) hex = `0${hex}`;
    if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
    return Buffer.from(hex, 'hex');
  }
  let length = 1;
  while (value < -(1n << BigInt(8 * length - 1))) length++;
  const twos = (1n << BigInt(8 * length)) + value;
  return Buffer.from(twos.toString(16).padStart(2 * length, '0'), 'hex');
}

export function integer(value: bigint | number, tagClass: number = UNIVERSAL, tag: number = TYPE.INTEGER): Asn1 {
  return asn1.create(tagClass, tag, false, bin(integerBytes(BigInt(value))));
}

/** The value of INTEGER content octets (two's complement). */
export function integerValue(node: Asn1): bigint {
  const bytes = Buffer.from(node.value as string, 'binary');
  if (bytes.length === 0) throw new Error('empty INTEGER');
  const unsigned = BigInt(`0x${bytes.toString('hex')}`);
  return bytes[0] & 0x80 ? unsigned - (1n << BigInt(8 * bytes.length)) : unsigned;
}

/** GeneralizedTime `YYYYMMDDhhmmss[.fff]Z`, fraction without trailing zeros (RFC 3161 §2.4.2, X.690 §11.7). */
export function generalizedTime(date: Date): Asn1 {
  const iso = date.toISOString(); // YYYY-MM-DDThh:mm:ss.sssZ
  const whole = iso.slice(0, 19).replace(/[-:T]/g, '');
  const fraction = iso.slice(20, 23).replace(/0+$/, '');
  return asn1.create(UNIVERSAL, TYPE.GENERALIZEDTIME, false, `${whole}${fraction ? `.${fraction}` : ''}Z`);
}

export function parseGeneralizedTime(node: Asn1): Date {
  const text = node.value as string;
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?Z$/.exec(text);
  if (node.type !== TYPE.GENERALIZEDTIME || !match) throw new Error(`not a DER GeneralizedTime: ${text}`);
  const [, y, mo, d, h, mi, s, fraction] = match;
  const millis = fraction ? Number(fraction.padEnd(3, '0').slice(0, 3)) : 0;
  return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), millis));
}

export function utcOrGeneralizedTime(date: Date): Asn1 {
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? asn1.create(UNIVERSAL, TYPE.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(UNIVERSAL, TYPE.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

export function oidValue(node: Asn1): string {
  if (node.tagClass !== UNIVERSAL || node.type !== TYPE.OID) throw new Error('expected an OBJECT IDENTIFIER');
  return asn1.derToOid(node.value as string);
}

export function children(node: Asn1, what: string): Asn1[] {
  if (!Array.isArray(node.value)) throw new Error(`${what} is not constructed`);
  return node.value;
}

export function isUniversal(node: Asn1 | undefined, type: number): boolean {
  return node !== undefined && node.tagClass === UNIVERSAL && node.type === type;
}

export function isContext(node: Asn1 | undefined, tag: number): boolean {
  return node !== undefined && node.tagClass === CONTEXT && node.type === tag;
}

export function bytesOf(node: Asn1): Buffer {
  return Buffer.from(node.value as string, 'binary');
}

export function pemToDer(pem: string, what: string): Buffer {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!match) throw new Error(`The ${what} is not a PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}

export function derToPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** Issuer Name and serialNumber INTEGER of a certificate, as the DER nodes it carries. */
export function issuerAndSerialOf(certificateDer: Buffer): { issuer: Asn1; serial: Asn1; subject: Asn1 } {
  const tbs = children(children(fromDer(certificateDer), 'Certificate')[0], 'TBSCertificate').filter((node) => node.tagClass === UNIVERSAL);
  // Universal-class fields of the TBS: serial, signature, issuer, validity, subject, spki.
  const [serial, , issuer, , subject] = tbs;
  return { issuer, serial, subject };
}
