import { ConfigError, loadCorrespondenceKinds } from '@sigillum/config';
import type { CorrespondenceKind } from '@sigillum/contracts';

/** The private office's validated configuration: limits of a draft, kinds of correspondence, how long sending waits. */
export const DRAFT_CONFIG = Symbol('DraftConfig');

/** Longest subject of a draft, in UTF-16 code units (what a subject line can reasonably hold). */
export const MAX_SUBJECT_LENGTH = 300;

export interface DraftPolicy {
  readonly maxRecipients: number;
  readonly maxParts: number;
  readonly maxSubjectLength: number;
  /** The configured kinds of correspondence (CORRESPONDENCE_KINDS_FILE, or the defaults). */
  readonly kinds: readonly CorrespondenceKind[];
}

export interface DraftConfig extends DraftPolicy {
  /** How long `POST /drafts/:draftId/sending` waits for the delivery gate's answer before answering `submitted`. */
  readonly sendAwaitMs: number;
}

/** Every variable the drafts read, with its default and meaning (same shape as @sigillum/config ENVIRONMENT). */
export const DRAFT_ENVIRONMENT = {
  DRAFT_MAX_RECIPIENTS: { default: '50', help: 'most recipients of one draft (1-1000)' },
  DRAFT_MAX_PARTS: { default: '20', help: 'most content parts of one draft (1-200)' },
  SEND_AWAIT_MS: { default: '3000', help: "how long sending waits for the delivery gate's answer before answering 202 submitted (0-30000)" },
} as const;

type Name = keyof typeof DRAFT_ENVIRONMENT;

/** Reads and validates the drafts' variables; throws ConfigError naming every problem at once. */
export function loadDraftConfig(env: Readonly<Record<string, string | undefined>>): DraftConfig {
  const problems: string[] = [];
  const integer = (name: Name, min: number, max: number) => {
    const given = env[name];
    const raw = given === undefined || given.trim() === '' ? DRAFT_ENVIRONMENT[name].default : given.trim();
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name}="${raw}" must be an integer between ${min} and ${max} (${DRAFT_ENVIRONMENT[name].help})`);
    }
    return value;
  };
  const maxRecipients = integer('DRAFT_MAX_RECIPIENTS', 1, 1000);
  const maxParts = integer('DRAFT_MAX_PARTS', 1, 200);
  const sendAwaitMs = integer('SEND_AWAIT_MS', 0, 30_000);
  let kinds: readonly CorrespondenceKind[] = [];
  try {
    kinds = loadCorrespondenceKinds(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { maxRecipients, maxParts, maxSubjectLength: MAX_SUBJECT_LENGTH, kinds, sendAwaitMs };
}
