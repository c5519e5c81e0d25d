import type { ChannelHint, SecondChannelDeliveryFailed, SessionSecretIssued } from '@sigillum/contracts';
import { deciderSpecification } from '@sigillum/testing/decider-specification';
import { type IssueSessionSecret, type ResendSessionSecret, type SecretOffer, sessionSecretDecider } from './session-secret.decider';

const t0 = new Date('2026-11-25T08:00:00.000Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const spec = deciderSpecification(sessionSecretDecider);

const channel: ChannelHint = { channelId: 'c1', kind: 'sms', maskedAddress: '+33*******78' };
const offer = (verifier: string): SecretOffer => ({ kind: 'offer', verifier, verifierKeyId: 'k1', codeLength: 6, channel });
const unverified: SecretOffer = {
  kind: 'refused',
  reasons: [{ rule: 'channel.unverified', message: 'party u1 has no verified second channel (e-mail or SMS)', partyId: 'u1', subjectRole: 'user' }],
};

const issue: IssueSessionSecret = { type: 'IssueSessionSecret', sessionId: 's1', checkId: 'chk1', partyId: 'u1', offer: offer('v1'), ttlSeconds: 300, now: t0 };
const issued = (issueNumber: number, verifier: string, now: Date): SessionSecretIssued => ({
  type: 'SessionSecretIssued',
  version: 1,
  data: {
    sessionId: 's1',
    checkId: 'chk1',
    partyId: 'u1',
    issueNumber,
    verifier,
    verifierKeyId: 'k1',
    codeLength: 6,
    channel,
    issuedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 300_000).toISOString(),
  },
});
const resend = (now: Date, verifier = 'v2'): ResendSessionSecret => ({
  type: 'ResendSessionSecret',
  sessionId: 's1',
  offer: offer(verifier),
  ttlSeconds: 300,
  resendIntervalSeconds: 30,
  maxResends: 2,
  now,
});
const failed: SecondChannelDeliveryFailed = {
  type: 'SecondChannelDeliveryFailed',
  version: 1,
  data: { sessionId: 's1', issueNumber: 1, channel, reason: 'Error: gateway down', failedAt: t0.toISOString() },
};

describe('session secret decider', () => {
  describe('given no secret', () => {
    it('when issued with a channel, then SessionSecretIssued #1 naming the passed check, with the verifier and expiry now + TTL', () => {
      spec
        .given([])
        .when(issue)
        .then([issued(1, 'v1', t0)]);
    });

    it('when no usable channel, then SessionSecretRefused with the reasons', () => {
      spec
        .given([])
        .when({ ...issue, offer: unverified })
        .then([
          { type: 'SessionSecretRefused', version: 1, data: { sessionId: 's1', partyId: 'u1', reasons: unverified.reasons, refusedAt: t0.toISOString() } },
        ]);
    });

    it('when a resend is asked, then it is refused: there is nothing to resend', () => {
      spec
        .given([])
        .when(resend(t0))
        .then([
          {
            type: 'SessionSecretResendRefused',
            version: 1,
            data: {
              sessionId: 's1',
              reasons: [{ rule: 'secret.none', message: 'no code was issued for this session' }],
              retryAfter: null,
              refusedAt: t0.toISOString(),
            },
          },
        ]);
    });

    it('when a delivery failure is recorded, then nothing happens', () => {
      spec.given([]).when({ type: 'RecordDeliveryFailure', sessionId: 's1', issueNumber: 1, reason: 'x', now: t0 }).thenNothingHappens();
    });
  });

  describe('given a secret issued', () => {
    it('when issued again (a redelivered request), then nothing happens', () => {
      spec
        .given([issued(1, 'v1', t0)])
        .when({ ...issue, offer: offer('other') })
        .thenNothingHappens();
    });

    it('when a resend comes before the interval, then it is refused with retryAfter', () => {
      spec
        .given([issued(1, 'v1', t0)])
        .when(resend(at(10)))
        .then([
          {
            type: 'SessionSecretResendRefused',
            version: 1,
            data: {
              sessionId: 's1',
              reasons: [{ rule: 'resend.too-soon', message: 'a code was sent less than 30s ago', partyId: 'u1' }],
              retryAfter: at(30).toISOString(),
              refusedAt: at(10).toISOString(),
            },
          },
        ]);
    });

    it('when a resend comes after the interval, then SessionSecretIssued #2, naming the same passed check', () => {
      spec
        .given([issued(1, 'v1', t0)])
        .when(resend(at(30)))
        .then([issued(2, 'v2', at(30))]);
    });

    it('when the resends are spent, then refused for good (retryAfter null)', () => {
      spec
        .given([issued(1, 'v1', t0), issued(2, 'v2', at(30)), issued(3, 'v3', at(60))])
        .when(resend(at(600)))
        .then([
          {
            type: 'SessionSecretResendRefused',
            version: 1,
            data: {
              sessionId: 's1',
              reasons: [{ rule: 'resend.limit', message: 'the code was already resent 2 time(s), the most allowed', partyId: 'u1' }],
              retryAfter: null,
              refusedAt: at(600).toISOString(),
            },
          },
        ]);
    });

    it('when the channel is gone at resend time, then refused with the channel reason', () => {
      spec
        .given([issued(1, 'v1', t0)])
        .when({ ...resend(at(40)), offer: unverified })
        .then([
          {
            type: 'SessionSecretResendRefused',
            version: 1,
            data: { sessionId: 's1', reasons: unverified.reasons, retryAfter: null, refusedAt: at(40).toISOString() },
          },
        ]);
    });

    it('when its delivery failed, then SecondChannelDeliveryFailed, once', () => {
      const record = { type: 'RecordDeliveryFailure' as const, sessionId: 's1', issueNumber: 1, reason: 'Error: gateway down', now: t0 };
      spec
        .given([issued(1, 'v1', t0)])
        .when(record)
        .then([failed]);
      spec
        .given([issued(1, 'v1', t0), failed])
        .when(record)
        .thenNothingHappens();
      spec
        .given([issued(1, 'v1', t0)])
        .when({ ...record, issueNumber: 2 })
        .thenNothingHappens();
    });
  });

  describe('given a secret whose delivery failed', () => {
    it('when a resend comes at once, then it is not throttled by the interval', () => {
      spec
        .given([issued(1, 'v1', t0), failed])
        .when(resend(at(1)))
        .then([issued(2, 'v2', at(1))]);
    });
  });

  describe('given a refused secret', () => {
    it('when issued again, then nothing happens', () => {
      const refused = sessionSecretDecider.decide({ ...issue, offer: unverified }, sessionSecretDecider.initialState());
      spec.given(refused).when(issue).thenNothingHappens();
    });

    it('when a resend is asked, then it is refused with the original reasons', () => {
      const refused = sessionSecretDecider.decide({ ...issue, offer: unverified }, sessionSecretDecider.initialState());
      spec
        .given(refused)
        .when(resend(at(60)))
        .then([
          {
            type: 'SessionSecretResendRefused',
            version: 1,
            data: {
              sessionId: 's1',
              reasons: [{ rule: 'secret.refused', message: 'no code can be issued for this session' }, ...unverified.reasons],
              retryAfter: null,
              refusedAt: at(60).toISOString(),
            },
          },
        ]);
    });
  });
});
