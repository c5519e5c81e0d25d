import { ConfigError } from '@sigillum/config';

/** The correspondence side of the private office: how long recipients have to answer. */
export const CORRESPONDENCE_CONFIG = Symbol('CorrespondenceConfig');

export interface CorrespondenceConfig {
  /** Acceptance window: from delivery to `acceptBy`. */
  readonly acceptanceWindowSeconds: number;
}

export const CORRESPONDENCE_ENVIRONMENT = {
  ACCEPTANCE_WINDOW_DAYS: { default: '15', help: 'days a recipient has to accept or refuse a delivered correspondence (1-365)' },
  ACCEPTANCE_WINDOW_SECONDS: { default: '', help: 'the same window in seconds, for tests and demos (1-31536000); not together with ACCEPTANCE_WINDOW_DAYS' },
} as const;

const DAY_SECONDS = 24 * 3600;

/** Reads and validates the window; throws ConfigError naming every problem at once. */
export function loadCorrespondenceConfig(env: Readonly<Record<string, string | undefined>>): CorrespondenceConfig {
  const problems: string[] = [];
  const given = (name: keyof typeof CORRESPONDENCE_ENVIRONMENT) => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const integer = (name: keyof typeof CORRESPONDENCE_ENVIRONMENT, raw: string, min: number, max: number) => {
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name}="${raw}" must be an integer between ${min} and ${max} (${CORRESPONDENCE_ENVIRONMENT[name].help})`);
    }
    return value;
  };
  const days = given('ACCEPTANCE_WINDOW_DAYS');
  const seconds = given('ACCEPTANCE_WINDOW_SECONDS');
  if (days !== undefined && seconds !== undefined) {
    problems.push('Set ACCEPTANCE_WINDOW_DAYS or ACCEPTANCE_WINDOW_SECONDS, not both: they say the same thing');
  }
  const acceptanceWindowSeconds =
    seconds !== undefined
      ? integer('ACCEPTANCE_WINDOW_SECONDS', seconds, 1, 365 * DAY_SECONDS)
      : integer('ACCEPTANCE_WINDOW_DAYS', days ?? CORRESPONDENCE_ENVIRONMENT.ACCEPTANCE_WINDOW_DAYS.default, 1, 365) * DAY_SECONDS;
  if (problems.length > 0) throw new ConfigError(problems);
  return { acceptanceWindowSeconds };
}
