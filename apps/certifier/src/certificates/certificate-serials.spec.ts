import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { certificateIdForSerial, sameSerial, serialForCertificateId } from './certificate-serials';

describe('certificate serials (serial = certificate id)', () => {
  it('makes the serial of a UUID its 32 hex digits, and reads it back', () => {
    expect(serialForCertificateId('1b4e28ba-2fa1-41d2-883f-0016d3cca427')).toBe('1b4e28ba2fa141d2883f0016d3cca427');
    expect(certificateIdForSerial('1b4e28ba2fa141d2883f0016d3cca427')).toBe('1b4e28ba-2fa1-41d2-883f-0016d3cca427');
    expect(certificateIdForSerial('1B:4E:28:BA:2F:A1:41:D2:88:3F:00:16:D3:CC:A4:27')).toBe('1b4e28ba-2fa1-41d2-883f-0016d3cca427');
  });

  it('reads back a serial that lost its leading zeros (as TLS stacks print it) or gained a sign octet', () => {
    const id = '0004e28b-2fa1-41d2-883f-0016d3cca427';
    const serial = serialForCertificateId(id)!;
    expect(certificateIdForSerial(serial.replace(/^0+/, ''))).toBe(id);
    expect(certificateIdForSerial(`00${serial}`)).toBe(id);
    expect(sameSerial(serial, serial.replace(/^0+/, '').toUpperCase())).toBe(true);
    expect(sameSerial('01ab', '1ab')).toBe(true);
    expect(sameSerial('01ab', '1ac')).toBe(false);
  });

  it('round-trips every UUID', () => {
    fc.assert(
      fc.property(fc.uuid(), (id) => {
        const serial = serialForCertificateId(id);
        if (/^[0-]+$/.test(id)) return serial === undefined;
        return serial !== undefined && certificateIdForSerial(serial) === id.toLowerCase();
      }),
    );
    const id = randomUUID();
    expect(certificateIdForSerial(serialForCertificateId(id)!)).toBe(id);
  });

  it('has no serial for ids that are not UUIDs (the CA draws a random one), and no id for serials that cannot name one', () => {
    expect(serialForCertificateId('c1')).toBeUndefined();
    expect(serialForCertificateId('00000000-0000-0000-0000-000000000000')).toBeUndefined();
    expect(certificateIdForSerial('ab'.repeat(17))).toBeUndefined(); // 34 hex digits: longer than a UUID
    expect(certificateIdForSerial('xyz')).toBeUndefined();
    expect(certificateIdForSerial('')).toBeUndefined();
    expect(certificateIdForSerial('000')).toBeUndefined();
  });
});
