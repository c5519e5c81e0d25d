import { plainToInstance } from 'class-transformer';
import { IsIn, IsOptional, IsString, validateSync } from 'class-validator';
import { IsPlainText } from './text-rules';

class NameBody {
  @IsString()
  @IsPlainText()
  displayName!: string;

  @IsOptional()
  @IsString({ each: true })
  @IsPlainText({ each: true })
  aliases?: string[];
}

class AttributeBody {
  @IsIn(['legalName', 'address'])
  name!: string;

  @IsString()
  @IsPlainText({ lineBreaks: (body) => (body as AttributeBody).name === 'address' })
  value!: string;
}

const violations = <T extends object>(type: new () => T, plain: object) =>
  validateSync(plainToInstance(type, plain) as object).flatMap((error) =>
    Object.entries(error.constraints ?? {}).map(([rule, message]) => ({ field: error.property, rule, message })),
  );

describe('@IsPlainText', () => {
  it('accepts plain names in any script', () => {
    expect(violations(NameBody, { displayName: 'Zoë Ørsted 😀 محمد' })).toEqual([]);
  });

  it.each([
    ['CRLF', 'Mallory\r\nBcc: x', 'U+000D at index 7'],
    ['NUL', 'Ada\u0000', 'U+0000 at index 3'],
    ['TAB', 'Ada\tLovelace', 'U+0009'],
    ['C1', 'Ada\u009b', 'U+009B'],
    ['RLO', 'Ada\u202e', 'U+202E'],
    ['FSI', '\u2068Ada', 'U+2068'],
    ['lone surrogate', 'Ada\ud800', 'U+D800'],
  ])('refuses %s with rule isPlainText, naming the field and the character', (_name, displayName, where) => {
    expect(violations(NameBody, { displayName })).toEqual([{ field: 'displayName', rule: 'isPlainText', message: expect.stringContaining(where) }]);
    expect(violations(NameBody, { displayName })[0].message).toMatch(/^displayName must be plain text: /);
  });

  it('checks each element of an array', () => {
    expect(violations(NameBody, { displayName: 'Ada', aliases: ['ok', 'bad\n'] })).toEqual([
      { field: 'aliases', rule: 'isPlainText', message: expect.any(String) },
    ]);
  });

  it('leaves non-strings to @IsString', () => {
    expect(violations(NameBody, { displayName: 5 }).map((v) => v.rule)).toEqual(['isString']);
  });

  it('lets line breaks through only where the object says so (a postal address, not a legal name)', () => {
    expect(violations(AttributeBody, { name: 'address', value: '3 rue de la Paix\r\n75002 Paris' })).toEqual([]);
    expect(violations(AttributeBody, { name: 'legalName', value: 'Acme\r\nSARL' })).toEqual([
      { field: 'value', rule: 'isPlainText', message: expect.any(String) },
    ]);
    expect(violations(AttributeBody, { name: 'address', value: '3 rue\u0000' })).toHaveLength(1);
  });
});
