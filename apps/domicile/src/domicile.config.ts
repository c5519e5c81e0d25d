import { Module } from '@nestjs/common';
import { ConfigError, loadCorrespondenceKinds, type SigillumConfig } from '@sigillum/config';
import { SIGILLUM_CONFIG } from '@sigillum/runtime';
import { DEFAULT_TRUST_LEVELS, type TrustLevel } from '@sigillum/contracts';
import type { SessionPolicy } from './session/session.decider';

/** The domicile's validated configuration. */
export const DOMICILE_CONFIG = Symbol('DomicileConfig');

export interface DomicileConfig {
  readonly session: SessionPolicy & {
    /** How long `POST /sessions` waits for the trust check and the challenge before answering 202. */
    readonly requestWaitMs: number;
  };
}

/** Every variable the domicile reads, with its default and meaning (same shape as @sigillum/config ENVIRONMENT). */
export const DOMICILE_ENVIRONMENT = {
  SESSION_PRESET_LEVEL: { default: 'substantial', help: `preset level every party of a session must meet (${DEFAULT_TRUST_LEVELS.join(' | ')})` },
  SESSION_MAX_ATTEMPTS: { default: '3', help: 'wrong codes allowed per challenge before the session is locked (1-10)' },
  SESSION_LOCKOUT_SECONDS: { default: '900', help: 'lock-out length after too many wrong codes; 0 locks for good (0-604800)' },
  SESSION_IDLE_SECONDS: { default: '900', help: 'an open session expires after this long without use (60-86400)' },
  SESSION_ABSOLUTE_SECONDS: { default: '28800', help: 'an open session expires this long after it opened, used or not (>= idle, <= 604800)' },
  SESSION_REQUEST_WAIT_MS: { default: '3000', help: 'how long POST /sessions waits for the challenge before answering 202 (0-30000)' },
} as const;

type Name = keyof typeof DOMICILE_ENVIRONMENT;

/** At most this many counterparts in one session (a correspondence context, not a mailing list). */
export const MAX_COUNTERPARTS = 50;

/** Reads and validates the domicile's variables; throws ConfigError naming every problem at once. */
export function loadDomicileConfig(env: Readonly<Record<string, string | undefined>>): DomicileConfig {
  const problems: string[] = [];
  const read = (name: Name) => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? DOMICILE_ENVIRONMENT[name].default : value.trim();
  };
  const integer = (name: Name, min: number, max: number) => {
    const raw = read(name);
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name}="${raw}" must be an integer between ${min} and ${max} (${DOMICILE_ENVIRONMENT[name].help})`);
    }
    return value;
  };

  const presetLevel: TrustLevel = read('SESSION_PRESET_LEVEL');
  if (!DEFAULT_TRUST_LEVELS.includes(presetLevel)) {
    problems.push(`SESSION_PRESET_LEVEL="${presetLevel}" must be one of ${DEFAULT_TRUST_LEVELS.join(', ')}`);
  }
  const maxAttempts = integer('SESSION_MAX_ATTEMPTS', 1, 10);
  const lockoutSeconds = integer('SESSION_LOCKOUT_SECONDS', 0, 604_800);
  const idleSeconds = integer('SESSION_IDLE_SECONDS', 60, 86_400);
  const absoluteSeconds = integer('SESSION_ABSOLUTE_SECONDS', 60, 604_800);
  const requestWaitMs = integer('SESSION_REQUEST_WAIT_MS', 0, 30_000);
  if (Number.isInteger(idleSeconds) && Number.isInteger(absoluteSeconds) && absoluteSeconds < idleSeconds) {
    problems.push(`SESSION_ABSOLUTE_SECONDS (${absoluteSeconds}) must not be shorter than SESSION_IDLE_SECONDS (${idleSeconds})`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    session: {
      presetLevel,
      correspondenceKinds: loadCorrespondenceKinds(env).map((kind) => kind.name),
      maxCounterparts: MAX_COUNTERPARTS,
      maxAttempts,
      lockoutSeconds,
      idleSeconds,
      absoluteSeconds,
      requestWaitMs,
    },
  };
}

/** Provides DOMICILE_CONFIG from the environment; a bad variable stops the start with every problem listed. */
@Module({
  providers: [{ provide: DOMICILE_CONFIG, useFactory: (config: SigillumConfig) => loadDomicileConfig(config.env), inject: [SIGILLUM_CONFIG] }],
  exports: [DOMICILE_CONFIG],
})
export class DomicileConfigModule {}
