import * as fc from 'fast-check';
import { fromDer, generalizedTime, integer, integerBytes, integerValue, parseGeneralizedTime, toDer } from './der';
import { parseTimeStampRequest, TimeStampError } from './tsa';

describe('timestamp DER helpers', () => {
  it("encodes integers in minimal two's complement", () => {
    expect(integerBytes(0n).toString('hex')).toBe('00');
    expect(integerBytes(127n).toString('hex')).toBe('7f');
    expect(integerBytes(128n).toString('hex')).toBe('0080');
    expect(integerBytes(-1n).toString('hex')).toBe('ff');
    expect(integerBytes(-128n).toString('hex')).toBe('80');
    expect(integerBytes(-129n).toString('hex')).toBe('ff7f');
  });

  it('reads back every integer it writes', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 200n), max: 1n << 200n }), (value) => {
        expect(integerValue(fromDer(toDer(integer(value))))).toBe(value);
      }),
      { numRuns: 500 },
    );
  });

  it('writes GeneralizedTime with milliseconds only when present, without trailing zeros', () => {
    expect(generalizedTime(new Date('2026-11-26T10:15:30.000Z')).value).toBe('20261126101530Z');
    expect(generalizedTime(new Date('2026-11-26T10:15:30.120Z')).value).toBe('20261126101530.12Z');
    expect(generalizedTime(new Date('2026-11-26T10:15:30.001Z')).value).toBe('20261126101530.001Z');
    fc.assert(
      fc.property(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), (date) => {
        expect(parseGeneralizedTime(generalizedTime(date)).getTime()).toBe(date.getTime());
      }),
    );
  });

  it('parses a hand-made TimeStampReq with a negative nonce and refuses extensions', () => {
    const imprint = Buffer.concat([Buffer.from('3031300d060960864801650304020105000420', 'hex'), Buffer.alloc(32, 7)]);
    const body = Buffer.concat([Buffer.from('020101', 'hex'), imprint, Buffer.from('0201ff', 'hex'), Buffer.from('0101ff', 'hex')]);
    const request = Buffer.concat([Buffer.from([0x30, body.length]), body]);
    expect(parseTimeStampRequest(request)).toEqual({
      version: 1,
      messageImprint: { hashAlgorithm: 'sha256', hashedMessage: Buffer.alloc(32, 7) },
      nonce: -1n,
      certReq: true,
    });
    const withExtensions = Buffer.concat([Buffer.from([0x30, body.length + 2]), body, Buffer.from('a000', 'hex')]);
    let error: unknown;
    try {
      parseTimeStampRequest(withExtensions);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TimeStampError);
    expect((error as TimeStampError).failure).toBe('unacceptedExtension');
    const version2 = Buffer.from(request);
    version2[4] = 2;
    expect(() => parseTimeStampRequest(version2)).toThrow(/version 1/);
    expect(() => parseTimeStampRequest(Buffer.concat([request, Buffer.from([0])]))).toThrow(TimeStampError);
  });
});
