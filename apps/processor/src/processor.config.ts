import * as path from 'node:path';
import { ConfigError } from '@sigillum/config';

/** The processor's validated configuration. */
export const PROCESSOR_CONFIG = Symbol('ProcessorConfig');

export interface ProcessorConfig {
  /** TSA policy OID written in every RFC 3161 token (TSTInfo.policy). */
  readonly tsaPolicyOid: string;
  /** Root of the archive: packages go to `<archiveDir>/<correspondenceId>/<tokenId>.json`. */
  readonly archiveDir: string;
  /** Where print jobs go: `<printJobsDir>/<printJobId>.json`. */
  readonly printJobsDir: string;
  /** Retention of archived originals when the token's parameters name none. */
  readonly retentionYears: number;
}

/**
 * The default TSA policy: under the Private Enterprise Number 32473 that RFC 5612 reserves for documentation,
 * so it can never be mistaken for a real policy. A production TSA sets its own, declared in its practice statement.
 */
export const DEFAULT_TSA_POLICY_OID = '1.3.6.1.4.1.32473.3161.1';

/** Longest retention a token or the environment may ask for. */
export const MAX_RETENTION_YEARS = 100;

/** Every variable the processor reads, with its default and meaning (same shape as @sigillum/config ENVIRONMENT). */
export const PROCESSOR_ENVIRONMENT = {
  PROCESSOR_TSA_POLICY_OID: { default: DEFAULT_TSA_POLICY_OID, help: 'policy OID of the RFC 3161 time-stamps (dotted decimal)' },
  PROCESSOR_ARCHIVE_DIR: { default: '<DATA_DIR>/archive', help: 'root of the archive packages (<dir>/<correspondenceId>/<tokenId>.json)' },
  PROCESSOR_PRINT_JOBS_DIR: { default: '<DATA_DIR>/print-jobs', help: 'where print-and-post jobs are written (<dir>/<printJobId>.json)' },
  PROCESSOR_RETENTION_YEARS: { default: '10', help: `retention of archived originals when the token names none (1-${MAX_RETENTION_YEARS})` },
} as const;

type Name = keyof typeof PROCESSOR_ENVIRONMENT;

const OID = /^[0-2](\.(0|[1-9][0-9]*))+$/;

/** Reads and validates the processor's variables; throws ConfigError naming every problem at once. */
export function loadProcessorConfig(env: Readonly<Record<string, string | undefined>>, dataDir: string): ProcessorConfig {
  const problems: string[] = [];
  const given = (name: Name): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };

  const tsaPolicyOid = given('PROCESSOR_TSA_POLICY_OID') ?? DEFAULT_TSA_POLICY_OID;
  if (!OID.test(tsaPolicyOid)) problems.push(`PROCESSOR_TSA_POLICY_OID="${tsaPolicyOid}" must be a dotted-decimal OID such as ${DEFAULT_TSA_POLICY_OID}`);

  const rawYears = given('PROCESSOR_RETENTION_YEARS') ?? PROCESSOR_ENVIRONMENT.PROCESSOR_RETENTION_YEARS.default;
  const retentionYears = Number(rawYears);
  if (!/^\d+$/.test(rawYears) || retentionYears < 1 || retentionYears > MAX_RETENTION_YEARS) {
    problems.push(`PROCESSOR_RETENTION_YEARS="${rawYears}" must be a whole number of years from 1 to ${MAX_RETENTION_YEARS}`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    tsaPolicyOid,
    archiveDir: path.resolve(given('PROCESSOR_ARCHIVE_DIR') ?? path.join(dataDir, 'archive')),
    printJobsDir: path.resolve(given('PROCESSOR_PRINT_JOBS_DIR') ?? path.join(dataDir, 'print-jobs')),
    retentionYears,
  };
}
