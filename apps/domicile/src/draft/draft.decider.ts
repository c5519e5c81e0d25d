import { assertNever, type Decider, type DraftContent, type DraftEvent, DomainError } from '@sigillum/contracts';
import type {
  DiscardDraft,
  DraftCommand,
  DraftRules,
  EditDraft,
  OpenDraft,
  ReturnForEditing,
  ShowSpecimen,
  SubmitDraft,
  ValidateDraft,
} from './draft.commands';
import { type DraftFacts, type DraftState, type DraftSubmission, type DraftValidation, evolve, initialState } from './draft.state';

export * from './draft.commands';
export * from './draft.state';

/**
 * The private office's drafts: one stream `draft-<draftId>` per draft of one sender.
 *
 *   (none) ──open──▶ editing ──specimen shown, then validated──▶ validated ──submitted──▶ submitted
 *                      ▲  │                                         │                      │
 *                      │  └──edit (whole content)◀──────────────────┘ (voids validation)  │
 *                      └───────────────────────────returned for editing (gate refused)────┘
 *   editing | validated ──discard──▶ discarded
 *
 * The decider never signs nor hashes: the handler computes the specimen digest of the current content and the
 * validation proof (domicile key) and passes them in; the decider checks they fit the draft's history.
 */

//////// Refusals

export const DraftErrors = {
  notFound: 'DRAFT.NOT_FOUND',
  forbidden: 'DRAFT.FORBIDDEN',
  invalid: 'DRAFT.INVALID',
  specimenStale: 'DRAFT.SPECIMEN_STALE',
  notValidated: 'DRAFT.NOT_VALIDATED',
  submitted: 'DRAFT.SUBMITTED',
  discarded: 'DRAFT.DISCARDED',
  alreadyExists: 'DRAFT.ALREADY_EXISTS',
} as const;

/** A field of a draft that breaks a rule: what the HTTP layer answers as a 400 violation. */
export interface DraftViolation {
  readonly field: string;
  readonly rule: string;
  readonly message: string;
}

/**
 * Every rule a draft's content breaks, by field: recipients (at least one, at most the limit, distinct, not the
 * sender), subject (not blank, at most the limit), kind (configured), parts (at least one, at most the limit,
 * distinct digests, sizes known). Used by the handler before anything is written, and by the decider.
 */
export function draftViolations(senderId: string, content: DraftContent, rules: DraftRules): DraftViolation[] {
  const violations: DraftViolation[] = [];
  const { recipientIds, subject, kind, parts } = content;
  if (recipientIds.length === 0) violations.push({ field: 'recipientIds', rule: 'arrayMinSize', message: 'name at least one recipient' });
  if (recipientIds.length > rules.maxRecipients) {
    violations.push({ field: 'recipientIds', rule: 'arrayMaxSize', message: `at most ${rules.maxRecipients} recipients (DRAFT_MAX_RECIPIENTS)` });
  }
  const seen = new Set<string>();
  recipientIds.forEach((id, i) => {
    if (seen.has(id)) violations.push({ field: `recipientIds[${i}]`, rule: 'recipients.duplicate', message: 'this recipient is named twice' });
    seen.add(id);
    if (id === senderId)
      violations.push({ field: `recipientIds[${i}]`, rule: 'recipients.self', message: 'the sender cannot be a recipient of its own correspondence' });
  });
  if (subject.trim().length === 0) violations.push({ field: 'subject', rule: 'isNotEmpty', message: 'subject must not be blank' });
  if (subject.length > rules.maxSubjectLength)
    violations.push({ field: 'subject', rule: 'maxLength', message: `subject must be at most ${rules.maxSubjectLength} characters` });
  if (!rules.kindNames.includes(kind)) {
    violations.push({ field: 'kind', rule: 'kind.unknown', message: `unknown kind of correspondence; use one of ${rules.kindNames.join(', ')}` });
  }
  if (parts.length === 0) violations.push({ field: 'parts', rule: 'arrayMinSize', message: 'attach at least one content part' });
  if (parts.length > rules.maxParts) violations.push({ field: 'parts', rule: 'arrayMaxSize', message: `at most ${rules.maxParts} parts (DRAFT_MAX_PARTS)` });
  const digests = new Set<string>();
  parts.forEach((part, i) => {
    if (digests.has(part.digest)) violations.push({ field: `parts[${i}].digest`, rule: 'parts.duplicate', message: 'this content is attached twice' });
    digests.add(part.digest);
    if (!Number.isSafeInteger(part.size) || part.size < 0)
      violations.push({ field: `parts[${i}].digest`, rule: 'content.unknown', message: 'no stored content has this digest' });
  });
  return violations;
}

function checkContent(senderId: string, content: DraftContent, rules: DraftRules): void {
  const violations = draftViolations(senderId, content, rules);
  if (violations.length === 0) return;
  throw new DomainError(
    DraftErrors.invalid,
    'The draft breaks a rule; see reasons',
    'invalid',
    violations.map((v) => ({ rule: v.rule, message: `${v.field}: ${v.message}` })),
  );
}

function notFound(): never {
  throw new DomainError(DraftErrors.notFound, 'No such draft', 'not-found', [{ rule: 'draft.unknown', message: 'No draft has this id' }]);
}

function checkOwner(state: DraftFacts, actorId: string): void {
  if (state.senderId === actorId) return;
  throw new DomainError(DraftErrors.forbidden, 'This draft is not yours', 'forbidden', [
    { rule: 'draft.not-yours', message: 'Only the sender who opened a draft may see or change it' },
  ]);
}

function refuseSubmitted(state: { readonly submission: DraftSubmission }): never {
  throw new DomainError(DraftErrors.submitted, 'The draft was sent; it cannot change any more', 'conflict', [
    { rule: 'draft.submitted', message: `The draft was sent as correspondence ${state.submission.correspondenceId}` },
  ]);
}

function refuseDiscarded(): never {
  throw new DomainError(DraftErrors.discarded, 'The draft was discarded', 'conflict', [{ rule: 'draft.discarded', message: 'The draft was discarded' }]);
}

const sameContent = (a: DraftContent, b: DraftContent) => JSON.stringify(a) === JSON.stringify(b);

//////// Sendability (claim 1, 1b: nothing is sent that the sender did not validate, as validated)

/**
 * Rule 1: a draft is sendable to `correspondenceId` when validated, or already submitted to that very correspondence
 * (a retried send), and goes with its validation; otherwise `draft.not-validated`, `draft.submitted` or `draft.discarded`.
 */
export function sendableValidation(state: DraftState, correspondenceId: string): DraftValidation {
  switch (state.status) {
    case 'none':
      return notFound();
    case 'validated':
      return state.validation;
    case 'submitted':
      if (state.submission.correspondenceId === correspondenceId) return state.validation;
      throw new DomainError(DraftErrors.submitted, 'The draft was already sent with another submission key', 'conflict', [
        { rule: 'draft.submitted', message: `The draft was sent as correspondence ${state.submission.correspondenceId}; retry with that submission key` },
      ]);
    case 'editing': {
      const message =
        state.returned === null
          ? 'Show the specimen and validate it (POST /drafts/:draftId/specimen, then /validation) before sending'
          : 'The last submission was refused and the draft returned for editing: validate it again before sending';
      throw new DomainError(DraftErrors.notValidated, 'The draft must be validated before it is sent', 'conflict', [{ rule: 'draft.not-validated', message }]);
    }
    case 'discarded':
      return refuseDiscarded();
    default:
      return assertNever(state, 'draft state');
  }
}

/** The draft's sendability: rule 1, then rule 2 — what is sent (`specimenDigest`) is the specimen validated; `specimen.stale` otherwise. */
export function checkSendable(state: DraftState, correspondenceId: string, specimenDigest: string): DraftValidation {
  const validation = sendableValidation(state, correspondenceId);
  if (specimenDigest === validation.specimenDigest) return validation;
  throw new DomainError(DraftErrors.specimenStale, 'The draft as it would be sent is not the specimen validated', 'conflict', [
    { rule: 'specimen.stale', message: "The kind's configuration changed since validation; show the specimen and validate it again" },
  ]);
}

//////// Decisions

function open(command: OpenDraft, state: DraftState, rules: DraftRules): DraftEvent[] {
  checkContent(command.senderId, command.content, rules);
  if (state.status !== 'none') {
    if (state.senderId === command.senderId && sameContent(state.content, command.content)) return [];
    throw new DomainError(DraftErrors.alreadyExists, `Draft ${command.draftId} already exists`, 'conflict');
  }
  return [
    {
      type: 'DraftOpened',
      version: 1,
      data: {
        draftId: command.draftId,
        senderId: command.senderId,
        sessionId: command.sessionId,
        content: command.content,
        openedAt: command.now.toISOString(),
      },
    },
  ];
}

function edit(command: EditDraft, state: DraftState, rules: DraftRules): DraftEvent[] {
  if (state.status === 'none') return notFound();
  checkOwner(state, command.actorId);
  switch (state.status) {
    case 'submitted':
      return refuseSubmitted(state);
    case 'discarded':
      return refuseDiscarded();
    case 'editing':
    case 'validated':
      break;
    default:
      return assertNever(state, 'draft state');
  }
  checkContent(state.senderId, command.content, rules);
  // The same whole content again changes nothing (a retried PUT keeps the validation).
  if (sameContent(state.content, command.content)) return [];
  return [
    {
      type: 'DraftEdited',
      version: 1,
      data: { draftId: state.draftId, sessionId: command.sessionId, content: command.content, editedAt: command.now.toISOString() },
    },
  ];
}

function showSpecimen(command: ShowSpecimen, state: DraftState): DraftEvent[] {
  if (state.status === 'none') return notFound();
  checkOwner(state, command.actorId);
  switch (state.status) {
    case 'discarded':
      return refuseDiscarded();
    case 'submitted':
      return []; // what was sent may be shown again; nothing to record
    case 'validated':
    case 'editing':
      if (state.shownSpecimenDigest === command.specimenDigest) return [];
      return [
        { type: 'SpecimenShown', version: 1, data: { draftId: state.draftId, specimenDigest: command.specimenDigest, shownAt: command.now.toISOString() } },
      ];
    default:
      return assertNever(state, 'draft state');
  }
}

function stale(message: string): never {
  throw new DomainError(DraftErrors.specimenStale, 'The specimen validated is not the one last shown of the current draft', 'conflict', [
    { rule: 'specimen.stale', message },
  ]);
}

function validate(command: ValidateDraft, state: DraftState): DraftEvent[] {
  if (state.status === 'none') return notFound();
  checkOwner(state, command.actorId);
  switch (state.status) {
    case 'submitted':
      return refuseSubmitted(state);
    case 'discarded':
      return refuseDiscarded();
    case 'validated':
      if (state.validation.specimenDigest === command.specimenDigest && command.currentSpecimenDigest === command.specimenDigest) return [];
      break;
    case 'editing':
      break;
    default:
      return assertNever(state, 'draft state');
  }
  if (state.shownSpecimenDigest === null)
    stale('No specimen of the current draft was shown: show it (POST /drafts/:draftId/specimen), then validate its digest');
  if (command.specimenDigest !== state.shownSpecimenDigest)
    stale('This digest is not the one of the specimen last shown; show the specimen again and validate what it shows');
  if (command.currentSpecimenDigest !== state.shownSpecimenDigest) {
    stale('The draft as it would be sent changed since the specimen was shown (e.g. its kind was reconfigured); show it again');
  }
  return [
    {
      type: 'DraftValidated',
      version: 1,
      data: {
        draftId: state.draftId,
        sessionId: command.sessionId,
        specimenDigest: command.specimenDigest,
        validatedAt: command.validatedAt,
        proof: command.proof,
        keyId: command.keyId,
      },
    },
  ];
}

function submit(command: SubmitDraft, state: DraftState): DraftEvent[] {
  if (state.status === 'none') return notFound();
  checkOwner(state, command.actorId);
  checkSendable(state, command.correspondenceId, command.specimenDigest);
  if (state.status === 'submitted') return []; // a retried send to this very correspondence: nothing more to record
  const { correspondenceId, submissionKey } = command;
  return [{ type: 'DraftSubmitted', version: 1, data: { draftId: state.draftId, correspondenceId, submissionKey, submittedAt: command.now.toISOString() } }];
}

function returnForEditing(command: ReturnForEditing, state: DraftState): DraftEvent[] {
  // Only the submission that is pending on this draft comes back; a redelivered refusal finds it already back.
  if (state.status !== 'submitted' || state.submission.correspondenceId !== command.correspondenceId) return [];
  return [
    {
      type: 'DraftReturnedForEditing',
      version: 1,
      data: { draftId: state.draftId, correspondenceId: command.correspondenceId, reasons: command.reasons, returnedAt: command.now.toISOString() },
    },
  ];
}

function discard(command: DiscardDraft, state: DraftState): DraftEvent[] {
  if (state.status === 'none') return notFound();
  checkOwner(state, command.actorId);
  switch (state.status) {
    case 'discarded':
      return [];
    case 'submitted':
      return refuseSubmitted(state);
    case 'editing':
    case 'validated':
      return [{ type: 'DraftDiscarded', version: 1, data: { draftId: state.draftId, discardedAt: command.now.toISOString() } }];
    default:
      return assertNever(state, 'draft state');
  }
}

export function decide(command: DraftCommand, state: DraftState, rules: DraftRules): DraftEvent[] {
  switch (command.type) {
    case 'OpenDraft':
      return open(command, state, rules);
    case 'EditDraft':
      return edit(command, state, rules);
    case 'ShowSpecimen':
      return showSpecimen(command, state);
    case 'ValidateDraft':
      return validate(command, state);
    case 'SubmitDraft':
      return submit(command, state);
    case 'ReturnForEditing':
      return returnForEditing(command, state);
    case 'DiscardDraft':
      return discard(command, state);
    default:
      return assertNever(command, 'draft command');
  }
}

/** The draft decider bound to the configured rules (for commandHandler and the Given/When/Then specs). */
export function draftDecider(rules: DraftRules): Decider<DraftCommand, DraftState, DraftEvent> {
  return { decide: (command, state) => decide(command, state, rules), evolve, initialState };
}
