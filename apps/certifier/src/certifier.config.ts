import { PROCESSING_STEPS, type ProcessingStep } from '@sigillum/contracts';
import { DEFAULT_CHANNEL_COOLING_HOURS } from '@sigillum/contracts/directory/channel-choice';

/** The certifier's own settings (session secrets, chain operators), read from the environment once at start. */
export interface CertifierConfig {
  /** Digits of a session code. */
  readonly sessionCodeLength: number;
  /** How long a session code is valid. */
  readonly sessionCodeTtlSeconds: number;
  /** Shortest wait between two sends of a session code. */
  readonly sessionResendIntervalSeconds: number;
  /** Resends allowed after the first code. */
  readonly sessionMaxResends: number;
  /** Operator chosen for each step when set; other steps take the earliest-registered processing operator offering them. */
  readonly chainOperators: Readonly<Partial<Record<ProcessingStep, string>>>;
  /** Out-of-band sends (codes over SMTP, a gateway, files) running at once, outside the consumer. */
  readonly oobSendConcurrency: number;
  /** How long shutdown waits for queued out-of-band sends to finish. */
  readonly oobSendDrainSeconds: number;
  /**
   * How long a newly verified second channel waits before it may receive session codes while the party has (or had)
   * an older verified one (`chooseSessionChannel`, issue #8); 0 turns the wait off.
   */
  readonly channelCoolingHours: number;
}

export const CERTIFIER_CONFIG = Symbol('CertifierConfig');

/** The variables the certifier reads, with their defaults (for the README's table). */
export const CERTIFIER_ENVIRONMENT = {
  SESSION_CODE_LENGTH: { default: '6', help: 'digits of the one-time session code (6 to 12)' },
  SESSION_CODE_TTL_SECONDS: { default: '300', help: 'lifetime of a session code, seconds (30 to 3600)' },
  SESSION_RESEND_INTERVAL_SECONDS: { default: '30', help: 'shortest wait between two sends of a session code, seconds (0 to 3600)' },
  SESSION_MAX_RESENDS: { default: '3', help: 'resends of a session code allowed after the first (0 to 20)' },
  OOB_SEND_CONCURRENCY: { default: '16', help: 'out-of-band sends of session codes running at once, apart from the consumer (1 to 1024)' },
  OOB_SEND_DRAIN_SECONDS: { default: '10', help: 'how long shutdown waits for queued out-of-band sends to finish, seconds (0 to 300)' },
  CHANNEL_COOLING_HOURS: {
    default: String(DEFAULT_CHANNEL_COOLING_HOURS),
    help: 'hours a newly verified second channel waits before it receives session codes while an older verified one exists (0 to 720; 0: no wait)',
  },
  CHAIN_OPERATORS: {
    default: '',
    help: 'operator per processing step, e.g. seal=<partyId>,deliver=<partyId>; unset steps take the earliest-registered processing operator offering them',
  },
} as const;

export class CertifierConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`The certifier configuration is invalid:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'CertifierConfigError';
  }
}

/** Reads and checks every certifier variable; throws one CertifierConfigError listing every problem. */
export function loadCertifierConfig(env: Readonly<Record<string, string | undefined>>): CertifierConfig {
  const problems: string[] = [];
  const read = (name: keyof typeof CERTIFIER_ENVIRONMENT): string => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? CERTIFIER_ENVIRONMENT[name].default : value;
  };
  const integer = (name: keyof typeof CERTIFIER_ENVIRONMENT, min: number, max: number): number => {
    const raw = read(name);
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name}="${raw}" must be an integer between ${min} and ${max}`);
      return Number(CERTIFIER_ENVIRONMENT[name].default);
    }
    return value;
  };

  const sessionCodeLength = integer('SESSION_CODE_LENGTH', 6, 12);
  const sessionCodeTtlSeconds = integer('SESSION_CODE_TTL_SECONDS', 30, 3600);
  const sessionResendIntervalSeconds = integer('SESSION_RESEND_INTERVAL_SECONDS', 0, 3600);
  const sessionMaxResends = integer('SESSION_MAX_RESENDS', 0, 20);
  const oobSendConcurrency = integer('OOB_SEND_CONCURRENCY', 1, 1024);
  const oobSendDrainSeconds = integer('OOB_SEND_DRAIN_SECONDS', 0, 300);
  const channelCoolingHours = integer('CHANNEL_COOLING_HOURS', 0, 720);

  const chainOperators: Partial<Record<ProcessingStep, string>> = {};
  const rawChain = read('CHAIN_OPERATORS');
  for (const entry of rawChain
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const match = /^([a-z-]+)=(\S+)$/.exec(entry);
    if (!match) {
      problems.push(`CHAIN_OPERATORS entry "${entry}" must be step=partyId (e.g. seal=3f1c…)`);
      continue;
    }
    const [, step, partyId] = match;
    if (!PROCESSING_STEPS.includes(step as ProcessingStep)) {
      problems.push(`CHAIN_OPERATORS entry "${entry}": step "${step}" must be one of ${PROCESSING_STEPS.join(', ')}`);
    } else if (chainOperators[step as ProcessingStep] !== undefined) {
      problems.push(`CHAIN_OPERATORS names step "${step}" twice; give one operator per step`);
    } else {
      chainOperators[step as ProcessingStep] = partyId;
    }
  }

  if (problems.length > 0) throw new CertifierConfigError(problems);
  return {
    sessionCodeLength,
    sessionCodeTtlSeconds,
    sessionResendIntervalSeconds,
    sessionMaxResends,
    chainOperators,
    oobSendConcurrency,
    oobSendDrainSeconds,
    channelCoolingHours,
  };
}
