import type { CertificationToken } from '@sigillum/contracts';
import {
  atDeadline,
  deadlineOf,
  deadlinePassed,
  deadlinesInOrder,
  dueDeadlines,
  lateAcknowledgement,
  lateReturn,
  missedDeadlineReason,
  overlongStep,
  tokenDeadlines,
} from './token-deadlines';

const at = (seconds: number) => new Date(Date.UTC(2026, 5, 1, 12, 0, 0) + seconds * 1000);
const t = (seconds: number) => at(seconds).toISOString();

const token: CertificationToken = {
  tokenId: 'tok-1',
  correspondenceId: 'c-1',
  stepIndex: 0,
  step: 'seal',
  attempt: 2,
  operatorId: 'op-1',
  specificationVersion: 1,
  inputDigest: 'a'.repeat(64),
  parameters: {},
  issuedAt: t(0),
  acknowledgeBy: t(30),
  returnBy: t(600),
};

describe('token deadlines', () => {
  describe('computation', () => {
    it('given a step the operator offers for 600 s, when a token is issued with 30 s to acknowledge, then acknowledge by +30 s and return by +600 s', () => {
      expect(tokenDeadlines(at(0), { maxDurationSeconds: 600 }, 30)).toEqual({ acknowledgeBy: t(30), returnBy: t(600) });
    });

    it('given a step shorter than the acknowledgement time, then receipt is due no later than the work', () => {
      expect(tokenDeadlines(at(0), { maxDurationSeconds: 10 }, 30)).toEqual({ acknowledgeBy: t(10), returnBy: t(10) });
    });

    it('given an operator whose specification no longer offers the step, then both are due after the acknowledgement time', () => {
      expect(tokenDeadlines(at(0), undefined, 30)).toEqual({ acknowledgeBy: t(30), returnBy: t(30) });
    });

    it('computed deadlines are always in order', () => {
      for (const [spec, ack] of [
        [{ maxDurationSeconds: 1 }, 60],
        [{ maxDurationSeconds: 3600 }, 1],
        [undefined, 5],
      ] as const) {
        expect(deadlinesInOrder({ issuedAt: t(0), ...tokenDeadlines(at(0), spec, ack) })).toBe(true);
      }
    });
  });

  describe('order', () => {
    it('given issued ≤ acknowledge by ≤ return by, then in order; any other order is not', () => {
      expect(deadlinesInOrder(token)).toBe(true);
      expect(deadlinesInOrder({ issuedAt: t(0), acknowledgeBy: t(0), returnBy: t(0) })).toBe(true);
      expect(deadlinesInOrder({ issuedAt: t(0), acknowledgeBy: t(700), returnBy: t(600) })).toBe(false);
      expect(deadlinesInOrder({ issuedAt: t(40), acknowledgeBy: t(30), returnBy: t(600) })).toBe(false);
    });
  });

  describe('never early', () => {
    it('given the acknowledgement deadline at +30 s, when it is +29.999 s, then it has not passed; at +30 s it has', () => {
      expect(deadlineOf(token, 'acknowledgement')).toBe(t(30));
      expect(deadlinePassed(token, 'acknowledgement', at(29.999))).toBe(false);
      expect(deadlinePassed(token, 'acknowledgement', at(30))).toBe(true);
    });

    it('given the return deadline at +600 s, when the acknowledgement one passed, then the return one has not', () => {
      expect(deadlinePassed(token, 'return', at(31))).toBe(false);
      expect(deadlinePassed(token, 'return', at(600))).toBe(true);
    });

    it('one timer per deadline, at its time', () => {
      expect(dueDeadlines(token)).toEqual([
        { missing: 'acknowledgement', dueAt: t(30) },
        { missing: 'return', dueAt: t(600) },
      ]);
    });
  });

  describe('lateness', () => {
    it('given an acknowledgement at the deadline, then in time; a millisecond after, or undated, then ack.late', () => {
      expect(lateAcknowledgement(token, t(30))).toBeNull();
      expect(lateAcknowledgement(token, t(30.001))).toEqual({ rule: 'ack.late', message: `acknowledged at ${t(30.001)}, after the deadline ${t(30)}` });
      expect(lateAcknowledgement(token, undefined)?.rule).toBe('ack.late');
    });

    it('given a return dated after returnBy, then deadline.exceeded', () => {
      expect(lateReturn(token, t(600), null)).toBeNull();
      expect(lateReturn(token, t(601), null)).toEqual({ rule: 'deadline.exceeded', message: `returned at ${t(601)}, after the deadline ${t(600)}` });
    });

    it('given a return dated in time but recorded by the processor after returnBy, then deadline.exceeded whatever it says', () => {
      expect(lateReturn(token, t(500), t(601))).toEqual({
        rule: 'deadline.exceeded',
        message: `the return was recorded at ${t(601)}, after the deadline ${t(600)}`,
      });
      expect(lateReturn(token, t(500), t(600))).toBeNull();
    });

    it('given work that took longer than the specification allows, then deadline.exceeded; no specification, no limit', () => {
      expect(overlongStep(0, 60_000, { maxDurationSeconds: 60 })).toBeNull();
      expect(overlongStep(0, 61_000, { maxDurationSeconds: 60 })).toEqual({
        rule: 'deadline.exceeded',
        message: 'the step took 61 s, more than the 60 s its specification allows',
      });
      expect(overlongStep(0, 61_000, undefined)).toBeNull();
    });
  });

  describe('when a deadline comes due', () => {
    it('given an acknowledgement in time, then nothing; late or missing, then missed', () => {
      expect(atDeadline(token, 'acknowledgement', { acknowledgedAt: t(29), settled: false })).toBe('nothing');
      expect(atDeadline(token, 'acknowledgement', { acknowledgedAt: t(31), settled: false })).toBe('missed');
      expect(atDeadline(token, 'acknowledgement', { acknowledgedAt: null, settled: false })).toBe('missed');
    });

    it("given a job already returned, then the acknowledgement deadline does nothing (the return's check judges a late acknowledgement)", () => {
      expect(atDeadline(token, 'acknowledgement', { acknowledgedAt: t(31), settled: true })).toBe('nothing');
    });

    it('given a return or a failure still unsettled at the return deadline, then it is settled from the job; nothing there, then missed', () => {
      expect(atDeadline(token, 'return', { acknowledgedAt: t(29), settled: true })).toBe('settle-from-job');
      expect(atDeadline(token, 'return', { acknowledgedAt: t(29), settled: false })).toBe('missed');
    });

    it('a missed deadline names the operator, the token, its step and attempt, and the time', () => {
      expect(missedDeadlineReason(token, 'acknowledgement')).toEqual({
        rule: 'deadline.acknowledgement-missed',
        message: `operator op-1 did not acknowledge token tok-1 (step seal, attempt 2) by ${t(30)}`,
        partyId: 'op-1',
        subjectRole: 'operator',
      });
      expect(missedDeadlineReason(token, 'return')).toMatchObject({
        rule: 'deadline.return-missed',
        message: `operator op-1 did not return token tok-1 (step seal, attempt 2) by ${t(600)}`,
      });
    });
  });
});
