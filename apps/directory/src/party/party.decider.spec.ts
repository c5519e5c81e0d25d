import { generateKeyPairSync } from 'node:crypto';
import {
  DomainError,
  type IdentityAttributeDeclared,
  type OperatorSpecification,
  type OperatorSpecificationRegistered,
  type PartyEvent,
  type PartyRegistered,
  type PublicKeyRegistered,
  type SecondChannelEnrolled,
  type SecondChannelVerificationFailed,
} from '@sigillum/contracts';
import { deciderSpecification } from '@sigillum/testing/decider-specification';
import { type EnrolChannel, partyDecider, type RegisterParty, type RegisterPublicKey, type RegisterSpecification, type VerifyChannel } from './party.decider';
import { inspectPublicKey } from './public-key';

const now = new Date('2026-11-25T08:00:00.000Z');
const at = now.toISOString();
const later = (seconds: number) => new Date(now.getTime() + seconds * 1000);
const spec = deciderSpecification(partyDecider);

/** Runs the decider and returns the DomainError it throws, failing if it decides normally. */
function refusal(given: readonly PartyEvent[], command: Parameters<typeof partyDecider.decide>[0]): DomainError {
  let thrown: unknown;
  spec
    .given(given)
    .when(command)
    .thenThrows((error) => {
      thrown = error;
    });
  expect(thrown).toBeInstanceOf(DomainError);
  return thrown as DomainError;
}
const rulesOf = (error: DomainError) => error.reasons.map((r) => (typeof r === 'string' ? r : r.rule));
const fieldsOf = (error: DomainError) => error.reasons.map((r) => (r as { field?: string }).field);

const register: RegisterParty = { type: 'RegisterParty', partyId: 'p1', kind: 'person', displayName: 'Ada Lovelace', now };
const registered: PartyRegistered = {
  type: 'PartyRegistered',
  version: 1,
  data: { partyId: 'p1', kind: 'person', displayName: 'Ada Lovelace', registeredAt: at },
};
const operatorRegistered = (role: 'processing' | 'gateway'): PartyRegistered => ({
  type: 'PartyRegistered',
  version: 1,
  data: { partyId: 'p1', kind: 'operator', operatorRole: role, displayName: 'Seal & Co', registeredAt: at },
});
const declared = (name: string, value: string): IdentityAttributeDeclared => ({
  type: 'IdentityAttributeDeclared',
  version: 1,
  data: { partyId: 'p1', name, value, declaredAt: at },
});

describe('party decider', () => {
  describe('registration', () => {
    it('given no party, when registered, then PartyRegistered', () => {
      spec.given([]).when(register).then([registered]);
    });

    it('given no party, when registered with attributes, then PartyRegistered and one IdentityAttributeDeclared each', () => {
      spec
        .given([])
        .when({
          ...register,
          attributes: [
            { name: 'legalName', value: 'Augusta Ada King' },
            { name: 'dateOfBirth', value: '1985-12-10' },
          ],
        })
        .then([registered, declared('legalName', 'Augusta Ada King'), declared('dateOfBirth', '1985-12-10')]);
    });

    it('registers an operator with its role', () => {
      spec
        .given([])
        .when({ ...register, kind: 'operator', operatorRole: 'processing', displayName: 'Seal & Co' })
        .then([operatorRegistered('processing')]);
    });

    it('refuses an operator without a role, and a role on a non-operator', () => {
      const missing = refusal([], { ...register, kind: 'operator' });
      expect(missing.kind).toBe('invalid');
      expect(missing.reasons).toEqual([expect.objectContaining({ field: 'operatorRole', rule: 'operatorRole.required' })]);
      const extra = refusal([], { ...register, kind: 'organisation', operatorRole: 'gateway' });
      expect(rulesOf(extra)).toEqual(['operatorRole.not-allowed']);
    });

    it('refuses a blank display name', () => {
      expect(rulesOf(refusal([], { ...register, displayName: '   ' }))).toEqual(['displayName.empty']);
      expect(rulesOf(refusal([], { ...register, displayName: 'x'.repeat(201) }))).toEqual(['displayName.too-long']);
    });

    it('refuses an attribute declared twice, or not of its kind, naming the field', () => {
      const error = refusal([], {
        ...register,
        attributes: [
          { name: 'givenName', value: 'Ada' },
          { name: 'givenName', value: 'Augusta' },
          { name: 'registrationNumber', value: '123' },
        ],
      });
      expect(error.code).toBe('DIRECTORY.INVALID_PARTY');
      expect(error.reasons).toEqual([
        expect.objectContaining({ field: 'attributes[1].name', rule: 'attribute.duplicate' }),
        expect.objectContaining({ field: 'attributes[2].name', rule: 'attribute.unknown' }),
      ]);
    });

    it('given a registered party, when registered again with the same facts, then nothing happens', () => {
      spec.given([registered]).when(register).thenNothingHappens();
    });

    it('given a registered party, when registered again with other facts, then it is a conflict', () => {
      expect(refusal([registered], { ...register, kind: 'organisation' }).code).toBe('DIRECTORY.PARTY_ALREADY_REGISTERED');
    });
  });

  describe('renaming', () => {
    it('given no party, when renamed, then it is refused as not found', () => {
      const error = refusal([], { type: 'RenameParty', partyId: 'p1', displayName: 'Ada King', now });
      expect(error.code).toBe('DIRECTORY.PARTY_NOT_FOUND');
      expect(error.kind).toBe('not-found');
    });

    it('when renamed, then PartyRenamed; to the same name, nothing', () => {
      spec
        .given([registered])
        .when({ type: 'RenameParty', partyId: 'p1', displayName: 'Ada King', now })
        .then([{ type: 'PartyRenamed', version: 1, data: { partyId: 'p1', displayName: 'Ada King', renamedAt: at } }]);
      spec.given([registered]).when({ type: 'RenameParty', partyId: 'p1', displayName: 'Ada Lovelace', now }).thenNothingHappens();
    });
  });

  describe('identity attributes', () => {
    const declare = (name: string, value: string) => ({ type: 'DeclareAttribute' as const, partyId: 'p1', name, value, now });

    it('declares an attribute of the party kind; the same value again is a no-op; a new value is declared', () => {
      spec
        .given([registered])
        .when(declare('familyName', 'Lovelace'))
        .then([declared('familyName', 'Lovelace')]);
      spec
        .given([registered, declared('familyName', 'Lovelace')])
        .when(declare('familyName', 'Lovelace'))
        .thenNothingHappens();
      spec
        .given([registered, declared('familyName', 'Lovelace')])
        .when(declare('familyName', 'King'))
        .then([declared('familyName', 'King')]);
    });

    it('refuses a name outside the closed list of the kind', () => {
      const error = refusal([registered], declare('registrationNumber', 'RCS 123'));
      expect(error.reasons).toEqual([expect.objectContaining({ field: 'name', rule: 'attribute.unknown' })]);
      expect(rulesOf(refusal([operatorRegistered('gateway')], declare('dateOfBirth', '1990-01-01')))).toEqual(['attribute.unknown']);
    });

    it.each([
      ['givenName', '', 'attribute.empty'],
      ['givenName', '  ', 'attribute.empty'],
      ['givenName', 'x'.repeat(257), 'attribute.too-long'],
      ['address', 'x'.repeat(501), 'attribute.too-long'],
      ['givenName', ' Ada', 'attribute.format'],
      ['givenName', 'Ada\u0007', 'attribute.format'],
      ['dateOfBirth', '10/12/1815', 'attribute.format'],
      ['dateOfBirth', '1815-02-30', 'attribute.format'],
      ['dateOfBirth', '2027-01-01', 'attribute.range'],
      ['dateOfBirth', '1815-12-10', 'attribute.range'],
      ['country', 'fr', 'attribute.format'],
      ['email', 'ada@', 'attribute.format'],
      ['phone', '0612345678', 'attribute.format'],
    ])('refuses %s = %j with %s', (name, value, rule) => {
      const error = refusal([registered], declare(name, value));
      expect(error.kind).toBe('invalid');
      expect(error.reasons).toEqual([expect.objectContaining({ rule, field: rule === 'attribute.unknown' ? 'name' : 'value' })]);
    });

    it('accepts well-formed values', () => {
      for (const [name, value] of [
        ['dateOfBirth', '1990-02-28'],
        ['country', 'FR'],
        ['email', 'ada@example.org'],
        ['phone', '+33612345678'],
        ['address', '12 rue de la Paix, 75002 Paris'],
      ]) {
        spec
          .given([registered])
          .when(declare(name, value))
          .then([declared(name, value)]);
      }
    });

    it('refuses a declaration for an unknown party', () => {
      expect(refusal([], declare('givenName', 'Ada')).kind).toBe('not-found');
    });
  });

  describe('second channels', () => {
    const enrol: EnrolChannel = {
      type: 'EnrolChannel',
      partyId: 'p1',
      channelId: 'c1',
      kind: 'email',
      address: ' Ada@Example.ORG ',
      verifier: 'ab'.repeat(32),
      verifierKeyId: 'channel-verifier@1',
      codeTtlSeconds: 600,
      maxAttempts: 3,
      maxChannels: 2,
      now,
    };
    const enrolled = (channelId = 'c1', address = 'ada@example.org', kind: 'email' | 'sms' = 'email'): SecondChannelEnrolled => ({
      type: 'SecondChannelEnrolled',
      version: 1,
      data: {
        partyId: 'p1',
        channelId,
        kind,
        address,
        verifier: 'ab'.repeat(32),
        verifierKeyId: 'channel-verifier@1',
        expiresAt: later(600).toISOString(),
        maxAttempts: 3,
        enrolledAt: at,
      },
    });
    const verify = (codeMatches: boolean, when = later(60), channelId = 'c1'): VerifyChannel => ({
      type: 'VerifyChannel',
      partyId: 'p1',
      channelId,
      codeMatches,
      now: when,
    });
    const failed = (attempt: number, rule: string, when = later(60)): SecondChannelVerificationFailed => ({
      type: 'SecondChannelVerificationFailed',
      version: 1,
      data: { partyId: 'p1', channelId: 'c1', attempt, rule, failedAt: when.toISOString() },
    });
    const verified = { type: 'SecondChannelVerified', version: 1, data: { partyId: 'p1', channelId: 'c1', verifiedAt: later(60).toISOString() } } as const;
    const removed = (channelId = 'c1', when = now) =>
      ({ type: 'SecondChannelRemoved', version: 1, data: { partyId: 'p1', channelId, removedAt: when.toISOString() } }) as const;

    it('enrols an e-mail channel with its verifier only, the address normalised and the expiry set', () => {
      spec.given([registered]).when(enrol).then([enrolled()]);
    });

    it('enrols an SMS channel with an E.164 number', () => {
      spec
        .given([registered])
        .when({ ...enrol, kind: 'sms', address: '+33612345678' })
        .then([enrolled('c1', '+33612345678', 'sms')]);
    });

    it.each([
      ['email', 'not-an-address', 'address.email'],
      ['email', 'ada@localhost', 'address.email'],
      ['sms', '0612345678', 'address.e164'],
      ['sms', '+0612345678', 'address.e164'],
      ['sms', '+3361234567890123', 'address.e164'],
    ] as const)('refuses a %s channel at %j (%s)', (kind, address, rule) => {
      const error = refusal([registered], { ...enrol, kind, address });
      expect(error.reasons).toEqual([expect.objectContaining({ field: 'address', rule })]);
    });

    it('refuses an address already enrolled (pending with a live code, or verified)', () => {
      expect(rulesOf(refusal([registered, enrolled()], { ...enrol, channelId: 'c2' }))).toEqual(['channel.duplicate']);
      expect(rulesOf(refusal([registered, enrolled(), verified], { ...enrol, channelId: 'c2', now: later(3600) }))).toEqual(['channel.duplicate']);
    });

    it('supersedes a dead enrolment of the same address (code expired, or attempts exhausted)', () => {
      const again = { ...enrol, channelId: 'c2', now: later(601) };
      const renewed = { ...enrolled('c2'), data: { ...enrolled('c2').data, enrolledAt: later(601).toISOString(), expiresAt: later(1201).toISOString() } };
      spec
        .given([registered, enrolled()])
        .when(again)
        .then([removed('c1', later(601)), renewed]);
      spec
        .given([registered, enrolled(), failed(1, 'code.mismatch'), failed(2, 'code.mismatch'), failed(3, 'attempts.exhausted')])
        .when(again)
        .then([removed('c1', later(601)), renewed]);
    });

    it('re-enrols an address once its channel was removed', () => {
      spec
        .given([registered, enrolled(), removed()])
        .when({ ...enrol, channelId: 'c2' })
        .then([enrolled('c2')]);
    });

    it('refuses more channels than the limit', () => {
      const error = refusal([registered, enrolled('c1', 'a@example.org'), enrolled('c2', 'b@example.org')], { ...enrol, channelId: 'c3' });
      expect(error.code).toBe('DIRECTORY.CHANNEL_LIMIT');
      expect(rulesOf(error)).toEqual(['channel.limit']);
    });

    it('refuses a channel id already used', () => {
      expect(refusal([registered, enrolled('c1', 'a@example.org')], enrol).code).toBe('DIRECTORY.CHANNEL_ID_TAKEN');
    });

    it('refuses to enrol for an unknown party', () => {
      expect(refusal([], enrol).kind).toBe('not-found');
    });

    it('verifies a channel with a matching code', () => {
      spec.given([registered, enrolled()]).when(verify(true)).then([verified]);
    });

    it('records a wrong code as code.mismatch with its attempt number', () => {
      spec
        .given([registered, enrolled()])
        .when(verify(false))
        .then([failed(1, 'code.mismatch')]);
      spec
        .given([registered, enrolled(), failed(1, 'code.mismatch')])
        .when(verify(false))
        .then([failed(2, 'code.mismatch')]);
    });

    it('records the last allowed wrong code as attempts.exhausted, then refuses even the right code', () => {
      const history = [registered, enrolled(), failed(1, 'code.mismatch'), failed(2, 'code.mismatch')];
      spec
        .given(history)
        .when(verify(false))
        .then([failed(3, 'attempts.exhausted')]);
      const error = refusal([...history, failed(3, 'attempts.exhausted')], verify(true));
      expect(error.code).toBe('DIRECTORY.CHANNEL_VERIFICATION_CLOSED');
      expect(rulesOf(error)).toEqual(['attempts.exhausted']);
    });

    it('still accepts the right code after a wrong one', () => {
      spec
        .given([registered, enrolled(), failed(1, 'code.mismatch')])
        .when(verify(true))
        .then([verified]);
    });

    it('records a code typed at or after expiry as code.expired, even if it matches, then refuses further codes', () => {
      spec
        .given([registered, enrolled()])
        .when(verify(true, later(600)))
        .then([failed(1, 'code.expired', later(600))]);
      const error = refusal([registered, enrolled(), failed(1, 'code.expired', later(600))], verify(true, later(700)));
      expect(rulesOf(error)).toEqual(['code.expired']);
    });

    it('treats the re-verification of a verified channel as a no-op', () => {
      spec
        .given([registered, enrolled(), verified])
        .when(verify(true, later(5000)))
        .thenNothingHappens();
    });

    it('refuses to verify an unknown or removed channel as not found', () => {
      expect(refusal([registered, enrolled()], verify(true, later(60), 'c9')).code).toBe('DIRECTORY.CHANNEL_NOT_FOUND');
      expect(refusal([registered, enrolled(), removed()], verify(true)).code).toBe('DIRECTORY.CHANNEL_NOT_FOUND');
    });

    it('removes a channel; removing it again is a no-op; an unknown channel is not found', () => {
      const remove = { type: 'RemoveChannel' as const, partyId: 'p1', channelId: 'c1', now };
      spec.given([registered, enrolled(), verified]).when(remove).then([removed()]);
      spec.given([registered, enrolled(), removed()]).when(remove).thenNothingHappens();
      expect(refusal([registered], remove).kind).toBe('not-found');
    });
  });

  describe('public keys', () => {
    const pem = (type: 'ed25519' | 'x25519' | 'rsa' | 'ec', bits = 2048) => {
      const pair =
        type === 'rsa'
          ? generateKeyPairSync('rsa', { modulusLength: bits })
          : type === 'ec'
            ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
            : generateKeyPairSync(type as 'ed25519');
      return {
        publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      };
    };
    const ed = pem('ed25519');
    const x = pem('x25519');
    const rsa = pem('rsa');
    const registerKey = (algorithm: RegisterPublicKey['algorithm'], use: RegisterPublicKey['use'], keyPem: string, keyId = 'k1'): RegisterPublicKey => ({
      type: 'RegisterPublicKey',
      partyId: 'p1',
      keyId,
      algorithm,
      use,
      key: inspectPublicKey(keyPem),
      maxKeys: 2,
      now,
    });
    const keyRegistered = (command: RegisterPublicKey): PublicKeyRegistered => {
      if (!command.key.ok) throw new Error('test key does not parse');
      return {
        type: 'PublicKeyRegistered',
        version: 1,
        data: {
          partyId: 'p1',
          keyId: command.keyId,
          algorithm: command.algorithm,
          use: command.use,
          publicKeyPem: command.key.spkiPem,
          fingerprint: command.key.fingerprint,
          registeredAt: at,
        },
      };
    };
    const revoked = (keyId = 'k1') => ({ type: 'PublicKeyRevoked', version: 1, data: { partyId: 'p1', keyId, reason: 'compromised', revokedAt: at } }) as const;

    it('registers Ed25519 (signature), X25519 (encryption) and RSA-2048 (either) keys with the SPKI SHA-256 fingerprint', () => {
      for (const command of [
        registerKey('Ed25519', 'signature', ed.publicPem),
        registerKey('X25519', 'encryption', x.publicPem),
        registerKey('RSA', 'encryption', rsa.publicPem),
      ]) {
        const event = keyRegistered(command);
        expect(event.data.fingerprint).toMatch(/^[0-9a-f]{64}$/);
        spec.given([registered]).when(command).then([event]);
      }
    });

    it('refuses a declared algorithm that is not the PEM key type', () => {
      const error = refusal([registered], registerKey('Ed25519', 'signature', rsa.publicPem));
      expect(error.reasons).toEqual([expect.objectContaining({ field: 'algorithm', rule: 'key.algorithm-mismatch' })]);
      expect(rulesOf(refusal([registered], registerKey('RSA', 'signature', pem('ec').publicPem)))).toEqual(['key.algorithm-mismatch']);
    });

    it('refuses an RSA key shorter than 2048 bits', () => {
      expect(rulesOf(refusal([registered], registerKey('RSA', 'signature', pem('rsa', 1024).publicPem)))).toEqual(['key.too-short']);
    });

    it('refuses signature use for X25519 and encryption use for Ed25519', () => {
      const error = refusal([registered], registerKey('X25519', 'signature', x.publicPem));
      expect(error.reasons).toEqual([expect.objectContaining({ field: 'use', rule: 'key.use-not-allowed' })]);
      expect(rulesOf(refusal([registered], registerKey('Ed25519', 'encryption', ed.publicPem)))).toEqual(['key.use-not-allowed']);
    });

    it('refuses garbage and private keys, without echoing them', () => {
      expect(rulesOf(refusal([registered], registerKey('Ed25519', 'signature', 'hello')))).toEqual(['key.unparsable']);
      const broken = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----';
      expect(rulesOf(refusal([registered], registerKey('Ed25519', 'signature', broken)))).toEqual(['key.unparsable']);
      const privateKey = refusal([registered], registerKey('Ed25519', 'signature', ed.privatePem));
      expect(rulesOf(privateKey)).toEqual(['key.not-public']);
      expect(JSON.stringify(privateKey.reasons) + privateKey.message).not.toContain(ed.privatePem.split('\n')[1]);
    });

    it('treats the same key registered twice as a no-op, and refuses it for another use', () => {
      const first = registerKey('RSA', 'signature', rsa.publicPem);
      spec
        .given([registered, keyRegistered(first)])
        .when({ ...first, keyId: 'k2' })
        .thenNothingHappens();
      expect(rulesOf(refusal([registered, keyRegistered(first)], registerKey('RSA', 'encryption', rsa.publicPem, 'k2')))).toEqual(['key.duplicate']);
    });

    it('refuses to reinstate a revoked key', () => {
      const first = registerKey('Ed25519', 'signature', ed.publicPem);
      const error = refusal([registered, keyRegistered(first), revoked()], { ...first, keyId: 'k2' });
      expect(error.code).toBe('DIRECTORY.KEY_REVOKED');
    });

    it('refuses more active keys than the limit; revoked keys do not count', () => {
      const one = keyRegistered(registerKey('Ed25519', 'signature', ed.publicPem, 'k1'));
      const two = keyRegistered(registerKey('X25519', 'encryption', x.publicPem, 'k2'));
      const third = registerKey('RSA', 'signature', rsa.publicPem, 'k3');
      expect(rulesOf(refusal([registered, one, two], third))).toEqual(['key.limit']);
      spec
        .given([registered, one, two, revoked('k1')])
        .when(third)
        .then([keyRegistered(third)]);
    });

    it('revokes a key with a reason; again is a no-op; unknown is not found; a blank reason is invalid', () => {
      const one = keyRegistered(registerKey('Ed25519', 'signature', ed.publicPem));
      const revoke = { type: 'RevokePublicKey' as const, partyId: 'p1', keyId: 'k1', reason: 'compromised', now };
      spec.given([registered, one]).when(revoke).then([revoked()]);
      spec.given([registered, one, revoked()]).when(revoke).thenNothingHappens();
      expect(refusal([registered], revoke).code).toBe('DIRECTORY.KEY_NOT_FOUND');
      expect(rulesOf(refusal([registered, one], { ...revoke, reason: ' ' }))).toEqual(['reason.invalid']);
    });
  });

  describe('processing operator specification', () => {
    const specification: OperatorSpecification = {
      version: 1,
      steps: [
        { step: 'seal', parameters: { algorithm: { type: 'string', allowed: ['Ed25519', 'RSA'], required: true } }, maxDurationSeconds: 60 },
        { step: 'archive', parameters: { retentionYears: { type: 'number', min: 1, max: 30 }, replicate: { type: 'boolean' } }, maxDurationSeconds: 3600 },
      ],
    };
    const registerSpec = (s: OperatorSpecification): RegisterSpecification => ({ type: 'RegisterSpecification', partyId: 'p1', specification: s, now });
    const specRegistered = (s: OperatorSpecification): OperatorSpecificationRegistered => ({
      type: 'OperatorSpecificationRegistered',
      version: 1,
      data: { partyId: 'p1', specification: s, registeredAt: at },
    });
    const processing = operatorRegistered('processing');

    it('registers the specification of a processing operator', () => {
      spec
        .given([processing])
        .when(registerSpec(specification))
        .then([specRegistered(specification)]);
    });

    it('refuses it for parties that are not processing operators', () => {
      for (const party of [registered, operatorRegistered('gateway')]) {
        const error = refusal([party], registerSpec(specification));
        expect(error.code).toBe('DIRECTORY.NOT_A_PROCESSING_OPERATOR');
        expect(error.kind).toBe('conflict');
      }
      expect(refusal([], registerSpec(specification)).kind).toBe('not-found');
    });

    it('accepts a higher version, treats the same version and content as a no-op, refuses a version not increasing', () => {
      const v2 = { ...specification, version: 2 };
      spec
        .given([processing, specRegistered(specification)])
        .when(registerSpec(v2))
        .then([specRegistered(v2)]);
      spec
        .given([processing, specRegistered(v2)])
        .when(registerSpec(JSON.parse(JSON.stringify(v2))))
        .thenNothingHappens();
      const same = refusal([processing, specRegistered(v2)], registerSpec({ ...v2, steps: [specification.steps[0]] }));
      expect(same.reasons).toEqual([expect.objectContaining({ field: 'version', rule: 'version.not-increasing' })]);
      expect(rulesOf(refusal([processing, specRegistered(v2)], registerSpec(specification)))).toEqual(['version.not-increasing']);
    });

    const step = (overrides: Record<string, unknown>) => ({ ...specification.steps[0], ...overrides }) as OperatorSpecification['steps'][number];
    it.each<[string, OperatorSpecification, string, string]>([
      ['version 0', { ...specification, version: 0 }, 'version', 'version.invalid'],
      ['a fractional version', { ...specification, version: 1.5 }, 'version', 'version.invalid'],
      ['no steps', { version: 1, steps: [] }, 'steps', 'steps.empty'],
      ['an unknown step', { version: 1, steps: [step({ step: 'shred' })] }, 'steps[0].step', 'step.unknown'],
      ['a duplicate step', { version: 1, steps: [step({}), step({})] }, 'steps[1].step', 'step.duplicate'],
      ['a zero duration', { version: 1, steps: [step({ maxDurationSeconds: 0 })] }, 'steps[0].maxDurationSeconds', 'maxDuration.range'],
      ['a duration over 30 days', { version: 1, steps: [step({ maxDurationSeconds: 30 * 86400 + 1 })] }, 'steps[0].maxDurationSeconds', 'maxDuration.range'],
      ['parameters not an object', { version: 1, steps: [step({ parameters: [] })] }, 'steps[0].parameters', 'parameters.shape'],
      ['a bad parameter name', { version: 1, steps: [step({ parameters: { '1x': { type: 'string' } } })] }, 'steps[0].parameters.1x', 'parameter.name'],
      ['a parameter spec not an object', { version: 1, steps: [step({ parameters: { a: 'string' } })] }, 'steps[0].parameters.a', 'parameter.shape'],
      ['an unknown parameter type', { version: 1, steps: [step({ parameters: { a: { type: 'date' } } })] }, 'steps[0].parameters.a.type', 'parameter.type'],
      [
        'an unknown parameter field',
        { version: 1, steps: [step({ parameters: { a: { type: 'string', pattern: '.*' } } })] },
        'steps[0].parameters.a.pattern',
        'parameter.unknown-field',
      ],
      [
        'allowed on a number',
        { version: 1, steps: [step({ parameters: { a: { type: 'number', allowed: ['1'] } } })] },
        'steps[0].parameters.a.allowed',
        'parameter.allowed',
      ],
      [
        'empty allowed',
        { version: 1, steps: [step({ parameters: { a: { type: 'string', allowed: [] } } })] },
        'steps[0].parameters.a.allowed',
        'parameter.allowed',
      ],
      [
        'duplicate allowed values',
        { version: 1, steps: [step({ parameters: { a: { type: 'string', allowed: ['x', 'x'] } } })] },
        'steps[0].parameters.a.allowed',
        'parameter.allowed',
      ],
      ['min on a string', { version: 1, steps: [step({ parameters: { a: { type: 'string', min: 1 } } })] }, 'steps[0].parameters.a.min', 'parameter.range'],
      [
        'min above max',
        { version: 1, steps: [step({ parameters: { a: { type: 'number', min: 5, max: 1 } } })] },
        'steps[0].parameters.a.min',
        'parameter.range',
      ],
      [
        'a non-finite bound',
        { version: 1, steps: [step({ parameters: { a: { type: 'number', max: Number.POSITIVE_INFINITY } } })] },
        'steps[0].parameters.a.max',
        'parameter.range',
      ],
      [
        'required not boolean',
        { version: 1, steps: [step({ parameters: { a: { type: 'string', required: 'yes' } } })] },
        'steps[0].parameters.a.required',
        'parameter.required',
      ],
      [
        'too many parameters',
        { version: 1, steps: [step({ parameters: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`p${i}`, { type: 'boolean' }])) })] },
        'steps[0].parameters',
        'parameters.too-many',
      ],
    ])('refuses %s, naming the field and the rule', (_name, bad, field, rule) => {
      const error = refusal([processing], registerSpec(bad));
      expect(error.code).toBe('DIRECTORY.INVALID_SPECIFICATION');
      expect(error.kind).toBe('invalid');
      expect(fieldsOf(error)).toContain(field);
      expect(rulesOf(error)).toContain(rule);
    });
  });

  describe('evolve', () => {
    it('ignores events for a party never registered, and a second PartyRegistered', () => {
      expect(partyDecider.evolve(partyDecider.initialState(), declared('givenName', 'Ada'))).toEqual({ status: 'unknown' });
      const once = partyDecider.evolve(partyDecider.initialState(), registered);
      expect(partyDecider.evolve(once, { ...registered, data: { ...registered.data, displayName: 'Other' } })).toBe(once);
    });
  });
});
