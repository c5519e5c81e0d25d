import { CompletenessFormatError, formatCompleteness, parseCompleteness } from './completeness';

describe('the evidence completeness statement', () => {
  const statement = { correspondenceId: '2b7c1b2e-55aa-4c1e-9d3f-4e5f6a7b8c9d', recordCount: 13, lastChainIndex: 12, lastLeafIndex: 4711, treeSize: 5000 };

  it('reads back what it writes, including no record yet', () => {
    expect(parseCompleteness(formatCompleteness(statement))).toEqual(statement);
    const empty = { ...statement, recordCount: 0, lastChainIndex: -1, lastLeafIndex: null };
    expect(formatCompleteness(empty)).toContain('last-leaf -\n');
    expect(parseCompleteness(formatCompleteness(empty))).toEqual(empty);
  });

  it('refuses anything else, saying what', () => {
    const text = formatCompleteness(statement);
    expect(() => parseCompleteness(text.replace('records 13', 'records 013'))).toThrow(/records must be a decimal integer/);
    expect(() => parseCompleteness(text.replace('sigillum.evidence-completeness/1', 'other'))).toThrow(CompletenessFormatError);
    expect(() => parseCompleteness(text.trimEnd())).toThrow(CompletenessFormatError);
    expect(() => parseCompleteness(text.replace('tree-size', 'size'))).toThrow(/line 6 must be "tree-size <value>"/);
  });
});
