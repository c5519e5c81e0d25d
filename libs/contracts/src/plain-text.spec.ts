import { describePlainTextProblem, isWellFormedText, plainTextProblem, toDisplayText } from './plain-text';

describe('plain text', () => {
  it('isWellFormedText finds lone surrogates, not pairs', () => {
    expect(isWellFormedText('Relevé 😀')).toBe(true);
    expect(isWellFormedText('a\ud800')).toBe(false);
    expect(isWellFormedText('\udc00a')).toBe(false);
    expect(isWellFormedText('\ud83d\ud83d')).toBe(false);
  });

  it('accepts names, subjects and addresses in any script, emoji included', () => {
    for (const text of ['Ada Lovelace', 'Zoë Ørsted-Łukasiewicz', 'محمد بن موسى', '山田 太郎', 'Invoice №42 — 😀👩‍👩‍👧', 'name@example.org', '+33612345678']) {
      expect(plainTextProblem(text)).toBeUndefined();
    }
  });

  it.each([
    ['NUL', 'a\u0000b', 'control', 1, 'U+0000'],
    ['TAB', 'a\tb', 'control', 1, 'U+0009'],
    ['CR', 'Mallory\rBcc: x', 'control', 7, 'U+000D'],
    ['LF', 'Mallory\nBcc: x', 'control', 7, 'U+000A'],
    ['DEL', 'a\u007f', 'control', 1, 'U+007F'],
    ['C1 (NEL)', 'a\u0085b', 'control', 1, 'U+0085'],
    ['LINE SEPARATOR', 'a\u2028b', 'lineSeparator', 1, 'U+2028'],
    ['RLO', 'invoice\u202egpj.exe', 'bidiControl', 7, 'U+202E'],
    ['LRE', '\u202aa', 'bidiControl', 0, 'U+202A'],
    ['RLI', 'a\u2067b', 'bidiControl', 1, 'U+2067'],
    ['PDI', 'a\u2069', 'bidiControl', 1, 'U+2069'],
    ['lone high surrogate', 'subject \ud800', 'wellFormed', 8, 'U+D800'],
    ['lone low surrogate', '\udfff', 'wellFormed', 0, 'U+DFFF'],
  ])('refuses %s', (_name, text, rule, index, codePoint) => {
    expect(plainTextProblem(text)).toEqual({ rule, index, codePoint });
  });

  it('lets LF and CRLF through when asked (a postal address), never a lone CR nor other controls', () => {
    expect(plainTextProblem('3 rue de la Paix\r\n75002 Paris\nFrance', { lineBreaks: true })).toBeUndefined();
    expect(plainTextProblem('a\rb', { lineBreaks: true })).toMatchObject({ rule: 'control', index: 1 });
    expect(plainTextProblem('a\n\u0000', { lineBreaks: true })).toMatchObject({ rule: 'control', index: 2 });
    expect(plainTextProblem('a\u2028b', { lineBreaks: true })).toMatchObject({ rule: 'lineSeparator' });
  });

  it('describes the problem by field, code point and place', () => {
    expect(describePlainTextProblem('subject', { rule: 'control', index: 3, codePoint: 'U+0000' })).toBe(
      'subject must be plain text: U+0000 at index 3 is a control character (line breaks, tabulations and NUL included)',
    );
  });

  describe('toDisplayText', () => {
    it('flattens to one line without controls, bidi controls or lone surrogates', () => {
      expect(toDisplayText('Mallory\r\nBcc: everyone@example.org', 80)).toBe('Mallory Bcc: everyone@example.org');
      expect(toDisplayText('  a\u0000\u0001b\tc\u2028d\u0085e  ', 80)).toBe('a b c d e');
      expect(toDisplayText('invoice\u202egpj.exe', 80)).toBe('invoicegpj.exe');
      expect(toDisplayText('x\ud800y', 80)).toBe('x\ufffdy');
      expect(isWellFormedText(toDisplayText('\udc00'.repeat(10), 80))).toBe(true);
    });

    it('bounds the length in UTF-16 units with an ellipsis, never splitting a surrogate pair', () => {
      expect(toDisplayText('x'.repeat(200), 80)).toBe(`${'x'.repeat(79)}…`);
      expect(toDisplayText('x'.repeat(80), 80)).toBe('x'.repeat(80));
      const emoji = toDisplayText('😀'.repeat(100), 80);
      expect(emoji.length).toBeLessThanOrEqual(80);
      expect(isWellFormedText(emoji)).toBe(true);
      expect(emoji.endsWith('…')).toBe(true);
      expect(toDisplayText(`${'a'.repeat(78)} bcd`, 80)).toBe(`${'a'.repeat(78)}…`);
    });

    it('falls back when nothing shown remains or the value is not text', () => {
      expect(toDisplayText('\r\n\u202e ', 80, 'a sender')).toBe('a sender');
      expect(toDisplayText(undefined, 80, 'a sender')).toBe('a sender');
      expect(toDisplayText(42, 80)).toBe('');
    });
  });
});
