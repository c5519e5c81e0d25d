import * as fs from 'node:fs';
import * as os from 'node:os';
import { integerSetting, synchronousSetting, refuseProblems } from '../common/report';

// session.bench.ts's settings, read from the environment (see its header).

export interface Settings {
  readonly sessions: number;
  readonly concurrency: number;
  readonly users: number;
  readonly warmup: number;
  readonly synchronous: 'NORMAL' | 'FULL';
  readonly brokers?: string;
  readonly phaseTimeoutMs: number;
  readonly outboxRoot: string;
  /** The domicile's abuse limits for this run (as variables), lifted unless set. */
  readonly sessionLimits: { readonly SESSION_CODES_PER_USER_PER_HOUR: string; readonly SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: string };
}

export function readSettings(env: NodeJS.ProcessEnv): Settings {
  const problems: string[] = [];
  const integer = integerSetting(env, problems);
  const sessions = integer('BENCH_SESSIONS', 2_000, 10);
  const concurrency = integer('BENCH_CONCURRENCY', 32, 1);
  const users = integer('BENCH_USERS', 50, 1);
  const warmup = integer('BENCH_WARMUP', 200, 0);
  const phaseTimeoutS = integer('BENCH_PHASE_TIMEOUT_S', 300, 1);
  const synchronous = synchronousSetting(env, problems);
  // The apps' rule: KAFKA_BROKERS implies the Kafka bus (BENCH_KAFKA=1 only insists on it).
  const brokers = env.KAFKA_BROKERS?.trim() || undefined;
  if (env.BENCH_KAFKA?.trim() === '1' && !brokers) {
    problems.push('BENCH_KAFKA=1 needs KAFKA_BROKERS, e.g. KAFKA_BROKERS=127.0.0.1:9092 (bash scripts/kafka.sh start)');
  }
  const shm = '/dev/shm';
  const outboxRoot = env.BENCH_OUTBOX_DIR?.trim() || (isWritableDir(shm) ? shm : os.tmpdir());
  refuseProblems(problems);
  // One client address opening thousands of sessions for BENCH_USERS users is the load, not an abuse.
  const sessionLimits = {
    SESSION_CODES_PER_USER_PER_HOUR: env.SESSION_CODES_PER_USER_PER_HOUR?.trim() || '10000',
    SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: env.SESSION_REQUESTS_PER_ADDRESS_PER_HOUR?.trim() || '0',
  };
  return {
    sessions,
    concurrency,
    users,
    warmup,
    synchronous,
    brokers,
    phaseTimeoutMs: phaseTimeoutS * 1000,
    outboxRoot,
    sessionLimits,
  };
}

function isWritableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
