/**
 * Plain text: what names, subjects, addresses and reasons may hold, and how such text is shown where it is copied
 * (e-mail and SMS notices, headers). One set of character classes for the HTTP validation (`@IsPlainText`) and
 * for the renderers, which also meet text recorded before the validation existed.
 */

/** C0 controls (NUL, TAB, CR, LF...), DEL and C1 controls. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR: line breaks to many renderers. */
const SEPARATOR = /[\u2028\u2029]/;
/** Bidirectional embeddings, overrides (U+202A–U+202E) and isolates (U+2066–U+2069): they reorder what is shown. */
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether `text` is well-formed UTF-16: no lone surrogate (a half of a pair, which no encoder can write). */
export function isWellFormedText(text: string): boolean {
  const native = (text as unknown as { isWellFormed?: () => boolean }).isWellFormed;
  return typeof native === 'function' ? native.call(text) : !LONE_SURROGATE.test(text);
}

export interface PlainTextOptions {
  /** Let LF and CRLF through (a postal address over several lines); every other control stays refused. */
  readonly lineBreaks?: boolean;
}

/** Why a text is not plain: which rule, at which UTF-16 index, which code point (as `U+XXXX`). */
export interface PlainTextProblem {
  readonly rule: 'wellFormed' | 'control' | 'lineSeparator' | 'bidiControl';
  readonly index: number;
  readonly codePoint: string;
}

const hex = (code: number) => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;

/** The first character that keeps `text` from being plain text; undefined when there is none. */
export function plainTextProblem(text: string, options: PlainTextOptions = {}): PlainTextProblem | undefined {
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit >= 0xd800 && unit <= 0xdfff) {
      const next = text.charCodeAt(index + 1);
      if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        index++; // a well-formed pair: a character outside the BMP, fine
        continue;
      }
      return { rule: 'wellFormed', index, codePoint: hex(unit) };
    }
    const char = text[index];
    if (CONTROL.test(char)) {
      if (options.lineBreaks && (char === '\n' || (char === '\r' && text[index + 1] === '\n'))) continue;
      return { rule: 'control', index, codePoint: hex(unit) };
    }
    if (SEPARATOR.test(char)) return { rule: 'lineSeparator', index, codePoint: hex(unit) };
    if (BIDI_CONTROL.test(char)) return { rule: 'bidiControl', index, codePoint: hex(unit) };
  }
  return undefined;
}

/** `subject must be plain text: U+0000 at index 3 is a control character`. */
export function describePlainTextProblem(field: string, problem: PlainTextProblem): string {
  const what = {
    wellFormed: 'half of a UTF-16 surrogate pair (not well-formed Unicode)',
    control: 'a control character (line breaks, tabulations and NUL included)',
    lineSeparator: 'a line or paragraph separator',
    bidiControl: 'a bidirectional embedding, override or isolate',
  }[problem.rule];
  return `${field} must be plain text: ${problem.codePoint} at index ${problem.index} is ${what}`;
}

// Runs of anything that is not shown as text: controls, separators, and (after toWellFormed) nothing else.
// eslint-disable-next-line no-control-regex
const NOT_SHOWN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/**
 * Text as a notice or a header may quote it: one line (controls and line breaks become a space, runs of spaces
 * one), no bidirectional controls, lone surrogates replaced by U+FFFD, trimmed, and at most `max` UTF-16 units
 * (an ellipsis ends a cut text; a surrogate pair is never split). `fallback` when nothing shown remains.
 */
export function toDisplayText(text: unknown, max: number, fallback = ''): string {
  if (typeof text !== 'string') return fallback;
  const flat = text.replace(LONE_SURROGATES, '\ufffd').replace(BIDI_CONTROLS, '').replace(NOT_SHOWN, ' ').replace(/\s+/g, ' ').trim();
  if (flat.length === 0) return fallback;
  if (flat.length <= max) return flat;
  let cut = '';
  for (const char of flat) {
    if (cut.length + char.length > max - 1) break;
    cut += char;
  }
  return `${cut.trimEnd()}…`;
}
