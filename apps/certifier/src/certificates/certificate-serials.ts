/**
 * The serial of a certificate this CA issues for a party is its certificate id: the UUID's 32 hex digits (a UUID v7
 * carries 74 random bits after its 48-bit time, more than the 64 bits of CSPRNG output CA practice asks of a serial). A TLS peer's serial therefore names
 * the stream `certificate-<certificateId>` where the CA recorded what it issued, without an index to keep in step.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The serial (hex) for a certificate id, or undefined when the id is not a UUID of a positive value (then the CA draws a random serial). */
export function serialForCertificateId(certificateId: string): string | undefined {
  if (!UUID.test(certificateId)) return undefined;
  const hex = certificateId.replace(/-/g, '').toLowerCase();
  return /^0+$/.test(hex) ? undefined : hex;
}

/** The certificate id a serial names (any case, with or without leading zeros or colons), or undefined when it cannot name one. */
export function certificateIdForSerial(serialNumber: string): string | undefined {
  const hex = serialNumber.replace(/:/g, '').toLowerCase().replace(/^0+/, '');
  if (!/^[0-9a-f]{1,32}$/.test(hex)) return undefined;
  const full = hex.padStart(32, '0');
  return `${full.slice(0, 8)}-${full.slice(8, 12)}-${full.slice(12, 16)}-${full.slice(16, 20)}-${full.slice(20)}`;
}

/** Two serials are the same number (case, colons and leading zeros aside). */
export function sameSerial(a: string, b: string): boolean {
  const normal = (serial: string) =>
    serial
      .replace(/:/g, '')
      .toLowerCase()
      .replace(/^0+(?=.)/, '');
  return normal(a) === normal(b);
}
