/**
 * The evidence log's signed word on how complete a correspondence's evidence is: the text of a signed note (signed
 * with the log's checkpoint key, so any holder of the published verifier key checks it) naming how many records the
 * log holds for the correspondence under a checkpoint, and the last of them. An export carries it, so a record
 * dropped from a bundle — and the exporter's own count edited to match — is still found offline.
 *
 *   sigillum.evidence-completeness/1
 *   correspondence <id>
 *   records <count>
 *   last-chain-index <chainIndex of the last record, -1 when none>
 *   last-leaf <leaf index of the last record, - when none>
 *   tree-size <size of the checkpoint it was counted under>
 */

export const COMPLETENESS_HEADER = 'sigillum.evidence-completeness/1';

export interface CompletenessStatement {
  readonly correspondenceId: string;
  readonly recordCount: number;
  readonly lastChainIndex: number;
  readonly lastLeafIndex: number | null;
  readonly treeSize: number;
}

/** The note text (ends with a newline, as a signed note's text must). */
export function formatCompleteness(statement: CompletenessStatement): string {
  return [
    COMPLETENESS_HEADER,
    `correspondence ${statement.correspondenceId}`,
    `records ${statement.recordCount}`,
    `last-chain-index ${statement.lastChainIndex}`,
    `last-leaf ${statement.lastLeafIndex ?? '-'}`,
    `tree-size ${statement.treeSize}`,
    '',
  ].join('\n');
}

export class CompletenessFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CompletenessFormatError';
  }
}

const INTEGER = /^(0|[1-9][0-9]{0,14})$/;

/** Reads the note text back; anything else is refused, saying what. */
export function parseCompleteness(text: string): CompletenessStatement {
  const lines = text.split('\n');
  if (lines.length !== 7 || lines[6] !== '' || lines[0] !== COMPLETENESS_HEADER) {
    throw new CompletenessFormatError(`not a completeness statement: expected "${COMPLETENESS_HEADER}" and 5 lines, each ending with a newline`);
  }
  const field = (index: number, name: string): string => {
    const prefix = `${name} `;
    if (!lines[index].startsWith(prefix) || lines[index].length === prefix.length)
      throw new CompletenessFormatError(`line ${index + 1} must be "${name} <value>"`);
    return lines[index].slice(prefix.length);
  };
  const integer = (index: number, name: string, allowMinusOne = false): number => {
    const value = field(index, name);
    if (allowMinusOne && value === '-1') return -1;
    if (!INTEGER.test(value)) throw new CompletenessFormatError(`${name} must be a decimal integer`);
    return Number(value);
  };
  const leaf = field(4, 'last-leaf');
  return {
    correspondenceId: field(1, 'correspondence'),
    recordCount: integer(2, 'records'),
    lastChainIndex: integer(3, 'last-chain-index', true),
    lastLeafIndex: leaf === '-' ? null : integer(4, 'last-leaf'),
    treeSize: integer(5, 'tree-size'),
  };
}
