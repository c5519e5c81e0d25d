/** How the certifier runs certified processing chains: deadlines, the retry/reroute policy and manual retries, read once at start. */
export interface ChainConfig {
  /** Seconds an operator has to acknowledge a certification token after it is issued. */
  readonly ackSeconds: number;
  /** Tokens issued for one step at most (the first plus retries) before the chain fails. */
  readonly maxAttempts: number;
  /** On a retry, prefer another processing operator offering the step that holds the kind's level now. */
  readonly reroute: boolean;
  /** Manual retries of one failed chain at most (staff, POST /chains/:id/retry; rules/chain-retry.ts); 0 turns them off. */
  readonly manualRetries: number;
}

export const CHAIN_CONFIG = Symbol('ChainConfig');

/** The variables the chain reads, with their defaults (for the README's table). */
export const CHAIN_ENVIRONMENT = {
  CHAIN_ACK_SECONDS: { default: '60', help: 'seconds an operator has to acknowledge a certification token (1 to 86400)' },
  CHAIN_MAX_ATTEMPTS: { default: '3', help: 'tokens issued for one processing step at most, first included, before the chain fails (1 to 10)' },
  CHAIN_REROUTE: {
    default: 'true',
    help: 'true: a retry goes to another processing operator offering the step at the required level when there is one; false: always the same operator',
  },
  CHAIN_MANUAL_RETRIES: {
    default: '2',
    help: 'manual retries of one failed chain at most, by ops or admin staff (POST /chains/:correspondenceId/retry); 0 turns them off (0 to 10)',
  },
} as const;

export class ChainConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`The certified chain configuration is invalid:\n${problems.map((problem) => `  - ${problem}`).join('\n')}\nFix these variables and start again.`);
    this.name = 'ChainConfigError';
  }
}

/** Reads and checks every chain variable; throws one ChainConfigError listing every problem. */
export function loadChainConfig(env: Readonly<Record<string, string | undefined>>): ChainConfig {
  const problems: string[] = [];
  const read = (name: keyof typeof CHAIN_ENVIRONMENT): string => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? CHAIN_ENVIRONMENT[name].default : value;
  };
  const integer = (name: keyof typeof CHAIN_ENVIRONMENT, min: number, max: number): number => {
    const raw = read(name);
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name}="${raw}" must be an integer between ${min} and ${max}`);
      return Number(CHAIN_ENVIRONMENT[name].default);
    }
    return value;
  };

  const ackSeconds = integer('CHAIN_ACK_SECONDS', 1, 86_400);
  const maxAttempts = integer('CHAIN_MAX_ATTEMPTS', 1, 10);
  const manualRetries = integer('CHAIN_MANUAL_RETRIES', 0, 10);
  const rawReroute = read('CHAIN_REROUTE').toLowerCase();
  if (rawReroute !== 'true' && rawReroute !== 'false') problems.push(`CHAIN_REROUTE="${read('CHAIN_REROUTE')}" must be true or false`);

  if (problems.length > 0) throw new ChainConfigError(problems);
  return { ackSeconds, maxAttempts, reroute: rawReroute === 'true', manualRetries };
}
