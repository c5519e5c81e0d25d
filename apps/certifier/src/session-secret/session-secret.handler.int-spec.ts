import { randomBytes, randomUUID } from 'node:crypto';
import { PoisonMessageError } from '@sigillum/bus';
import type { OutOfBandMessage, OutOfBandReceipt, OutOfBandSender } from '@sigillum/channels';
import { type DeliveredMessage, eventTopicForStream, messageFromRecordedEvent, type SecondChannelKind, type SessionSecretIssued } from '@sigillum/contracts';
import { verifyCode } from '@sigillum/crypto';
import { SqliteEventStore } from '@sigillum/eventstore';
import { pendingEvent } from '@sigillum/testing/events';
import Database from 'better-sqlite3';
import { loadCertifierConfig } from '../certifier.config';
import { LevelPolicyService } from '../policy/level-policy.service';
import { TrustStateReader } from '../state/trust-state.reader';
import { OperatorIndex } from '../trust-check/operator-index';
import { sessionCheckId, TrustCheckService } from '../trust-check/trust-check.service';
import { SessionSecretHandler } from './session-secret.handler';

/** Test double: records every message (code included) that would have gone over the second channel. */
class RecordingOutOfBandSender implements OutOfBandSender {
  readonly sent: OutOfBandMessage[] = [];
  failWith: Error | null = null;
  constructor(private readonly kinds: readonly SecondChannelKind[] = ['sms', 'email']) {}
  supports(kind: SecondChannelKind): boolean {
    return this.kinds.includes(kind);
  }
  async send(message: OutOfBandMessage): Promise<OutOfBandReceipt> {
    this.sent.push(message);
    if (this.failWith) throw this.failWith;
    return { transport: 'recording', acceptedAt: new Date().toISOString() };
  }
}

const t0 = new Date('2026-06-01T12:00:00.000Z');
const verifierKey = { keyId: 'session-verifier-test', key: randomBytes(32) };

describe('SessionSecretHandler (SQLite event store, events as the directory and the domicile write them)', () => {
  let db: Database.Database;
  let store: SqliteEventStore;
  let now: Date;
  let sender: RecordingOutOfBandSender;
  let handler: SessionSecretHandler;

  const build = () => {
    const clock = { now: () => now };
    const ids = { next: () => randomUUID() };
    const config = loadCertifierConfig({});
    const reader = new TrustStateReader(store);
    const trust = new TrustCheckService(store, clock, ids, config, reader, new LevelPolicyService(store, clock, ids), new OperatorIndex(db));
    handler = new SessionSecretHandler(store, clock, ids, config, verifierKey, sender, trust, reader);
  };

  async function registerPerson(channels: { kind: SecondChannelKind; address: string; verifiedAt: string | null }[]): Promise<string> {
    const partyId = randomUUID();
    const events = [pendingEvent('PartyRegistered', { partyId, kind: 'person', displayName: 'Ada', registeredAt: '2026-01-01T00:00:00.000Z' })];
    for (const channel of channels) {
      const channelId = randomUUID();
      events.push(
        pendingEvent('SecondChannelEnrolled', {
          partyId,
          channelId,
          kind: channel.kind,
          address: channel.address,
          verifier: 'ab'.repeat(32),
          verifierKeyId: 'channel-verifier',
          expiresAt: '2026-01-01T00:10:00.000Z',
          maxAttempts: 5,
          enrolledAt: '2026-01-01T00:00:00.000Z',
        }) as never,
      );
      if (channel.verifiedAt) events.push(pendingEvent('SecondChannelVerified', { partyId, channelId, verifiedAt: channel.verifiedAt }) as never);
    }
    await store.append(`party-${partyId}`, events, 'no-stream');
    await store.append(
      `attributes-${partyId}`,
      [
        pendingEvent('AttributeCertified', {
          partyId,
          attributeId: randomUUID(),
          name: 'email',
          level: 'low',
          validFrom: '2026-01-01T00:00:00.000Z',
          validUntil: '2027-01-01T00:00:00.000Z',
          evidence: { method: 'email-link', reference: 'r', verifiedBy: 'system' },
          certifiedAt: '2026-01-01T00:00:00.000Z',
        }),
      ],
      'no-stream',
    );
    return partyId;
  }

  /** Appends a session event as the domicile would and returns the bus message the certifier receives. */
  async function sessionEvent(type: string, data: Record<string, unknown>): Promise<DeliveredMessage> {
    const streamId = `session-${data.sessionId as string}`;
    await store.append(streamId, [pendingEvent(type, data)], 'any');
    const recorded = await store.readStream(streamId);
    const last = recorded[recorded.length - 1];
    return { ...messageFromRecordedEvent(last, eventTopicForStream), partition: 0, offset: String(last.globalPosition) };
  }

  const requestSession = (userId: string, counterpartIds: string[] = [], extra: Record<string, unknown> = {}) => {
    const sessionId = randomUUID();
    return sessionEvent('SessionRequested', {
      sessionId,
      userId,
      counterpartIds,
      correspondenceKind: 'simple',
      levelRequired: 'low',
      sessionChannel: 'https',
      requestedAt: now.toISOString(),
      ...extra,
    });
  };

  /** Kind `simple` needs a `deliver` operator: one processing operator at `low`. */
  async function deliverOperator(): Promise<void> {
    const partyId = randomUUID();
    await store.append(
      `party-${partyId}`,
      [
        pendingEvent('PartyRegistered', { partyId, kind: 'operator', operatorRole: 'processing', displayName: 'Op', registeredAt: '2026-01-01T00:00:00.000Z' }),
        pendingEvent('OperatorSpecificationRegistered', {
          partyId,
          specification: { version: 1, steps: [{ step: 'deliver', parameters: {}, maxDurationSeconds: 60 }] },
          registeredAt: '2026-01-01T00:00:00.000Z',
        }) as never,
      ],
      'no-stream',
    );
    await store.append(
      `attributes-${partyId}`,
      [
        pendingEvent('AttributeCertified', {
          partyId,
          attributeId: randomUUID(),
          name: 'legalName',
          level: 'substantial',
          validFrom: '2026-01-01T00:00:00.000Z',
          validUntil: '2027-01-01T00:00:00.000Z',
          evidence: { method: 'registry', reference: 'r', verifiedBy: 'officer' },
          certifiedAt: '2026-01-01T00:00:00.000Z',
        }),
      ],
      'no-stream',
    );
    const index = new OperatorIndex(db);
    for (const event of await store.readStream(`party-${partyId}`)) {
      index.apply({ ...messageFromRecordedEvent(event, eventTopicForStream), partition: 0, offset: String(event.globalPosition) });
    }
  }

  const secretEvents = async (sessionId: string) => (await store.readStream(`secret-${sessionId}`)).map((r) => r.event);

  /** The clear code must never reach the log: no appended event's JSON contains any code sent. */
  async function expectNoCodeInTheLog(): Promise<void> {
    expect(sender.sent.length).toBeGreaterThan(0);
    const log = (await store.readAll()).map((r) => JSON.stringify({ event: r.event, metadata: r.metadata }));
    for (const { code } of sender.sent) for (const line of log) expect(line).not.toContain(code);
  }

  beforeEach(async () => {
    db = new Database(':memory:');
    store = new SqliteEventStore({ db });
    now = t0;
    sender = new RecordingOutOfBandSender();
    build();
    await deliverOperator();
  });

  afterEach(async () => {
    await store.close();
    db.close();
  });

  it('checks trust, records the verifier, then sends the code over the verified channel; a redelivery does nothing', async () => {
    const user = await registerPerson([
      { kind: 'email', address: 'ada@example.org', verifiedAt: '2026-01-02T00:00:00.000Z' },
      { kind: 'sms', address: '+33612345678', verifiedAt: '2026-01-03T00:00:00.000Z' },
    ]);
    const counterpart = await registerPerson([]);
    const message = await requestSession(user, [counterpart]);
    const sessionId = (message.data as { sessionId: string }).sessionId;

    await handler.handle(message);

    const [check] = await store.readStream(`trustcheck-${sessionCheckId(sessionId)}`);
    expect(check.event).toMatchObject({
      type: 'TrustCheckAnswered',
      data: { passed: true, subjectOf: sessionId, purpose: 'session', policyId: 'eidas-default@1' },
    });
    expect((check.event.data as { verdicts: { subjectRole: string }[] }).verdicts.map((v) => v.subjectRole)).toEqual(['user', 'counterpart', 'operator']);

    const events = await secretEvents(sessionId);
    expect(events.map((e) => e.type)).toEqual(['SessionSecretIssued']);
    const issued = events[0] as SessionSecretIssued;
    expect(issued.data).toMatchObject({
      sessionId,
      checkId: sessionCheckId(sessionId), // the passed check it follows
      partyId: user,
      issueNumber: 1,
      verifierKeyId: verifierKey.keyId,
      codeLength: 6,
      channel: { kind: 'sms', maskedAddress: '+33*******78' },
      issuedAt: t0.toISOString(),
      expiresAt: new Date(t0.getTime() + 300_000).toISOString(),
    });

    expect(sender.sent).toHaveLength(1);
    const [sent] = sender.sent;
    expect(sent).toMatchObject({ partyId: user, purpose: 'session-code', reference: sessionId, expiresAt: issued.data.expiresAt });
    expect(sent.channel).toEqual({ channelId: issued.data.channel.channelId, kind: 'sms', address: '+33612345678' });
    expect(sent.code).toMatch(/^\d{6}$/);
    expect(verifyCode(verifierKey.key, sessionId, sent.code, issued.data.verifier)).toBe(true);
    expect(verifyCode(verifierKey.key, randomUUID(), sent.code, issued.data.verifier)).toBe(false);

    await handler.handle(message);
    expect(await secretEvents(sessionId)).toHaveLength(1);
    expect(await store.readStream(`trustcheck-${sessionCheckId(sessionId)}`)).toHaveLength(1);
    expect(sender.sent).toHaveLength(1);
    await expectNoCodeInTheLog();
  });

  it('issues no secret when the trust check fails (the domicile denies from TrustCheckAnswered)', async () => {
    const user = await registerPerson([{ kind: 'sms', address: '+33612345678', verifiedAt: '2026-01-03T00:00:00.000Z' }]);
    const message = await requestSession(user, [randomUUID()]);
    const sessionId = (message.data as { sessionId: string }).sessionId;
    await handler.handle(message);
    const [check] = await store.readStream(`trustcheck-${sessionCheckId(sessionId)}`);
    expect(check.event.data).toMatchObject({ passed: false });
    expect(await secretEvents(sessionId)).toEqual([]);
    expect(sender.sent).toEqual([]);
    await handler.handle(message); // redelivered: the recorded answer stands, still nothing
    expect(await store.readStream(`trustcheck-${sessionCheckId(sessionId)}`)).toHaveLength(1);
  });

  it('refuses the secret with channel.unverified when the user has no verified second channel', async () => {
    const user = await registerPerson([{ kind: 'sms', address: '+33612345678', verifiedAt: null }]);
    const message = await requestSession(user);
    const sessionId = (message.data as { sessionId: string }).sessionId;
    await handler.handle(message);
    expect(await secretEvents(sessionId)).toEqual([
      {
        type: 'SessionSecretRefused',
        version: 1,
        data: expect.objectContaining({ sessionId, partyId: user, reasons: [expect.objectContaining({ rule: 'channel.unverified', partyId: user })] }),
      },
    ]);
    expect(sender.sent).toEqual([]);
  });

  it('refuses the secret with channel.transport-unavailable when no transport serves the verified channel', async () => {
    sender = new RecordingOutOfBandSender(['email']);
    build();
    const user = await registerPerson([{ kind: 'sms', address: '+33612345678', verifiedAt: '2026-01-03T00:00:00.000Z' }]);
    const message = await requestSession(user);
    await handler.handle(message);
    const [refused] = await secretEvents((message.data as { sessionId: string }).sessionId);
    expect(refused).toMatchObject({ type: 'SessionSecretRefused', data: { reasons: [{ rule: 'channel.transport-unavailable' }] } });
  });

  it('refuses the secret with kind.unknown for an unknown kind of correspondence', async () => {
    const user = await registerPerson([{ kind: 'sms', address: '+33612345678', verifiedAt: '2026-01-03T00:00:00.000Z' }]);
    const message = await requestSession(user, [], { correspondenceKind: 'telegram' });
    await handler.handle(message);
    const [refused] = await secretEvents((message.data as { sessionId: string }).sessionId);
    expect(refused).toMatchObject({ type: 'SessionSecretRefused', data: { reasons: [{ rule: 'kind.unknown' }] } });
  });

  it('records SecondChannelDeliveryFailed without the code when the transport fails, and allows an immediate resend', async () => {
    const user = await registerPerson([{ kind: 'email', address: 'ada@example.org', verifiedAt: '2026-01-02T00:00:00.000Z' }]);
    const message = await requestSession(user);
    const sessionId = (message.data as { sessionId: string }).sessionId;
    sender.send = async function (this: RecordingOutOfBandSender, sent: OutOfBandMessage) {
      this.sent.push(sent);
      throw new Error(`SMTP 451 while sending "${sent.code}" to ${sent.channel.address}`);
    };
    await handler.handle(message);
    await handler.deliveriesSettled(); // the send runs apart from the consumer
    const events = await secretEvents(sessionId);
    expect(events.map((e) => e.type)).toEqual(['SessionSecretIssued', 'SecondChannelDeliveryFailed']);
    expect(events[1].data).toMatchObject({ sessionId, issueNumber: 1, channel: { kind: 'email', maskedAddress: 'a***@example.org' } });
    expect((events[1].data as { reason: string }).reason).toBe('Error: SMTP 451 while sending "******" to a***@example.org');
    await expectNoCodeInTheLog();

    sender.send = RecordingOutOfBandSender.prototype.send;
    now = new Date(t0.getTime() + 1000);
    await handler.handle(await sessionEvent('SessionCodeResendRequested', { sessionId, requestedAt: now.toISOString() }));
    expect((await secretEvents(sessionId)).map((e) => e.type)).toEqual(['SessionSecretIssued', 'SecondChannelDeliveryFailed', 'SessionSecretIssued']);
    expect(sender.sent).toHaveLength(2);
  });

  it('resends a new code after the interval, refuses one too soon or past the limit, and ignores a redelivered request', async () => {
    const user = await registerPerson([{ kind: 'sms', address: '+33612345678', verifiedAt: '2026-01-03T00:00:00.000Z' }]);
    const message = await requestSession(user);
    const sessionId = (message.data as { sessionId: string }).sessionId;
    await handler.handle(message);

    now = new Date(t0.getTime() + 10_000);
    await handler.handle(await sessionEvent('SessionCodeResendRequested', { sessionId, requestedAt: now.toISOString() }));
    let events = await secretEvents(sessionId);
    expect(events[1]).toMatchObject({
      type: 'SessionSecretResendRefused',
      data: { reasons: [{ rule: 'resend.too-soon' }], retryAfter: new Date(t0.getTime() + 30_000).toISOString() },
    });

    now = new Date(t0.getTime() + 30_000);
    const resend = await sessionEvent('SessionCodeResendRequested', { sessionId, requestedAt: now.toISOString() });
    await handler.handle(resend);
    await handler.handle(resend); // redelivered
    events = await secretEvents(sessionId);
    expect(events.map((e) => e.type)).toEqual(['SessionSecretIssued', 'SessionSecretResendRefused', 'SessionSecretIssued']);
    const second = events[2] as SessionSecretIssued;
    expect(second.data.issueNumber).toBe(2);
    expect(sender.sent).toHaveLength(2);
    expect(verifyCode(verifierKey.key, sessionId, sender.sent[1].code, second.data.verifier)).toBe(true);

    for (let i = 1; i <= 3; i++) {
      now = new Date(t0.getTime() + 30_000 + i * 60_000);
      await handler.handle(await sessionEvent('SessionCodeResendRequested', { sessionId, requestedAt: now.toISOString() }));
    }
    events = await secretEvents(sessionId);
    expect(events.slice(3).map((e) => e.type)).toEqual(['SessionSecretIssued', 'SessionSecretIssued', 'SessionSecretResendRefused']);
    expect(events[5].data).toMatchObject({ reasons: [{ rule: 'resend.limit' }], retryAfter: null });
    await expectNoCodeInTheLog();
  });

  it('does not hold the consumer while the transport sends: the handler returns once the verifier is recorded; shutdown waits for the send', async () => {
    const user = await registerPerson([{ kind: 'sms', address: '+33612345678', verifiedAt: '2026-01-03T00:00:00.000Z' }]);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let finished = 0;
    sender.send = async function (this: RecordingOutOfBandSender, sent: OutOfBandMessage) {
      this.sent.push(sent);
      await gate; // a slow SMTP relay
      finished++;
      return { transport: 'recording', acceptedAt: new Date().toISOString() };
    };
    const first = await requestSession(user);
    const second = await requestSession(user);
    await handler.handle(first);
    await handler.handle(second); // the first send is still in flight
    for (const message of [first, second]) {
      expect((await secretEvents((message.data as { sessionId: string }).sessionId)).map((e) => e.type)).toEqual(['SessionSecretIssued']);
    }
    expect(sender.sent).toHaveLength(2);
    expect(finished).toBe(0);

    const shutdown = handler.onApplicationShutdown();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(finished).toBe(0);
    release();
    await shutdown;
    expect(finished).toBe(2);
  });

  it('ignores other session events and dead-letters a malformed request', async () => {
    await expect(handler.handle(await sessionEvent('SessionClosed', { sessionId: randomUUID(), closedAt: t0.toISOString() }))).resolves.toBeUndefined();
    const bad = await sessionEvent('SessionRequested', { sessionId: randomUUID(), userId: 42 });
    await expect(handler.handle(bad)).rejects.toBeInstanceOf(PoisonMessageError);
  });
});
