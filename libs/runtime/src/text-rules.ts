import { describePlainTextProblem, plainTextProblem } from '@sigillum/contracts';
import { registerDecorator, type ValidationArguments, type ValidationOptions } from 'class-validator';

export interface IsPlainTextOptions extends ValidationOptions {
  /**
   * Let LF and CRLF through: `true`, or a test of the object being validated (an identity attribute's value is
   * multi-line only when it is the postal `address`). Every other control character stays refused.
   */
  readonly lineBreaks?: boolean | ((object: object) => boolean);
}

/**
 * Text a person reads — display and legal names, subjects, addresses, file names, reasons — is plain: no control
 * characters (C0 with TAB, CR and LF; DEL; C1), no U+2028/U+2029, no bidirectional embeddings, overrides or
 * isolates (U+202A–U+202E, U+2066–U+2069), no lone UTF-16 surrogate. Such text is copied into notices, headers,
 * specimens and evidence, where these characters break lines, reorder what is shown, or cannot be encoded.
 * Fails with rule `isPlainText`, naming the character and where it is. Non-strings are left to `@IsString`.
 */
export function IsPlainText(options: IsPlainTextOptions = {}): PropertyDecorator {
  const { lineBreaks, ...validationOptions } = options;
  const allowsLineBreaks = (object: object) => (typeof lineBreaks === 'function' ? lineBreaks(object) : lineBreaks === true);
  return (target, propertyName) =>
    registerDecorator({
      name: 'isPlainText',
      target: target.constructor,
      propertyName: propertyName as string,
      options: validationOptions,
      validator: {
        validate(value: unknown, args: ValidationArguments): boolean {
          return typeof value !== 'string' || plainTextProblem(value, { lineBreaks: allowsLineBreaks(args.object) }) === undefined;
        },
        defaultMessage(args?: ValidationArguments): string {
          const value = args?.value;
          const field = args?.property ?? String(propertyName);
          const problem = typeof value === 'string' ? plainTextProblem(value, { lineBreaks: args ? allowsLineBreaks(args.object) : false }) : undefined;
          return problem ? describePlainTextProblem(field, problem) : `${field} must be plain text`;
        },
      },
    });
}
