import { CheckpointFormatError, formatCheckpoint, parseCheckpoint } from './checkpoint';

describe('tlog-checkpoint body', () => {
  // The example of c2sp.org/tlog-checkpoint.
  const EXAMPLE = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';

  it('parses and formats the spec example byte for byte', () => {
    const checkpoint = parseCheckpoint(EXAMPLE);
    expect(checkpoint).toEqual({
      origin: 'example.com/behind-the-sofa',
      size: 20852163,
      rootHash: Buffer.from('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=', 'base64'),
      extensions: [],
    });
    expect(formatCheckpoint(checkpoint)).toBe(EXAMPLE);
  });

  it('keeps extension lines', () => {
    const text = formatCheckpoint({ origin: 'o', size: 0, rootHash: Buffer.alloc(32), extensions: ['ext one'] });
    expect(text).toBe(`o\n0\n${Buffer.alloc(32).toString('base64')}\next one\n`);
    expect(parseCheckpoint(text).extensions).toEqual(['ext one']);
  });

  it.each([
    ['no final newline', EXAMPLE.slice(0, -1)],
    ['a leading zero', EXAMPLE.replace('20852163', '020852163')],
    ['a signed size', EXAMPLE.replace('20852163', '+20852163')],
    ['a short root', EXAMPLE.replace('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=', 'CsUY')],
    ['an empty origin', EXAMPLE.replace('example.com/behind-the-sofa', '')],
    ['two lines only', 'origin\n1\n'],
    ['an empty extension line', `${EXAMPLE}\n`],
  ])('refuses %s', (_why, text) => {
    expect(() => parseCheckpoint(text)).toThrow(CheckpointFormatError);
  });
});
