import {
  assertNever,
  type Decider,
  DomainError,
  type IdentityAttributeDeclared,
  KEY_USES,
  type OperatorSpecificationRegistered,
  type PartyEvent,
  type PartyRegistered,
  type PartyRenamed,
  type PublicKeyRegistered,
  type PublicKeyRevoked,
  type Reason,
  type SecondChannelEnrolled,
  type SecondChannelRemoved,
  type SecondChannelVerificationFailed,
  type SecondChannelVerified,
} from '@sigillum/contracts';
import { addressViolation, attributeViolations, type FieldReason, fieldReason, normaliseAddress, sameJson, specificationViolations } from './party.rules';
import type {
  DeclareAttribute,
  EnrolChannel,
  PartyCommand,
  RegisterParty,
  RegisterPublicKey,
  RegisterSpecification,
  RemoveChannel,
  RenameParty,
  RevokePublicKey,
  VerifyChannel,
} from './party.commands';
import { type ChannelState, evolve, initialState, type PartyState, type RegisteredParty } from './party.state';

export * from './party.commands';
export * from './party.state';

// Decisions on a party stream: commands in party.commands.ts, the state they are decided on in party.state.ts.

//////// Helpers

const MAX_DISPLAY_NAME = 200;
const MAX_REVOCATION_REASON = 500;

const reason = (rule: string, message: string, partyId: string, extra: Record<string, unknown> = {}): Reason =>
  ({ rule, message, partyId, ...extra }) as Reason;

function invalid(code: string, message: string, reasons: readonly FieldReason[]): never {
  throw new DomainError(code, message, 'invalid', reasons);
}

function registered(state: PartyState, partyId: string): RegisteredParty {
  if (state.status !== 'registered') {
    throw new DomainError('DIRECTORY.PARTY_NOT_FOUND', `Party ${partyId} is not registered`, 'not-found', [
      reason('party.unknown', `no party ${partyId} in the directory`, partyId),
    ]);
  }
  return state;
}

const channelNotFound = (party: RegisteredParty, channelId: string): DomainError =>
  new DomainError('DIRECTORY.CHANNEL_NOT_FOUND', `Party ${party.partyId} has no channel ${channelId}`, 'not-found', [
    reason('channel.unknown', `no channel ${channelId}`, party.partyId),
  ]);

/** The channel, removed ones included (callers decide what removal means for them). */
function findChannel(party: RegisteredParty, channelId: string): ChannelState {
  const channel = party.channels.find((c) => c.channelId === channelId);
  if (!channel) throw channelNotFound(party, channelId);
  return channel;
}

/** A channel that still counts: verified, or pending with a live code. */
const isLive = (channel: ChannelState, now: Date): boolean =>
  channel.status === 'verified' || (channel.status === 'pending' && now.getTime() < Date.parse(channel.expiresAt));

function displayNameViolations(displayName: string): FieldReason[] {
  if (displayName.trim().length === 0) return [fieldReason('displayName', 'displayName.empty', 'displayName must not be empty')];
  if (displayName.length > MAX_DISPLAY_NAME) {
    return [fieldReason('displayName', 'displayName.too-long', `displayName must be at most ${MAX_DISPLAY_NAME} characters`)];
  }
  return [];
}

//////// Decisions

function register(command: RegisterParty, state: PartyState): PartyEvent[] {
  const attributes = command.attributes ?? [];
  if (state.status === 'registered') {
    // A retried registration with the same facts is a no-op; different facts are a conflict.
    const same =
      state.kind === command.kind &&
      state.operatorRole === command.operatorRole &&
      state.displayName === command.displayName &&
      attributes.every((a) => state.attributes[a.name] === a.value);
    if (same) return [];
    throw new DomainError('DIRECTORY.PARTY_ALREADY_REGISTERED', `Party ${command.partyId} is already registered`, 'conflict', [
      reason('party.exists', 'a party with this id is already registered with other facts', command.partyId),
    ]);
  }
  const reasons: FieldReason[] = [...displayNameViolations(command.displayName)];
  if (command.kind === 'operator' && !command.operatorRole) {
    reasons.push(fieldReason('operatorRole', 'operatorRole.required', 'an operator names its role: domicile, processing, certification or gateway'));
  }
  if (command.kind !== 'operator' && command.operatorRole !== undefined) {
    reasons.push(fieldReason('operatorRole', 'operatorRole.not-allowed', `only operators have a role; a ${command.kind} has none`));
  }
  const names = new Set<string>();
  attributes.forEach((attribute, index) => {
    const prefix = `attributes[${index}].`;
    if (names.has(attribute.name)) reasons.push(fieldReason(`${prefix}name`, 'attribute.duplicate', `${attribute.name} is declared twice`));
    names.add(attribute.name);
    reasons.push(...attributeViolations(command.kind, attribute.name, attribute.value, command.now, prefix));
  });
  if (reasons.length > 0) invalid('DIRECTORY.INVALID_PARTY', 'The party cannot be registered; see reasons.', reasons);

  const at = command.now.toISOString();
  const registeredEvent: PartyRegistered = {
    type: 'PartyRegistered',
    version: 1,
    data: {
      partyId: command.partyId,
      kind: command.kind,
      ...(command.kind === 'operator' ? { operatorRole: command.operatorRole } : {}),
      displayName: command.displayName,
      registeredAt: at,
    },
  };
  return [registeredEvent, ...attributes.map((a) => declared(command.partyId, a.name, a.value, at))];
}

const declared = (partyId: string, name: string, value: string, declaredAt: string): IdentityAttributeDeclared => ({
  type: 'IdentityAttributeDeclared',
  version: 1,
  data: { partyId, name, value, declaredAt },
});

function rename(command: RenameParty, state: PartyState): PartyRenamed[] {
  const party = registered(state, command.partyId);
  const violations = displayNameViolations(command.displayName);
  if (violations.length > 0) invalid('DIRECTORY.INVALID_PARTY', 'The party cannot be renamed; see reasons.', violations);
  if (party.displayName === command.displayName) return [];
  return [{ type: 'PartyRenamed', version: 1, data: { partyId: command.partyId, displayName: command.displayName, renamedAt: command.now.toISOString() } }];
}

function declareAttribute(command: DeclareAttribute, state: PartyState): IdentityAttributeDeclared[] {
  const party = registered(state, command.partyId);
  const violations = attributeViolations(party.kind, command.name, command.value, command.now);
  if (violations.length > 0) invalid('DIRECTORY.INVALID_ATTRIBUTE', `The attribute ${command.name} cannot be declared; see reasons.`, violations);
  if (party.attributes[command.name] === command.value) return [];
  return [declared(command.partyId, command.name, command.value, command.now.toISOString())];
}

function enrolChannel(command: EnrolChannel, state: PartyState): (SecondChannelEnrolled | SecondChannelRemoved)[] {
  const party = registered(state, command.partyId);
  const address = normaliseAddress(command.kind, command.address);
  const violation = addressViolation(command.kind, address);
  if (violation) invalid('DIRECTORY.INVALID_CHANNEL', 'The channel cannot be enrolled; see reasons.', [violation]);
  if (party.channels.some((c) => c.channelId === command.channelId)) {
    throw new DomainError('DIRECTORY.CHANNEL_ID_TAKEN', `Channel id ${command.channelId} is already used`, 'conflict');
  }
  const at = command.now.toISOString();
  const sameAddress = party.channels.filter((c) => c.status !== 'removed' && c.kind === command.kind && c.address === address);
  if (sameAddress.some((c) => isLive(c, command.now))) {
    throw new DomainError('DIRECTORY.CHANNEL_DUPLICATE', `This ${command.kind} address is already enrolled`, 'conflict', [
      reason('channel.duplicate', `the ${command.kind} address is already enrolled (verified, or its code is still valid)`, party.partyId),
    ]);
  }
  // A dead enrolment of the same address (code expired or attempts exhausted) is superseded by the new one.
  const superseded: SecondChannelRemoved[] = sameAddress.map((c) => ({
    type: 'SecondChannelRemoved',
    version: 1,
    data: { partyId: party.partyId, channelId: c.channelId, removedAt: at },
  }));
  const counted = party.channels.filter((c) => c.status !== 'removed' && !sameAddress.includes(c));
  if (counted.length >= command.maxChannels) {
    throw new DomainError('DIRECTORY.CHANNEL_LIMIT', `A party has at most ${command.maxChannels} second channels`, 'conflict', [
      reason('channel.limit', `at most ${command.maxChannels} channels; remove one first`, party.partyId),
    ]);
  }
  return [
    ...superseded,
    {
      type: 'SecondChannelEnrolled',
      version: 1,
      data: {
        partyId: party.partyId,
        channelId: command.channelId,
        kind: command.kind,
        address,
        verifier: command.verifier,
        verifierKeyId: command.verifierKeyId,
        expiresAt: new Date(command.now.getTime() + command.codeTtlSeconds * 1000).toISOString(),
        maxAttempts: command.maxAttempts,
        enrolledAt: at,
      },
    },
  ];
}

function verifyChannel(command: VerifyChannel, state: PartyState): (SecondChannelVerified | SecondChannelVerificationFailed)[] {
  const party = registered(state, command.partyId);
  const channel = findChannel(party, command.channelId);
  const at = command.now.toISOString();
  switch (channel.status) {
    case 'verified':
      return [];
    case 'closed':
      throw new DomainError(
        'DIRECTORY.CHANNEL_VERIFICATION_CLOSED',
        `Channel ${channel.channelId} can no longer be verified (${channel.rule}); enrol it again to get a new code`,
        'conflict',
        [reason(channel.rule, 'enrol the channel again to receive a new code', party.partyId)],
      );
    case 'removed':
      throw channelNotFound(party, channel.channelId);
    case 'pending': {
      const attempt = channel.failedAttempts + 1;
      const failed = (rule: string): SecondChannelVerificationFailed[] => [
        { type: 'SecondChannelVerificationFailed', version: 1, data: { partyId: party.partyId, channelId: channel.channelId, attempt, rule, failedAt: at } },
      ];
      if (command.now.getTime() >= Date.parse(channel.expiresAt)) return failed('code.expired');
      if (!command.codeMatches) return failed(attempt >= channel.maxAttempts ? 'attempts.exhausted' : 'code.mismatch');
      return [{ type: 'SecondChannelVerified', version: 1, data: { partyId: party.partyId, channelId: channel.channelId, verifiedAt: at } }];
    }
    default:
      return assertNever(channel, 'channel status');
  }
}

function removeChannel(command: RemoveChannel, state: PartyState): SecondChannelRemoved[] {
  const party = registered(state, command.partyId);
  if (findChannel(party, command.channelId).status === 'removed') return [];
  return [{ type: 'SecondChannelRemoved', version: 1, data: { partyId: party.partyId, channelId: command.channelId, removedAt: command.now.toISOString() } }];
}

function registerPublicKey(command: RegisterPublicKey, state: PartyState): PublicKeyRegistered[] {
  const party = registered(state, command.partyId);
  const key = command.key;
  if (!key.ok) invalid('DIRECTORY.INVALID_KEY', 'The public key cannot be registered; see reasons.', [fieldReason('publicKeyPem', key.rule, key.message)]);
  const reasons: FieldReason[] = [];
  if (key.keyType !== command.algorithm.toLowerCase()) {
    reasons.push(fieldReason('algorithm', 'key.algorithm-mismatch', `the PEM holds a ${key.keyType} key, not ${command.algorithm}`));
  } else if (command.algorithm === 'RSA' && (key.modulusLength ?? 0) < 2048) {
    reasons.push(fieldReason('publicKeyPem', 'key.too-short', `an RSA key has at least 2048 bits; this one has ${key.modulusLength ?? 'unknown'}`));
  }
  if (!KEY_USES[command.algorithm].includes(command.use)) {
    reasons.push(fieldReason('use', 'key.use-not-allowed', `an ${command.algorithm} key serves ${KEY_USES[command.algorithm].join(' or ')} only`));
  }
  if (reasons.length > 0) invalid('DIRECTORY.INVALID_KEY', 'The public key cannot be registered; see reasons.', reasons);

  const existing = party.keys.find((k) => k.fingerprint === key.fingerprint);
  if (existing?.revoked) {
    throw new DomainError('DIRECTORY.KEY_REVOKED', `This key (${existing.keyId}) was revoked and cannot be registered again`, 'conflict', [
      reason('key.revoked', 'a revoked key is never reinstated; register a new key', party.partyId, { keyId: existing.keyId }),
    ]);
  }
  if (existing) {
    if (existing.use === command.use && existing.algorithm === command.algorithm) return [];
    throw new DomainError('DIRECTORY.KEY_DUPLICATE', `This key is already registered as ${existing.keyId} for ${existing.use}`, 'conflict', [
      reason('key.duplicate', 'one key serves one use; generate another key for the other use', party.partyId, { keyId: existing.keyId }),
    ]);
  }
  if (party.keys.filter((k) => !k.revoked).length >= command.maxKeys) {
    throw new DomainError('DIRECTORY.KEY_LIMIT', `A party has at most ${command.maxKeys} active keys`, 'conflict', [
      reason('key.limit', `at most ${command.maxKeys} active keys; revoke one first`, party.partyId),
    ]);
  }
  return [
    {
      type: 'PublicKeyRegistered',
      version: 1,
      data: {
        partyId: party.partyId,
        keyId: command.keyId,
        algorithm: command.algorithm,
        use: command.use,
        publicKeyPem: key.spkiPem,
        fingerprint: key.fingerprint,
        registeredAt: command.now.toISOString(),
      },
    },
  ];
}

function revokePublicKey(command: RevokePublicKey, state: PartyState): PublicKeyRevoked[] {
  const party = registered(state, command.partyId);
  const key = party.keys.find((k) => k.keyId === command.keyId);
  if (!key) {
    throw new DomainError('DIRECTORY.KEY_NOT_FOUND', `Party ${party.partyId} has no key ${command.keyId}`, 'not-found', [
      reason('key.unknown', `no key ${command.keyId}`, party.partyId),
    ]);
  }
  if (key.revoked) return [];
  if (command.reason.trim().length === 0 || command.reason.length > MAX_REVOCATION_REASON) {
    invalid('DIRECTORY.INVALID_REVOCATION', 'A revocation states its reason; see reasons.', [
      fieldReason('reason', 'reason.invalid', `reason must be 1 to ${MAX_REVOCATION_REASON} characters`),
    ]);
  }
  return [
    { type: 'PublicKeyRevoked', version: 1, data: { partyId: party.partyId, keyId: key.keyId, reason: command.reason, revokedAt: command.now.toISOString() } },
  ];
}

function registerSpecification(command: RegisterSpecification, state: PartyState): OperatorSpecificationRegistered[] {
  const party = registered(state, command.partyId);
  if (party.kind !== 'operator' || party.operatorRole !== 'processing') {
    throw new DomainError('DIRECTORY.NOT_A_PROCESSING_OPERATOR', `Party ${party.partyId} is not a processing operator`, 'conflict', [
      reason('operator.not-processing', 'only processing operators carry a specification', party.partyId),
    ]);
  }
  const violations = specificationViolations(command.specification);
  if (violations.length > 0) invalid('DIRECTORY.INVALID_SPECIFICATION', 'The specification is not well-formed; see reasons.', violations);
  const current = party.specification;
  if (current && command.specification.version <= current.version) {
    if (command.specification.version === current.version && sameJson(command.specification, current)) return [];
    throw new DomainError(
      'DIRECTORY.SPECIFICATION_VERSION',
      `Specification version ${command.specification.version} does not follow the registered version ${current.version}`,
      'conflict',
      [{ ...fieldReason('version', 'version.not-increasing', `version must be greater than ${current.version}`), partyId: party.partyId }],
    );
  }
  return [
    {
      type: 'OperatorSpecificationRegistered',
      version: 1,
      data: { partyId: party.partyId, specification: command.specification, registeredAt: command.now.toISOString() },
    },
  ];
}

export function decide(command: PartyCommand, state: PartyState): PartyEvent[] {
  switch (command.type) {
    case 'RegisterParty':
      return register(command, state);
    case 'RenameParty':
      return rename(command, state);
    case 'DeclareAttribute':
      return declareAttribute(command, state);
    case 'EnrolChannel':
      return enrolChannel(command, state);
    case 'VerifyChannel':
      return verifyChannel(command, state);
    case 'RemoveChannel':
      return removeChannel(command, state);
    case 'RegisterPublicKey':
      return registerPublicKey(command, state);
    case 'RevokePublicKey':
      return revokePublicKey(command, state);
    case 'RegisterSpecification':
      return registerSpecification(command, state);
    default:
      return assertNever(command, 'party command');
  }
}

export const partyDecider: Decider<PartyCommand, PartyState, PartyEvent> = { decide, evolve, initialState };
