import { type CorrespondenceEvent, DomainError, type SubmissionRequested } from '@sigillum/contracts';
import fc from 'fast-check';
import { deciderSpecification } from '@sigillum/testing/decider-specification';
import { type CorrespondenceCommand, correspondenceDecider, type CorrespondenceState } from './correspondence.decider';

const spec = deciderSpecification(correspondenceDecider);

const correspondenceId = 'corr-1';
const DAY = 24 * 3600;
const WINDOW = 15 * DAY;
const t0 = Date.UTC(2025, 0, 1, 9, 0);
const at = (seconds: number) => new Date(t0 + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();

function submission(consignment: 'basic' | 'consent' = 'basic', recipientIds = ['bob', 'carol']): SubmissionRequested['data'] {
  return {
    correspondenceId,
    draftId: 'draft-1',
    submissionKey: 'key-00000001',
    senderId: 'alice',
    sessionId: 'session-a',
    recipientIds,
    subject: 'Notice',
    kind: consignment === 'basic' ? 'registered' : 'registered-ack',
    requiredLevel: consignment === 'basic' ? 'substantial' : 'high',
    consignment,
    parts: [{ digest: 'a'.repeat(64), size: 10, contentType: 'application/pdf', name: 'notice.pdf' }],
    specimenDigest: 'b'.repeat(64),
    validationProof: 'proof',
    requestedAt: iso(0),
  };
}

const requested = (consignment: 'basic' | 'consent' = 'basic', recipientIds?: string[]): CorrespondenceEvent => ({
  type: 'SubmissionRequested',
  version: 1,
  data: submission(consignment, recipientIds),
});
const accepted: CorrespondenceEvent = { type: 'SubmissionAccepted', version: 1, data: { correspondenceId, checkId: 'check-1', acceptedAt: iso(1) } };
const delivered = (recipientId: string, deliveredAt = 60): CorrespondenceEvent => ({
  type: 'DeliveredToRecipient',
  version: 1,
  data: { correspondenceId, recipientId, tokenId: 'token-deliver', acceptBy: iso(deliveredAt + WINDOW), deliveredAt: iso(deliveredAt) },
});
const acceptedBy = (recipientId: string, seconds = 120): CorrespondenceEvent => ({
  type: 'AcceptedByRecipient',
  version: 1,
  data: { correspondenceId, recipientId, sessionId: `session-${recipientId}`, acceptedAt: iso(seconds) },
});
const refusedBy = (recipientId: string, seconds = 120): CorrespondenceEvent => ({
  type: 'RefusedByRecipient',
  version: 1,
  data: { correspondenceId, recipientId, sessionId: `session-${recipientId}`, reason: 'not mine', refusedAt: iso(seconds) },
});
const expired = (recipientId: string, seconds = 60 + WINDOW): CorrespondenceEvent => ({
  type: 'AcceptanceWindowExpired',
  version: 1,
  data: { correspondenceId, recipientId, acceptBy: iso(60 + WINDOW), expiredAt: iso(seconds) },
});

const accept = (recipientId: string, seconds: number): CorrespondenceCommand => ({
  type: 'Accept',
  recipientId,
  sessionId: `session-${recipientId}`,
  now: at(seconds),
});
const refuse = (recipientId: string, seconds: number): CorrespondenceCommand => ({
  type: 'Refuse',
  recipientId,
  sessionId: `session-${recipientId}`,
  reason: 'not mine',
  now: at(seconds),
});
const handOver = (recipientId: string, seconds: number): CorrespondenceCommand => ({
  type: 'HandOverContent',
  recipientId,
  sessionId: `session-${recipientId}`,
  now: at(seconds),
});

function refusal(error: Error): { kind: string; rules: string[] } {
  expect(error).toBeInstanceOf(DomainError);
  const domain = error as DomainError;
  return { kind: domain.kind, rules: domain.reasons.map((reason) => (typeof reason === 'string' ? reason : reason.rule)) };
}

const fold = (events: CorrespondenceEvent[]): CorrespondenceState => events.reduce(correspondenceDecider.evolve, correspondenceDecider.initialState());

describe('correspondence decider', () => {
  describe('submission (idempotent by submission key)', () => {
    it('records the submission with every field', () => {
      spec.given([]).when({ type: 'RequestSubmission', submission: submission() }).then([requested()]);
    });

    it('the same submission again changes nothing', () => {
      spec
        .given([requested()])
        .when({ type: 'RequestSubmission', submission: { ...submission(), requestedAt: iso(30) } })
        .thenNothingHappens();
    });

    it('refuses the same key for another draft', () => {
      spec
        .given([requested()])
        .when({ type: 'RequestSubmission', submission: { ...submission(), draftId: 'draft-2' } })
        .thenThrows((error) => expect(refusal(error)).toEqual({ kind: 'conflict', rules: ['submission-key.reused'] }));
    });
  });

  describe('delivery gate', () => {
    it('records the gate passing, once', () => {
      spec
        .given([requested()])
        .when({ type: 'RecordGatePassed', checkId: 'check-1', acceptedAt: iso(1) })
        .then([accepted]);
      spec
        .given([requested(), accepted])
        .when({ type: 'RecordGatePassed', checkId: 'check-1', acceptedAt: iso(1) })
        .thenNothingHappens();
    });

    it('records the refusal with its reasons, once', () => {
      const reasons = [{ rule: 'level.insufficient', message: 'recipient carol: below high', partyId: 'carol', subjectRole: 'recipient' as const }];
      const rejected: CorrespondenceEvent = {
        type: 'SubmissionRejected',
        version: 1,
        data: { correspondenceId, checkId: 'check-1', reasons, rejectedAt: iso(1) },
      };
      spec
        .given([requested()])
        .when({ type: 'RecordGateRefused', checkId: 'check-1', reasons, rejectedAt: iso(1) })
        .then([rejected]);
      spec
        .given([requested(), rejected])
        .when({ type: 'RecordGateRefused', checkId: 'check-1', reasons, rejectedAt: iso(1) })
        .thenNothingHappens();
      spec
        .given([requested(), rejected])
        .when({ type: 'RecordGatePassed', checkId: 'check-1', acceptedAt: iso(1) })
        .thenNothingHappens();
    });
  });

  describe('delivery', () => {
    it('delivers to every recipient with acceptBy = deliveredAt + window, once each', () => {
      const command: CorrespondenceCommand = { type: 'RecordDelivery', tokenId: 'token-deliver', deliveredAt: iso(60), windowSeconds: WINDOW };
      spec
        .given([requested(), accepted])
        .when(command)
        .then([delivered('bob'), delivered('carol')]);
      spec
        .given([requested(), accepted, delivered('bob')])
        .when(command)
        .then([delivered('carol')]);
      spec
        .given([requested(), accepted, delivered('bob'), delivered('carol')])
        .when(command)
        .thenNothingHappens();
    });

    it('does not deliver what the gate has not passed', () => {
      spec
        .given([requested()])
        .when({ type: 'RecordDelivery', tokenId: 't', deliveredAt: iso(60), windowSeconds: WINDOW })
        .thenNothingHappens();
    });
  });

  describe("recipient's answer", () => {
    it('accepts within the window', () => {
      spec
        .given([requested(), accepted, delivered('bob')])
        .when(accept('bob', 120))
        .then([acceptedBy('bob')]);
    });

    it('refuses within the window, with the reason given', () => {
      spec
        .given([requested(), accepted, delivered('bob')])
        .when(refuse('bob', 120))
        .then([refusedBy('bob')]);
    });

    it('accepts up to the last moment before acceptBy, not at acceptBy', () => {
      spec
        .given([requested(), accepted, delivered('bob')])
        .when(accept('bob', 60 + WINDOW - 1))
        .then([acceptedBy('bob', 60 + WINDOW - 1)]);
      spec
        .given([requested(), accepted, delivered('bob')])
        .when(accept('bob', 60 + WINDOW))
        .thenThrows((error) => expect(refusal(error)).toEqual({ kind: 'conflict', rules: ['window.expired'] }));
    });

    it('refuses an answer after expiry was recorded', () => {
      spec
        .given([requested(), accepted, delivered('bob'), expired('bob')])
        .when(refuse('bob', 60 + WINDOW + 10))
        .thenThrows((error) => expect(refusal(error).rules).toEqual(['window.expired']));
    });

    it('refuses an answer before delivery', () => {
      spec
        .given([requested(), accepted])
        .when(accept('bob', 30))
        .thenThrows((error) => expect(refusal(error)).toEqual({ kind: 'conflict', rules: ['not-delivered'] }));
      spec
        .given([requested()])
        .when(accept('bob', 30))
        .thenThrows((error) => expect(refusal(error).rules).toEqual(['not-delivered']));
    });

    it('the same answer again changes nothing; another answer is refused', () => {
      spec
        .given([requested(), accepted, delivered('bob'), acceptedBy('bob')])
        .when(accept('bob', 200))
        .thenNothingHappens();
      spec
        .given([requested(), accepted, delivered('bob'), acceptedBy('bob')])
        .when(refuse('bob', 200))
        .thenThrows((error) => expect(refusal(error)).toEqual({ kind: 'conflict', rules: ['already-answered'] }));
      spec
        .given([requested(), accepted, delivered('bob'), refusedBy('bob')])
        .when(refuse('bob', 200))
        .thenNothingHappens();
    });

    it('refuses a party that is not a recipient (403), and an unknown correspondence (404)', () => {
      spec
        .given([requested(), accepted, delivered('bob')])
        .when(accept('mallory', 120))
        .thenThrows((error) => expect(refusal(error)).toEqual({ kind: 'forbidden', rules: ['correspondence.not-recipient'] }));
      spec
        .given([])
        .when(accept('bob', 120))
        .thenThrows((error) => expect(refusal(error).kind).toBe('not-found'));
    });

    it("keeps each recipient's answer apart", () => {
      const state = fold([requested(), accepted, delivered('bob'), delivered('carol'), acceptedBy('bob'), refusedBy('carol')]);
      expect(state.status === 'in-progress' && Object.fromEntries(Object.entries(state.recipients).map(([id, r]) => [id, r.status]))).toEqual({
        bob: 'accepted',
        carol: 'refused',
      });
    });
  });

  describe('acceptance window expiry (event time, never early)', () => {
    it('expires a silent recipient at acceptBy', () => {
      spec
        .given([requested(), accepted, delivered('bob')])
        .when({ type: 'ExpireWindow', recipientId: 'bob', now: at(60 + WINDOW) })
        .then([expired('bob')]);
    });

    it('expires a silent recipient after acceptBy (a late timer), naming the real acceptBy', () => {
      spec
        .given([requested(), accepted, delivered('bob')])
        .when({ type: 'ExpireWindow', recipientId: 'bob', now: at(60 + WINDOW + 3600) })
        .then([expired('bob', 60 + WINDOW + 3600)]);
    });

    it('refuses to expire one millisecond early', () => {
      spec
        .given([requested(), accepted, delivered('bob')])
        .when({ type: 'ExpireWindow', recipientId: 'bob', now: new Date(at(60 + WINDOW).getTime() - 1) })
        .thenThrows((error) => expect(refusal(error).rules).toEqual(['window.still-open']));
    });

    it('property: for any window and any moment, expiry happens exactly when now >= acceptBy', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 400 * DAY }), fc.integer({ min: -400 * DAY * 1000, max: 400 * DAY * 1000 }), (windowSeconds, offsetMs) => {
          const given = fold([requested(), accepted]);
          const [delivery] = correspondenceDecider.decide({ type: 'RecordDelivery', tokenId: 't', deliveredAt: iso(60), windowSeconds }, given);
          const state = correspondenceDecider.evolve(given, delivery);
          const acceptBy = t0 + (60 + windowSeconds) * 1000;
          const now = new Date(acceptBy + offsetMs);
          let events: CorrespondenceEvent[] | undefined;
          try {
            events = correspondenceDecider.decide({ type: 'ExpireWindow', recipientId: 'bob', now }, state) as CorrespondenceEvent[];
          } catch (error) {
            expect(refusal(error as Error).rules).toEqual(['window.still-open']);
          }
          if (offsetMs < 0) expect(events).toBeUndefined();
          else expect(events?.[0]).toMatchObject({ type: 'AcceptanceWindowExpired', data: { recipientId: 'bob', acceptBy: new Date(acceptBy).toISOString() } });
          // An answer is possible exactly when expiry is not.
          let answered = false;
          try {
            answered = correspondenceDecider.decide({ type: 'Accept', recipientId: 'bob', sessionId: 's', now }, state).length === 1;
          } catch (error) {
            expect(refusal(error as Error).rules).toEqual(['window.expired']);
          }
          expect(answered).toBe(offsetMs < 0);
        }),
        { numRuns: 300 },
      );
    });

    it('does nothing for a recipient who answered, or already expired', () => {
      spec
        .given([requested(), accepted, delivered('bob'), acceptedBy('bob')])
        .when({ type: 'ExpireWindow', recipientId: 'bob', now: at(60 + WINDOW) })
        .thenNothingHappens();
      spec
        .given([requested(), accepted, delivered('bob'), refusedBy('bob')])
        .when({ type: 'ExpireWindow', recipientId: 'bob', now: at(60 + WINDOW) })
        .thenNothingHappens();
      spec
        .given([requested(), accepted, delivered('bob'), expired('bob')])
        .when({ type: 'ExpireWindow', recipientId: 'bob', now: at(60 + WINDOW + 9) })
        .thenNothingHappens();
    });
  });

  describe('content hand-over', () => {
    const handedOver = (recipientId: string, seconds: number): CorrespondenceEvent => ({
      type: 'ContentHandedOver',
      version: 1,
      data: { correspondenceId, recipientId, sessionId: `session-${recipientId}`, handedOverAt: iso(seconds) },
    });

    it('basic mode: hands over after delivery, recorded on the first retrieval only', () => {
      spec
        .given([requested(), accepted, delivered('bob')])
        .when(handOver('bob', 90))
        .then([handedOver('bob', 90)]);
      spec
        .given([requested(), accepted, delivered('bob'), handedOver('bob', 90)])
        .when(handOver('bob', 95))
        .thenNothingHappens();
    });

    it('never before delivery', () => {
      spec
        .given([requested(), accepted])
        .when(handOver('bob', 30))
        .thenThrows((error) => expect(refusal(error)).toEqual({ kind: 'forbidden', rules: ['not-delivered'] }));
    });

    it('consent mode: nothing before acceptance, then handed over', () => {
      const given = [requested('consent'), accepted, delivered('bob')];
      spec
        .given(given)
        .when(handOver('bob', 90))
        .thenThrows((error) => expect(refusal(error)).toEqual({ kind: 'forbidden', rules: ['consent.required'] }));
      spec
        .given([...given, acceptedBy('bob')])
        .when(handOver('bob', 130))
        .then([handedOver('bob', 130)]);
    });

    it('consent mode: nothing after a refusal or an expiry', () => {
      const given = [requested('consent'), accepted, delivered('bob')];
      spec
        .given([...given, refusedBy('bob')])
        .when(handOver('bob', 130))
        .thenThrows((error) => expect(refusal(error).rules).toEqual(['consent.required']));
      spec
        .given([...given, expired('bob')])
        .when(handOver('bob', 60 + WINDOW + 1))
        .thenThrows((error) => expect(refusal(error).rules).toEqual(['consent.required']));
    });

    it('refuses a party that is not a recipient', () => {
      spec
        .given([requested(), accepted, delivered('bob')])
        .when(handOver('mallory', 90))
        .thenThrows((error) => expect(refusal(error).kind).toBe('forbidden'));
    });
  });

  describe('archive and failure', () => {
    const archived: CorrespondenceEvent = {
      type: 'ArchivedInSafes',
      version: 1,
      data: {
        correspondenceId,
        tokenId: 'token-archive',
        safes: [{ ownerId: 'alice', retainUntil: iso(10 * 365 * DAY) }],
        packageDigest: 'c'.repeat(64),
        archivedAt: iso(70),
      },
    };
    const archive: CorrespondenceCommand = {
      type: 'RecordArchive',
      tokenId: 'token-archive',
      safes: [{ ownerId: 'alice', retainUntil: iso(10 * 365 * DAY) }],
      packageDigest: 'c'.repeat(64),
      archivedAt: iso(70),
    };

    it('records the archive once', () => {
      spec
        .given([requested(), accepted, delivered('bob')])
        .when(archive)
        .then([archived]);
      spec
        .given([requested(), accepted, delivered('bob'), archived])
        .when(archive)
        .thenNothingHappens();
    });

    it('records a failure of the chain once, and keeps what was delivered answerable', () => {
      const reasons = [{ rule: 'token.deadline-missed', message: 'archive: no return by the deadline' }];
      const failed: CorrespondenceEvent = { type: 'CorrespondenceFailed', version: 1, data: { correspondenceId, reasons, failedAt: iso(80) } };
      spec
        .given([requested(), accepted, delivered('bob')])
        .when({ type: 'RecordChainFailure', reasons, failedAt: iso(80) })
        .then([failed]);
      spec
        .given([requested(), accepted, delivered('bob'), failed])
        .when({ type: 'RecordChainFailure', reasons, failedAt: iso(80) })
        .thenNothingHappens();
      spec
        .given([requested(), accepted, delivered('bob'), failed])
        .when(accept('bob', 120))
        .then([acceptedBy('bob')]);
    });
  });
});
