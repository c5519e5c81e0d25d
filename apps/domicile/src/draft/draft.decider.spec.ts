import type { DraftContent, DraftEvent } from '@sigillum/contracts';
import { DomainError } from '@sigillum/contracts';
import { deciderSpecification } from '@sigillum/testing/decider-specification';
import { checkSendable, type DraftCommand, draftDecider, type DraftRules, type DraftState, draftViolations, sendableValidation } from './draft.decider';

const rules: DraftRules = { maxRecipients: 3, maxParts: 2, maxSubjectLength: 300, kindNames: ['simple', 'registered'] };
const spec = deciderSpecification(draftDecider(rules));

const draftId = 'draft-1';
const senderId = 'alice';
const sessionId = 'session-1';
const at = (minute: number) => new Date(Date.UTC(2025, 0, 1, 9, minute));
const iso = (minute: number) => at(minute).toISOString();
const part = { digest: 'a'.repeat(64), size: 1200, contentType: 'application/pdf', name: 'letter.pdf' };
const content: DraftContent = { recipientIds: ['bob'], subject: 'Notice of termination', kind: 'registered', parts: [part] };
const edited: DraftContent = { ...content, subject: 'Notice of termination (corrected)' };
const specimenA = '1'.repeat(64);
const specimenB = '2'.repeat(64);

const opened: DraftEvent = { type: 'DraftOpened', version: 1, data: { draftId, senderId, sessionId, content, openedAt: iso(0) } };
const shown = (specimenDigest: string, minute = 1): DraftEvent => ({
  type: 'SpecimenShown',
  version: 1,
  data: { draftId, specimenDigest, shownAt: iso(minute) },
});
const validated = (specimenDigest = specimenA): DraftEvent => ({
  type: 'DraftValidated',
  version: 1,
  data: { draftId, sessionId, specimenDigest, validatedAt: iso(2), proof: 'proof-jws', keyId: 'kid-1' },
});
const submitted: DraftEvent = {
  type: 'DraftSubmitted',
  version: 1,
  data: { draftId, correspondenceId: 'corr-1', submissionKey: 'key-00000001', submittedAt: iso(3) },
};
const reasons = [{ rule: 'level.insufficient', message: 'recipient bob: Level below the required level', partyId: 'bob', subjectRole: 'recipient' as const }];

const validate = (specimenDigest: string, currentSpecimenDigest = specimenDigest): DraftCommand => ({
  type: 'ValidateDraft',
  actorId: senderId,
  sessionId,
  specimenDigest,
  currentSpecimenDigest,
  validatedAt: iso(2),
  proof: 'proof-jws',
  keyId: 'kid-1',
});
const submit = (correspondenceId = 'corr-1', specimenDigest = specimenA): DraftCommand => ({
  type: 'SubmitDraft',
  actorId: senderId,
  correspondenceId,
  submissionKey: 'key-00000001',
  specimenDigest,
  now: at(3),
});

function rulesOf(error: Error): string[] {
  expect(error).toBeInstanceOf(DomainError);
  return (error as DomainError).reasons.map((reason) => (typeof reason === 'string' ? reason : reason.rule));
}

describe('draft decider', () => {
  describe('opening', () => {
    it('opens a draft with its whole content', () => {
      spec
        .given([])
        .when({ type: 'OpenDraft', draftId, senderId, sessionId, content, now: at(0) })
        .then([opened]);
    });

    it('refuses a draft that breaks a rule, naming each, and records nothing', () => {
      const bad: DraftContent = { recipientIds: ['alice', 'bob', 'bob', 'carol'], subject: ' ', kind: 'telegram', parts: [part, part, part] };
      spec
        .given([])
        .when({ type: 'OpenDraft', draftId, senderId, sessionId, content: bad, now: at(0) })
        .thenThrows((error) => {
          expect((error as DomainError).kind).toBe('invalid');
          expect(rulesOf(error)).toEqual(
            expect.arrayContaining(['arrayMaxSize', 'recipients.duplicate', 'recipients.self', 'isNotEmpty', 'kind.unknown', 'parts.duplicate']),
          );
        });
    });

    it('names the field of each violation', () => {
      const violations = draftViolations(senderId, { recipientIds: [], subject: 'x'.repeat(301), kind: 'simple', parts: [{ ...part, size: -1 }] }, rules);
      expect(violations.map((v) => `${v.field}:${v.rule}`)).toEqual(['recipientIds:arrayMinSize', 'subject:maxLength', 'parts[0].digest:content.unknown']);
    });

    it('opening the same draft again changes nothing', () => {
      spec
        .given([opened])
        .when({ type: 'OpenDraft', draftId, senderId, sessionId, content, now: at(5) })
        .thenNothingHappens();
    });
  });

  describe('editing', () => {
    it('replaces the whole content', () => {
      spec
        .given([opened])
        .when({ type: 'EditDraft', actorId: senderId, sessionId, content: edited, now: at(4) })
        .then([{ type: 'DraftEdited', version: 1, data: { draftId, sessionId, content: edited, editedAt: iso(4) } }]);
    });

    it('the same content again changes nothing (a retried PUT keeps the validation)', () => {
      spec
        .given([opened, shown(specimenA), validated()])
        .when({ type: 'EditDraft', actorId: senderId, sessionId, content, now: at(4) })
        .thenNothingHappens();
    });

    it('voids the validation: the draft can no longer be sent', () => {
      const editedEvent: DraftEvent = { type: 'DraftEdited', version: 1, data: { draftId, sessionId, content: edited, editedAt: iso(4) } };
      spec
        .given([opened, shown(specimenA), validated(), editedEvent])
        .when(submit())
        .thenThrows((error) => expect(rulesOf(error)).toEqual(['draft.not-validated']));
    });

    it("refuses someone else's draft", () => {
      spec
        .given([opened])
        .when({ type: 'EditDraft', actorId: 'mallory', sessionId: 'session-m', content: edited, now: at(4) })
        .thenThrows((error) => {
          expect((error as DomainError).kind).toBe('forbidden');
          expect(rulesOf(error)).toEqual(['draft.not-yours']);
        });
    });

    it('refuses an unknown draft', () => {
      spec
        .given([])
        .when({ type: 'EditDraft', actorId: senderId, sessionId, content, now: at(4) })
        .thenThrows((error) => expect((error as DomainError).kind).toBe('not-found'));
    });

    it('refuses to edit a submitted draft', () => {
      spec
        .given([opened, shown(specimenA), validated(), submitted])
        .when({ type: 'EditDraft', actorId: senderId, sessionId, content: edited, now: at(4) })
        .thenThrows((error) => expect(rulesOf(error)).toEqual(['draft.submitted']));
    });
  });

  describe('specimen and validation', () => {
    it('records the specimen shown, once per digest', () => {
      spec
        .given([opened])
        .when({ type: 'ShowSpecimen', actorId: senderId, specimenDigest: specimenA, now: at(1) })
        .then([shown(specimenA)]);
      spec
        .given([opened, shown(specimenA)])
        .when({ type: 'ShowSpecimen', actorId: senderId, specimenDigest: specimenA, now: at(2) })
        .thenNothingHappens();
    });

    it('validates the specimen last shown, with the proof the handler signed', () => {
      spec
        .given([opened, shown(specimenA)])
        .when(validate(specimenA))
        .then([validated(specimenA)]);
    });

    it('validating again the same specimen changes nothing', () => {
      spec
        .given([opened, shown(specimenA), validated()])
        .when(validate(specimenA))
        .thenNothingHappens();
    });

    it('refuses a validation before any specimen was shown', () => {
      spec
        .given([opened])
        .when(validate(specimenA))
        .thenThrows((error) => expect(rulesOf(error)).toEqual(['specimen.stale']));
    });

    it('refuses a digest other than the one last shown', () => {
      spec
        .given([opened, shown(specimenA), shown(specimenB, 2)])
        .when(validate(specimenA, specimenB))
        .thenThrows((error) => {
          expect((error as DomainError).kind).toBe('conflict');
          expect(rulesOf(error)).toEqual(['specimen.stale']);
        });
    });

    it('refuses the specimen shown before an edit', () => {
      const editedEvent: DraftEvent = { type: 'DraftEdited', version: 1, data: { draftId, sessionId, content: edited, editedAt: iso(4) } };
      spec
        .given([opened, shown(specimenA), editedEvent])
        .when(validate(specimenA))
        .thenThrows((error) => expect(rulesOf(error)).toEqual(['specimen.stale']));
    });

    it('refuses a specimen the current draft no longer gives (kind reconfigured since it was shown)', () => {
      spec
        .given([opened, shown(specimenA)])
        .when(validate(specimenA, specimenB))
        .thenThrows((error) => expect(rulesOf(error)).toEqual(['specimen.stale']));
    });

    it('a new specimen shown after validation voids it', () => {
      spec
        .given([opened, shown(specimenA), validated(), shown(specimenB, 3)])
        .when(submit())
        .thenThrows((error) => expect(rulesOf(error)).toEqual(['draft.not-validated']));
    });
  });

  describe('sending', () => {
    it('submits a validated draft under the correspondence id', () => {
      spec
        .given([opened, shown(specimenA), validated()])
        .when(submit())
        .then([submitted]);
    });

    it('refuses a draft not validated', () => {
      spec
        .given([opened, shown(specimenA)])
        .when(submit())
        .thenThrows((error) => {
          expect((error as DomainError).kind).toBe('conflict');
          expect(rulesOf(error)).toEqual(['draft.not-validated']);
        });
    });

    it('the same submission again changes nothing; another one is refused', () => {
      spec
        .given([opened, shown(specimenA), validated(), submitted])
        .when(submit('corr-1'))
        .thenNothingHappens();
      spec
        .given([opened, shown(specimenA), validated(), submitted])
        .when(submit('corr-2'))
        .thenThrows((error) => expect(rulesOf(error)).toEqual(['draft.submitted']));
    });

    it('returns the draft for editing when the gate refused; its validation is void', () => {
      const returned: DraftEvent = { type: 'DraftReturnedForEditing', version: 1, data: { draftId, correspondenceId: 'corr-1', reasons, returnedAt: iso(5) } };
      spec
        .given([opened, shown(specimenA), validated(), submitted])
        .when({ type: 'ReturnForEditing', correspondenceId: 'corr-1', reasons, now: at(5) })
        .then([returned]);
      spec
        .given([opened, shown(specimenA), validated(), submitted, returned])
        .when({ type: 'ReturnForEditing', correspondenceId: 'corr-1', reasons, now: at(6) })
        .thenNothingHappens();
      spec
        .given([opened, shown(specimenA), validated(), submitted, returned])
        .when(submit('corr-2'))
        .thenThrows((error) => expect(rulesOf(error)).toEqual(['draft.not-validated']));
      spec
        .given([opened, shown(specimenA), validated(), submitted, returned])
        .when({ type: 'EditDraft', actorId: senderId, sessionId, content: edited, now: at(7) })
        .then([{ type: 'DraftEdited', version: 1, data: { draftId, sessionId, content: edited, editedAt: iso(7) } }]);
    });

    it('refuses a draft whose specimen is no longer the one validated (its kind reconfigured since), and records nothing', () => {
      spec
        .given([opened, shown(specimenA), validated()])
        .when(submit('corr-1', specimenB))
        .thenThrows((error) => {
          expect((error as DomainError).kind).toBe('conflict');
          expect(rulesOf(error)).toEqual(['specimen.stale']);
        });
      spec
        .given([opened, shown(specimenA), validated(), submitted])
        .when(submit('corr-1', specimenB))
        .thenThrows((error) => expect(rulesOf(error)).toEqual(['specimen.stale']));
    });

    it('refuses a discarded draft', () => {
      const discarded: DraftEvent = { type: 'DraftDiscarded', version: 1, data: { draftId, discardedAt: iso(8) } };
      spec
        .given([opened, shown(specimenA), discarded])
        .when(submit())
        .thenThrows((error) => expect(rulesOf(error)).toEqual(['draft.discarded']));
    });

    it('ignores a refusal for another submission', () => {
      spec
        .given([opened, shown(specimenA), validated(), submitted])
        .when({ type: 'ReturnForEditing', correspondenceId: 'corr-9', reasons, now: at(5) })
        .thenNothingHappens();
    });
  });

  describe('sendability (the one rule SubmitDraft and the sending service apply)', () => {
    const stateOf = (events: DraftEvent[]): DraftState => events.reduce(draftDecider(rules).evolve, draftDecider(rules).initialState());
    const validation = { sessionId, specimenDigest: specimenA, validatedAt: iso(2), proof: 'proof-jws', keyId: 'kid-1' };
    const refusal = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return {
          rules: rulesOf(error as Error),
          messages: (error as DomainError).reasons.map((reason) => (typeof reason === 'string' ? reason : reason.message)),
        };
      }
      throw new Error('expected a refusal');
    };

    it('given a validated draft, when it is sent with the specimen validated, then it goes with its validation', () => {
      expect(checkSendable(stateOf([opened, shown(specimenA), validated()]), 'corr-1', specimenA)).toEqual(validation);
    });

    it('given a draft submitted to this correspondence (a retried send), then it is sendable again with the same validation', () => {
      expect(checkSendable(stateOf([opened, shown(specimenA), validated(), submitted]), 'corr-1', specimenA)).toEqual(validation);
    });

    it('given a draft submitted to another correspondence, then draft.submitted names it and the key to retry with', () => {
      const refused = refusal(() => sendableValidation(stateOf([opened, shown(specimenA), validated(), submitted]), 'corr-2'));
      expect(refused.rules).toEqual(['draft.submitted']);
      expect(refused.messages[0]).toContain('corr-1; retry with that submission key');
    });

    it('given a draft being edited, then draft.not-validated, saying why when the gate returned it', () => {
      const returned: DraftEvent = { type: 'DraftReturnedForEditing', version: 1, data: { draftId, correspondenceId: 'corr-1', reasons, returnedAt: iso(5) } };
      expect(refusal(() => sendableValidation(stateOf([opened]), 'corr-1')).rules).toEqual(['draft.not-validated']);
      expect(refusal(() => sendableValidation(stateOf([opened, shown(specimenA), validated(), submitted, returned]), 'corr-1')).messages[0]).toContain(
        'returned for editing',
      );
    });

    it('given a validated draft whose specimen changed since, then specimen.stale', () => {
      expect(refusal(() => checkSendable(stateOf([opened, shown(specimenA), validated()]), 'corr-1', specimenB)).rules).toEqual(['specimen.stale']);
    });

    it('given no draft, then draft.unknown', () => {
      expect(refusal(() => sendableValidation(stateOf([]), 'corr-1')).rules).toEqual(['draft.unknown']);
    });
  });

  describe('discarding', () => {
    it('discards an unsent draft, once', () => {
      const discarded: DraftEvent = { type: 'DraftDiscarded', version: 1, data: { draftId, discardedAt: iso(8) } };
      spec
        .given([opened])
        .when({ type: 'DiscardDraft', actorId: senderId, now: at(8) })
        .then([discarded]);
      spec
        .given([opened, discarded])
        .when({ type: 'DiscardDraft', actorId: senderId, now: at(9) })
        .thenNothingHappens();
      spec
        .given([opened, discarded])
        .when({ type: 'ShowSpecimen', actorId: senderId, specimenDigest: specimenA, now: at(9) })
        .thenThrows((error) => expect(rulesOf(error)).toEqual(['draft.discarded']));
    });

    it('refuses to discard a sent draft', () => {
      spec
        .given([opened, shown(specimenA), validated(), submitted])
        .when({ type: 'DiscardDraft', actorId: senderId, now: at(8) })
        .thenThrows((error) => expect(rulesOf(error)).toEqual(['draft.submitted']));
    });
  });
});
