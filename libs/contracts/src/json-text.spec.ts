import { keptJsonText, parseJsonKeepingText } from './json-text';

describe('parseJsonKeepingText / keptJsonText', () => {
  it('parses as JSON.parse does and keeps the text beside an object or array it parsed', () => {
    const text = '{"b":[1,2,{"c":"é\\u2028"}],"a":null}';
    const value = parseJsonKeepingText(text);
    expect(value).toEqual(JSON.parse(text));
    expect(keptJsonText(value)).toBe(text);
    const list = parseJsonKeepingText('[1,2]');
    expect(keptJsonText(list)).toBe('[1,2]');
  });

  it('knows no text for a value it did not parse, an equal copy included, nor for primitives', () => {
    const value = parseJsonKeepingText('{"a":1}');
    expect(keptJsonText({ a: 1 })).toBeUndefined();
    expect(keptJsonText(structuredClone(value))).toBeUndefined();
    expect(parseJsonKeepingText('42')).toBe(42);
    expect(keptJsonText(42)).toBeUndefined();
    expect(keptJsonText(null)).toBeUndefined();
    expect(keptJsonText('{"a":1}')).toBeUndefined();
  });

  it('throws what JSON.parse throws on text that is not JSON', () => {
    expect(() => parseJsonKeepingText('{')).toThrow(SyntaxError);
  });
});
