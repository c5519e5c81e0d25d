import { HttpException, HttpStatus, Inject, Injectable, Logger, type OnModuleInit, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { CLOCK, type Clock, type Reason } from '@sigillum/contracts';
import type { Request } from 'express';
import { DOMICILE_CONFIG, type DomicileConfig } from '../domicile.config';
import { addressSubject, HOUR_MS, type RateDecision, type RateLimit, rateLimitMessage } from './rate-limits';
import { type RateTake, SessionRateStore } from './session-rate.store';
import type { CodeOutcome } from './session.service';

/** What an admitted request counted, given back when the request wrote nothing. */
export interface Admission {
  /** Runs the admitted work; if it fails (refused by the decider, nothing written), what was counted is given back. */
  during<T>(work: () => Promise<T>): Promise<T>;
  release(): void;
}

/** A code submission admitted: it counts only if the code was wrong. */
export interface CodeAdmission extends Admission {
  settle(outcome: CodeOutcome): void;
}

const admitted = (release: () => void): Admission => {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    release();
  };
  return {
    release: once,
    async during(work) {
      try {
        return await work();
      } catch (error) {
        once();
        throw error;
      }
    },
  };
};

/** Nothing to count (the session does not exist: the decider answers 404 and writes nothing). */
const NOTHING: CodeAdmission = { ...admitted(() => undefined), settle: () => undefined };

/** How often the counters of keys nobody asks about any more are dropped. */
const SWEEP_EVERY_MS = 5 * 60_000;

/**
 * The session abuse limits (NIST SP 800-63B: out-of-band codes rate-limited), applied before a request reaches
 * the session decider, so that a refused request writes no event and sends no code:
 *
 * - `POST /sessions` and `POST /sessions/:id/resend` (each makes the certifier send a code): per client address
 *   and per user in a sliding hour, and refused while the user's wrong codes fill their window;
 * - `POST /sessions/:id/code`: refused while the user's wrong codes, across all of its sessions, fill their window;
 *   a wrong code counts.
 *
 * A refusal is 429 with `Retry-After` (seconds until the window frees a slot) and reasons naming the rules. The
 * counters live in LOCAL_DB (SessionRateStore), keyed by the user id as asked for (whether or not such a party
 * exists: the answer is the same for any id) and the client address (`request.ip`, see TRUST_PROXY). Time is
 * the injected clock's. The account lock is not an event: each wrong code already is one (SessionCodeRejected);
 * the lock is logged once, when the wrong code that fills the window is counted.
 */
@Injectable()
export class SessionRateLimiter implements OnModuleInit {
  private readonly log = new Logger('SessionLimits');
  private readonly limits: { readonly address: RateLimit; readonly user: RateLimit; readonly attempts: RateLimit };
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: SessionRateStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DOMICILE_CONFIG) private readonly config: DomicileConfig,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {
    const limits = config.sessionLimits;
    this.limits = {
      address: { rule: 'session.rate-limited.address', limit: limits.requestsPerAddressPerHour, windowMs: HOUR_MS },
      user: { rule: 'session.rate-limited.user', limit: limits.codesPerUserPerHour, windowMs: HOUR_MS },
      attempts: { rule: 'session.rate-limited.attempts', limit: limits.failedCodesPerUser, windowMs: limits.failedCodesWindowMinutes * 60_000 },
    };
  }

  /** Applies TRUST_PROXY to the HTTP server, so that `request.ip` names the client behind the proxies. */
  onModuleInit(): void {
    const trust = this.config.trustProxy;
    if (this.limits.address.limit === 0) this.log.warn('SESSION_REQUESTS_PER_ADDRESS_PER_HOUR=0: session requests are not limited per client address.');
    if (trust === false) return;
    const server = this.adapterHost?.httpAdapter?.getInstance?.() as { set?: (name: string, value: unknown) => void } | undefined;
    if (typeof server?.set !== 'function') return;
    server.set('trust proxy', Array.isArray(trust) ? [...trust] : trust);
    if (trust === true) {
      this.log.warn("TRUST_PROXY=true: any client can name its own address in X-Forwarded-For; give the hops or the proxies' addresses instead.");
    }
  }

  /** `POST /sessions` for `userId`: counts one request for the client address and one code for the user. */
  admitSessionRequest(http: Request, userId: string): Admission {
    return this.admitCodeSending(http, userId);
  }

  /** `POST /sessions/:id/resend` on a session of `userId` (null: no such session): the limits of a new session, it sends a code too. */
  admitResend(http: Request, userId: string | null): Admission {
    return userId === null ? NOTHING : this.admitCodeSending(http, userId);
  }

  /** `POST /sessions/:id/code` on a session of `userId` (null: no such session): refused while the user's wrong codes fill the window. */
  admitCode(http: Request, userId: string | null): CodeAdmission {
    if (userId === null) return NOTHING;
    const attempts = this.limits.attempts;
    const { taken, countedAfter } = this.take(http, [{ limit: attempts, subject: userId, count: true }]);
    const admission = admitted(() => this.store.release(taken));
    return {
      ...admission,
      settle: (outcome) => {
        const wrong =
          outcome.kind === 'rejected' && outcome.events.some((event) => event.type === 'SessionCodeRejected' && event.data.rule === 'code.mismatch');
        if (!wrong) return admission.release();
        if (countedAfter.get(attempts.rule) === attempts.limit) {
          this.log.warn(
            `User ${userId}: ${attempts.limit} wrong codes within ${this.config.sessionLimits.failedCodesWindowMinutes} minute(s) across its sessions; ` +
              'its code submissions, resends and new sessions are refused (429 session.rate-limited.attempts) until the window passes.',
          );
        }
      },
    };
  }

  private admitCodeSending(http: Request, userId: string): Admission {
    const { taken } = this.take(http, [
      { limit: this.limits.address, subject: addressSubject(http.ip ?? http.socket?.remoteAddress), count: true },
      { limit: this.limits.user, subject: userId, count: true },
      { limit: this.limits.attempts, subject: userId, count: false },
    ]);
    return admitted(() => this.store.release(taken));
  }

  /** Takes the slots or throws the 429 (with Retry-After set on the response). */
  private take(http: Request, takes: readonly RateTake[]) {
    const now = this.clock.now().getTime();
    const result = this.store.take(takes, now);
    if (now - this.lastSweep >= SWEEP_EVERY_MS) {
      this.lastSweep = now;
      this.store.sweep(Object.values(this.limits), now);
    }
    if (!result.decision.allowed) throw this.refusal(http, result.decision);
    return result;
  }

  private refusal(http: Request, decision: Extract<RateDecision, { allowed: false }>): HttpException {
    const byRule = new Map(Object.values(this.limits).map((limit) => [limit.rule, limit]));
    const reasons: Reason[] = decision.refused.map(({ rule }) => ({ rule, message: rateLimitMessage(byRule.get(rule)!) }));
    http.res?.setHeader('Retry-After', String(decision.retryAfterSeconds));
    return new HttpException(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        code: 'SESSION.RATE_LIMITED',
        message: `Too many requests; try again in ${decision.retryAfterSeconds} second(s); see reasons`,
        reasons,
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}
