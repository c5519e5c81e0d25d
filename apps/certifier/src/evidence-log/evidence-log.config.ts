import { createHash } from 'node:crypto';
import { isKeyName } from '@sigillum/tlog';

/** The evidence transparency log's settings, read from the environment once at start. */
export interface EvidenceLogSettings {
  /** The checkpoint origin line, also the note key name: `<host>/sigillum/evidence` by default. */
  readonly origin: string;
  /** Sign a checkpoint at most this long after the tree grew (ms). */
  readonly checkpointMs: number;
  /** … or as soon as this many leaves were added since the last checkpoint. */
  readonly checkpointLeaves: number;
  /** The policy OID of the RFC 3161 time-stamps of the checkpoints. */
  readonly tsaPolicyOid: string;
}

/** The settings and where the leaves' entries are kept on disk (`<DATA_DIR>/evidence-log`). */
export interface EvidenceLogConfig extends EvidenceLogSettings {
  readonly entriesDir: string;
}

export const EVIDENCE_LOG_CONFIG = Symbol('EvidenceLogConfig');

export const EVIDENCE_LOG_ENVIRONMENT = {
  EVIDENCE_LOG_ORIGIN: {
    default: 'localhost/sigillum/evidence',
    help: 'origin line of the evidence log checkpoints and name of its signing key: the scheme-less URL of the log, e.g. sigillum.example.org/sigillum/evidence (no spaces, no "+"); every certifier instance of one deployment must use the same',
  },
  EVIDENCE_CHECKPOINT_MS: { default: '1000', help: 'the certifier signs a checkpoint of the evidence log this many ms after it grew (100 to 3600000)' },
  EVIDENCE_CHECKPOINT_LEAVES: { default: '1000', help: '… or as soon as this many evidence records were added, whichever comes first (1 to 1000000)' },
  EVIDENCE_LOG_TSA_POLICY_OID: {
    default: '1.3.6.1.4.1.32473.3161.2',
    help: 'TSA policy OID (dotted decimal) of the RFC 3161 time-stamp of every checkpoint: your time-stamping policy',
  },
} as const;

export class EvidenceLogConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvidenceLogConfigError';
  }
}

export function loadEvidenceLogConfig(env: Readonly<Record<string, string | undefined>>): EvidenceLogSettings {
  const read = (name: keyof typeof EVIDENCE_LOG_ENVIRONMENT): string => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? EVIDENCE_LOG_ENVIRONMENT[name].default : value;
  };
  const integer = (name: 'EVIDENCE_CHECKPOINT_MS' | 'EVIDENCE_CHECKPOINT_LEAVES', min: number, max: number): number => {
    const raw = read(name);
    const value = Number(raw);
    if (!/^[0-9]+$/.test(raw) || value < min || value > max) throw new EvidenceLogConfigError(`${name}="${raw}" must be an integer from ${min} to ${max}`);
    return value;
  };
  const origin = read('EVIDENCE_LOG_ORIGIN');
  if (!isKeyName(origin) || origin.length > 256) {
    throw new EvidenceLogConfigError(
      `EVIDENCE_LOG_ORIGIN="${origin}" must be a non-empty name of at most 256 characters without spaces or "+" (e.g. sigillum.example.org/sigillum/evidence)`,
    );
  }
  const tsaPolicyOid = read('EVIDENCE_LOG_TSA_POLICY_OID');
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(tsaPolicyOid))
    throw new EvidenceLogConfigError(`EVIDENCE_LOG_TSA_POLICY_OID="${tsaPolicyOid}" must be a dotted-decimal OID such as 1.3.6.1.4.1.32473.3161.2`);
  return {
    origin,
    checkpointMs: integer('EVIDENCE_CHECKPOINT_MS', 100, 3_600_000),
    checkpointLeaves: integer('EVIDENCE_CHECKPOINT_LEAVES', 1, 1_000_000),
    tsaPolicyOid,
  };
}

/** The id of the log's checkpoint stream `evidencelog-<originId>`: hex of the first 16 bytes of SHA-256(origin). */
export function originIdOf(origin: string): string {
  return createHash('sha256').update(origin, 'utf8').digest('hex').slice(0, 32);
}
