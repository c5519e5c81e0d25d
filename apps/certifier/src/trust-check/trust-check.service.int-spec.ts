import { randomUUID } from 'node:crypto';
import {
  type AttributeCertified,
  type DeliveredMessage,
  eventTopicForStream,
  messageFromRecordedEvent,
  type OperatorStepSpec,
  type ProcessingStep,
  type TrustCheckAnswered,
} from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { pendingEvent } from '@sigillum/testing/events';
import Database from 'better-sqlite3';
import { loadCertifierConfig } from '../certifier.config';
import { LevelPolicyService } from '../policy/level-policy.service';
import { LEVEL_POLICY_STREAM_ID } from '../policy/level-policy';
import { TrustStateReader } from '../state/trust-state.reader';
import { OperatorIndex } from './operator-index';
import { TrustCheckService } from './trust-check.service';

const t0 = new Date('2026-06-01T12:00:00.000Z');
const context = { correlationId: randomUUID(), causationId: randomUUID() };

describe('TrustCheckService (SQLite event store, events as the directory writes them)', () => {
  let db: Database.Database;
  let store: SqliteEventStore;
  let now: Date;
  let index: OperatorIndex;
  let indexedUpTo: bigint | undefined;

  const service = (env: Record<string, string> = {}) => {
    const clock = { now: () => now };
    const ids = { next: () => randomUUID() };
    const reader = new TrustStateReader(store);
    return new TrustCheckService(store, clock, ids, loadCertifierConfig(env), reader, new LevelPolicyService(store, clock, ids), index);
  };

  /** Registers a party the way the directory does: PartyRegistered (+ specification for processing operators). */
  async function registerParty(
    kind: 'person' | 'organisation' | 'operator',
    options: { operatorRole?: 'processing' | 'domicile'; steps?: ProcessingStep[]; registeredAt?: string } = {},
  ): Promise<string> {
    const partyId = randomUUID();
    const registeredAt = options.registeredAt ?? '2026-01-01T00:00:00.000Z';
    const events = [
      pendingEvent('PartyRegistered', {
        partyId,
        kind,
        ...(options.operatorRole ? { operatorRole: options.operatorRole } : {}),
        displayName: `${kind} ${partyId.slice(0, 4)}`,
        registeredAt,
      }),
    ];
    if (options.steps) {
      const steps: OperatorStepSpec[] = options.steps.map((step) => ({ step, parameters: {}, maxDurationSeconds: 60 }));
      events.push(pendingEvent('OperatorSpecificationRegistered', { partyId, specification: { version: 1, steps }, registeredAt }) as never);
    }
    await store.append(`party-${partyId}`, events, 'no-stream');
    return partyId;
  }

  async function certify(partyId: string, names: string[], level: string, overrides: Partial<AttributeCertified['data']> = {}): Promise<void> {
    const events = names.map((name) =>
      pendingEvent('AttributeCertified', {
        partyId,
        attributeId: randomUUID(),
        name,
        level,
        validFrom: '2026-01-01T00:00:00.000Z',
        validUntil: '2027-01-01T00:00:00.000Z',
        evidence: { method: 'id-document', reference: `vetting/${name}`, verifiedBy: 'officer-1' },
        certifiedAt: '2026-01-01T00:00:00.000Z',
        ...overrides,
      }),
    );
    await store.append(`attributes-${partyId}`, events, 'any');
  }

  /** Feeds the operator index with the party events appended since the last call, as the bus would deliver them. */
  async function feedIndex(): Promise<void> {
    const recorded = await store.readAll({ after: indexedUpTo });
    for (const event of recorded) {
      indexedUpTo = event.globalPosition;
      if (!event.streamId.startsWith('party-')) continue;
      const message: DeliveredMessage = { ...messageFromRecordedEvent(event, eventTopicForStream), partition: 0, offset: String(event.globalPosition) };
      index.apply(message);
      index.apply(message); // a redelivery changes nothing
    }
  }

  const processing = (steps: ProcessingStep[], registeredAt: string) => registerParty('operator', { operatorRole: 'processing', steps, registeredAt });

  beforeEach(() => {
    db = new Database(':memory:');
    store = new SqliteEventStore({ db });
    index = new OperatorIndex(db);
    indexedUpTo = undefined;
    now = t0;
  });

  afterEach(async () => {
    await store.close();
    db.close();
  });

  it('checks user, counterpart and every chain operator, chooses the earliest-registered operator per step, and records the answer', async () => {
    const user = await registerParty('person');
    const counterpart = await registerParty('organisation');
    const later = await processing(['seal', 'timestamp', 'deliver', 'archive'], '2026-02-01T00:00:00.000Z');
    const earlier = await processing(['seal', 'timestamp', 'deliver'], '2026-01-15T00:00:00.000Z');
    await registerParty('operator', { operatorRole: 'domicile', registeredAt: '2025-01-01T00:00:00.000Z' });
    await certify(user, ['legalName', 'dateOfBirth'], 'substantial');
    await certify(counterpart, ['legalName', 'registrationNumber'], 'high');
    await certify(later, ['legalName', 'operatorAccreditation'], 'substantial');
    await certify(earlier, ['legalName', 'operatorAccreditation'], 'substantial');
    await feedIndex();

    const answer = await service().check(
      {
        purpose: 'session',
        subjectOf: 'session-1',
        subjects: [
          { partyId: user, subjectRole: 'user' },
          { partyId: counterpart, subjectRole: 'counterpart' },
        ],
        levelRequired: 'substantial',
        correspondenceKind: 'registered',
      },
      context,
    );

    expect(answer.passed).toBe(true);
    expect(answer.policyId).toBe('eidas-default@1');
    expect(answer.verdicts.map((v) => [v.partyId, v.subjectRole, v.levelHeld, v.validNow])).toEqual([
      [user, 'user', 'substantial', true],
      [counterpart, 'counterpart', 'substantial', true],
      [earlier, 'operator', 'substantial', true], // seal, timestamp, deliver: checked once
      [later, 'operator', 'substantial', true], // archive: only the later one offers it
    ]);
    const recorded = await store.readStream(`trustcheck-${answer.checkId}`);
    expect(recorded.map((r) => r.event)).toEqual([{ type: 'TrustCheckAnswered', version: 1, data: answer }]);
    expect(recorded[0].metadata).toMatchObject({ correlationId: context.correlationId, causationId: context.causationId, source: '/sigillum/certifier' });
    const policy = await store.readStream(LEVEL_POLICY_STREAM_ID);
    expect(policy.map((r) => r.event.type)).toEqual(['LevelPolicyPublished']);
  });

  it('returns the operators it chose, one per step, each checked in its answer; asked again, the recorded answer with the operators chosen now', async () => {
    const user = await registerParty('person');
    const sealer = await processing(['seal', 'timestamp'], '2026-01-10T00:00:00.000Z');
    const deliverer = await processing(['deliver', 'archive'], '2026-01-20T00:00:00.000Z');
    await certify(user, ['legalName', 'dateOfBirth'], 'substantial');
    for (const operator of [sealer, deliverer]) await certify(operator, ['legalName', 'operatorAccreditation'], 'substantial');
    await feedIndex();
    const trust = service();
    const ask = {
      purpose: 'delivery' as const,
      subjectOf: 'c-1',
      subjects: [{ partyId: user, subjectRole: 'sender' as const }],
      levelRequired: 'substantial' as const,
      correspondenceKind: 'registered',
      checkId: randomUUID(),
    };

    const { answer, operators } = await trust.checkWithOperators(ask, context);
    expect(operators).toEqual([sealer, sealer, deliverer, deliverer]);
    expect(answer.passed).toBe(true);
    expect(answer.verdicts.filter((v) => v.subjectRole === 'operator').map((v) => v.partyId)).toEqual([sealer, deliverer]);
    expect((await store.readStream(`trustcheck-${answer.checkId}`)).map((r) => r.event.data)).toEqual([answer]);

    // An earlier-registered operator now offers delivery: the recorded answer stands, the operators are chosen now.
    const earlier = await processing(['deliver'], '2026-01-01T00:00:00.000Z');
    await feedIndex();
    const again = await trust.checkWithOperators(ask, context);
    expect(again.answer).toEqual(answer);
    expect(again.operators).toEqual([sealer, sealer, earlier, deliverer]);
    expect(await store.readStream(`trustcheck-${answer.checkId}`)).toHaveLength(1);
  });

  it('fails, naming the party and the rule, when a counterpart attribute expired or an attribute is missing', async () => {
    const user = await registerParty('person');
    const counterpart = await registerParty('person');
    await certify(user, ['email'], 'low');
    await certify(counterpart, ['email'], 'low', { validUntil: '2026-05-01T00:00:00.000Z' });
    const answer = await service().check(
      {
        purpose: 'session',
        subjectOf: 's',
        subjects: [
          { partyId: user, subjectRole: 'user' },
          { partyId: counterpart, subjectRole: 'counterpart' },
        ],
        levelRequired: 'low',
      },
      context,
    );
    expect(answer.passed).toBe(false);
    expect(answer.verdicts[0]).toMatchObject({ partyId: user, validNow: true, reasons: [] });
    expect(answer.verdicts[1].reasons.map((r) => [r.rule, r.partyId, r.subjectRole])).toEqual([
      ['level.insufficient', counterpart, 'counterpart'],
      ['attribute.expired', counterpart, 'counterpart'],
    ]);
  });

  it('fails with party.unknown for a party not in the directory, and operator.unavailable for a step nobody offers', async () => {
    const user = await registerParty('person');
    await certify(user, ['legalName', 'dateOfBirth'], 'substantial');
    const ghost = randomUUID();
    const answer = await service().check(
      {
        purpose: 'delivery',
        subjectOf: 'c-1',
        subjects: [
          { partyId: user, subjectRole: 'sender' },
          { partyId: ghost, subjectRole: 'recipient' },
        ],
        levelRequired: 'substantial',
        correspondenceKind: 'simple',
      },
      context,
    );
    expect(answer.passed).toBe(false);
    expect(answer.verdicts.map((v) => [v.partyId, v.reasons.map((r) => r.rule)])).toEqual([
      [user, []],
      [ghost, ['party.unknown']],
      ['', ['operator.unavailable']],
    ]);
    expect(answer.verdicts[2].reasons[0].message).toBe('no processing operator offers the step deliver');
  });

  it('takes the operator CHAIN_OPERATORS names, and fails it when it does not offer the step', async () => {
    const user = await registerParty('person');
    await certify(user, ['email'], 'low');
    const indexed = await processing(['deliver'], '2026-01-01T00:00:00.000Z');
    const configured = await processing(['seal'], '2026-03-01T00:00:00.000Z');
    await certify(indexed, ['legalName'], 'low');
    await certify(configured, ['legalName'], 'low');
    await feedIndex();
    const answer = await service({ CHAIN_OPERATORS: `deliver=${configured}` }).check(
      { purpose: 'session', subjectOf: 's', subjects: [{ partyId: user, subjectRole: 'user' }], levelRequired: 'low', correspondenceKind: 'simple' },
      context,
    );
    expect(answer.passed).toBe(false);
    expect(answer.verdicts[1]).toMatchObject({ partyId: configured, subjectRole: 'operator', levelHeld: 'low', validNow: false });
    expect(answer.verdicts[1].reasons).toEqual([
      { rule: 'operator.unavailable', message: `operator ${configured} does not offer the step deliver`, partyId: configured, subjectRole: 'operator' },
    ]);
  });

  it('sees a revocation at once (cached folds read the stream tail), and answers a fixed check id once', async () => {
    const user = await registerParty('person');
    await certify(user, ['email'], 'low');
    const trust = service();
    const ask = { purpose: 'session' as const, subjectOf: 's', subjects: [{ partyId: user, subjectRole: 'user' as const }], levelRequired: 'low' };
    expect((await trust.check(ask, context)).passed).toBe(true);

    const [{ event }] = await store.readStream(`attributes-${user}`);
    await store.append(
      `attributes-${user}`,
      [
        pendingEvent('AttributeRevoked', {
          partyId: user,
          attributeId: (event as AttributeCertified).data.attributeId,
          reason: 'bounced',
          revokedAt: t0.toISOString(),
        }),
      ],
      0,
    );
    const checkId = randomUUID();
    const first: TrustCheckAnswered['data'] = await trust.check({ ...ask, checkId }, context);
    expect(first.passed).toBe(false);
    expect(first.verdicts[0].reasons.map((r) => r.rule)).toEqual(['level.insufficient', 'attribute.revoked']);

    await certify(user, ['email'], 'low');
    now = new Date(t0.getTime() + 60_000);
    expect(await trust.check({ ...ask, checkId }, context)).toEqual(first);
    expect(await store.readStream(`trustcheck-${checkId}`)).toHaveLength(1);
    expect((await trust.check(ask, context)).passed).toBe(true);
  });

  it('refuses an unknown kind of correspondence', async () => {
    await expect(
      service().check({ purpose: 'session', subjectOf: 's', subjects: [], levelRequired: 'low', correspondenceKind: 'telegram' }, context),
    ).rejects.toMatchObject({ code: 'CERTIFIER.UNKNOWN_CORRESPONDENCE_KIND', kind: 'invalid' });
  });
});
