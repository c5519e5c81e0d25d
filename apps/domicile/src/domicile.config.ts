import { isIP } from 'node:net';
import { Module } from '@nestjs/common';
import { ConfigError, loadCorrespondenceKinds, type SigillumConfig } from '@sigillum/config';
import { SIGILLUM_CONFIG } from '@sigillum/runtime';
import { DEFAULT_TRUST_LEVELS, type TrustLevel } from '@sigillum/contracts';
import { DEFAULT_CHANNEL_COOLING_HOURS } from '@sigillum/contracts/directory/channel-choice';
import type { SessionPolicy } from './session/session.decider';

/** The domicile's validated configuration. */
export const DOMICILE_CONFIG = Symbol('DomicileConfig');

export interface DomicileConfig {
  readonly session: SessionPolicy & {
    /** How long `POST /sessions` waits for the trust check and the challenge before answering 202. */
    readonly requestWaitMs: number;
  };
  /** Abuse limits on opening sessions (see session/rate-limits.ts). */
  readonly sessionLimits: SessionLimits;
  /** Express `trust proxy`: whose X-Forwarded-For gives the client address the per-address limit counts. */
  readonly trustProxy: TrustProxy;
  /**
   * CHANNEL_COOLING_HOURS, read as the certifier reads it: a newly verified channel does not receive delivery notices
   * while an older verified one exists, the same rule as for session codes (`chooseSessionChannel`).
   */
  readonly channelCoolingHours: number;
}

export interface SessionLimits {
  /** Codes asked for (session requests and resends) per user in a sliding hour. */
  readonly codesPerUserPerHour: number;
  /** Session requests and resends per client address in a sliding hour; 0 turns the limit off. */
  readonly requestsPerAddressPerHour: number;
  /** Wrong codes per user, across all of its sessions, before new sessions and codes are refused... */
  readonly failedCodesPerUser: number;
  /** ...within this sliding window. */
  readonly failedCodesWindowMinutes: number;
}

/** `false`: the socket's address; `true`: the leftmost X-Forwarded-For (any client can forge it); a number: hops; or the proxies' addresses. */
export type TrustProxy = boolean | number | readonly string[];

/** Every variable the domicile reads, with its default and meaning (same shape as @sigillum/config ENVIRONMENT). */
export const DOMICILE_ENVIRONMENT = {
  SESSION_PRESET_LEVEL: { default: 'substantial', help: `preset level every party of a session must meet (${DEFAULT_TRUST_LEVELS.join(' | ')})` },
  SESSION_MAX_ATTEMPTS: { default: '3', help: 'wrong codes allowed per challenge before the session is locked (1-10)' },
  SESSION_LOCKOUT_SECONDS: { default: '900', help: 'lock-out length after too many wrong codes; 0 locks for good (0-604800)' },
  SESSION_IDLE_SECONDS: { default: '900', help: 'an open session expires after this long without use (60-86400)' },
  SESSION_ABSOLUTE_SECONDS: { default: '28800', help: 'an open session expires this long after it opened, used or not (>= idle, <= 604800)' },
  SESSION_REQUEST_WAIT_MS: { default: '3000', help: 'how long POST /sessions waits for the challenge before answering 202 (0-30000)' },
  SESSION_CODES_PER_USER_PER_HOUR: {
    default: '5',
    help: 'session requests and resends (each sends a code) per user in a sliding hour; more answer 429 (1-10000)',
  },
  SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: {
    default: '30',
    help: 'session requests and resends per client address (IPv6: per /64) in a sliding hour; more answer 429; 0 turns it off (0-1000000)',
  },
  SESSION_FAILED_CODES_PER_USER: {
    default: '10',
    help: "wrong codes per user across all of its sessions; past it, the user's code submissions, resends and new sessions answer 429 (1-100)",
  },
  SESSION_FAILED_CODES_WINDOW_MINUTES: { default: '60', help: 'the sliding window SESSION_FAILED_CODES_PER_USER counts in (1-1440)' },
  CHANNEL_COOLING_HOURS: {
    default: String(DEFAULT_CHANNEL_COOLING_HOURS),
    help: 'hours a newly verified second channel waits before it receives delivery notices while an older verified one exists (0 to 720; 0: no wait; the certifier reads it for session codes)',
  },
  TRUST_PROXY: {
    default: 'false',
    help: "whose X-Forwarded-For names the client: false (nobody: the socket address), a number of proxy hops (1-10), or the proxies' addresses/subnets (comma list; loopback, linklocal, uniquelocal allowed); true trusts anyone",
  },
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
  const sessionLimits: SessionLimits = {
    codesPerUserPerHour: integer('SESSION_CODES_PER_USER_PER_HOUR', 1, 10_000),
    requestsPerAddressPerHour: integer('SESSION_REQUESTS_PER_ADDRESS_PER_HOUR', 0, 1_000_000),
    // NIST SP 800-63B 5.2.2: no more than 100 failed attempts on one account.
    failedCodesPerUser: integer('SESSION_FAILED_CODES_PER_USER', 1, 100),
    failedCodesWindowMinutes: integer('SESSION_FAILED_CODES_WINDOW_MINUTES', 1, 1440),
  };
  const trustProxy = parseTrustProxy(read('TRUST_PROXY'), problems);
  const channelCoolingHours = integer('CHANNEL_COOLING_HOURS', 0, 720);

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
    sessionLimits,
    trustProxy,
    channelCoolingHours,
  };
}

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** TRUST_PROXY as Express's `trust proxy` takes it; a bad value is a problem naming the variable. */
function parseTrustProxy(raw: string, problems: string[]): TrustProxy {
  const value = raw.toLowerCase();
  if (value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops >= 1 && hops <= 10) return hops;
    problems.push(`TRUST_PROXY="${raw}" must be false, true, a number of hops between 1 and 10, or addresses (${DOMICILE_ENVIRONMENT.TRUST_PROXY.help})`);
    return false;
  }
  const items = value.split(',').map((item) => item.trim());
  const bad = items.filter((item) => !PROXY_NAMES.includes(item) && !isAddressOrSubnet(item));
  if (bad.length > 0) {
    problems.push(
      `TRUST_PROXY="${raw}" must be false, true, a number of hops or a comma list of addresses, subnets (a.b.c.d/n, x::/n) or ${PROXY_NAMES.join(', ')}; ` +
        `not ${bad.map((item) => `"${item}"`).join(', ')}`,
    );
    return false;
  }
  return items;
}

function isAddressOrSubnet(item: string): boolean {
  const [address, prefix, ...rest] = item.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** Provides DOMICILE_CONFIG from the environment; a bad variable stops the start with every problem listed. */
@Module({
  providers: [{ provide: DOMICILE_CONFIG, useFactory: (config: SigillumConfig) => loadDomicileConfig(config.env), inject: [SIGILLUM_CONFIG] }],
  exports: [DOMICILE_CONFIG],
})
export class DomicileConfigModule {}
