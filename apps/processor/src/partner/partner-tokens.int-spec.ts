import { randomUUID } from 'node:crypto';
import type { EventBus } from '@sigillum/bus';
import { type BusMessage, type DeliveredMessage, type DomainEvent, streamIdOf } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { nameBasedId } from '@sigillum/runtime';
import Database from 'better-sqlite3';
import { ChainReader } from '../job/chain-reader';
import { JobConsumer } from '../job/job.consumer';
import type { JobOutcome, JobRunner } from '../job/job.runner';
import { chainOf, OPERATOR_ID, RECIPIENT_IDS, TEST_NOW, testToken } from '../testing-fixtures';
import { type PartnerBinding, partnerInboundTopicOf } from './partner.config';
import { PARTNER_TOKEN_TYPE, PartnerTokens } from './partner-tokens';

const PARTNER: PartnerBinding = { name: 'acme-post', operatorId: OPERATOR_ID, topic: partnerInboundTopicOf('acme-post') };
const OTHER_OPERATOR = '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b';
const SIGNATURE = 'eyJhbGciOiJFZERTQSJ9..c2lnbmF0dXJl';
const [BOB, CAROL] = RECIPIENT_IDS;

describe("partner tokens: each partner gets its own tokens, and its letters' address blocks, on its own topic", () => {
  let store: SqliteEventStore;
  let published: BusMessage[];
  let tokens: PartnerTokens;
  const bus = { publish: async (messages: readonly BusMessage[]) => void published.push(...messages) } as unknown as EventBus;
  const context = { correlationId: 'corr-1', causationId: 'token-event-1' };

  const pending = (event: DomainEvent) => ({
    event,
    metadata: { eventId: randomUUID(), correlationId: 'c', causationId: 'c', occurredAt: TEST_NOW.toISOString(), source: '/sigillum/test' },
  });
  const declared = (partyId: string, name: string, value: string) =>
    pending({ type: 'IdentityAttributeDeclared', version: 1, data: { partyId, name, value, declaredAt: TEST_NOW.toISOString() } });
  const registered = (partyId: string, displayName: string) =>
    pending({ type: 'PartyRegistered', version: 1, data: { partyId, kind: 'person', displayName, registeredAt: TEST_NOW.toISOString() } });

  beforeEach(async () => {
    store = new SqliteEventStore({ db: new Database(':memory:') });
    published = [];
    tokens = new PartnerTokens({ bus, reader: new ChainReader(store), partners: [PARTNER] });
    await store.append(streamIdOf('chain', testToken().correspondenceId), [pending({ type: 'ChainStarted', version: 1, data: chainOf() })], 'no-stream');
    // Bob declared his postal address; Carol did not; Dave, in the directory too, is no recipient of this letter.
    await store.append(
      streamIdOf('party', BOB),
      [registered(BOB, 'Bob Durand'), declared(BOB, 'address', '1 rue de la Paix, 75002 Paris'), declared(BOB, 'country', 'FR')],
      'no-stream',
    );
    await store.append(streamIdOf('party', CAROL), [registered(CAROL, 'Carol Secret'), declared(CAROL, 'address', '2 Hidden Lane')], 'no-stream');
    const dave = 'e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b';
    await store.append(
      streamIdOf('party', dave),
      [registered(dave, 'Dave Elsewhere'), declared(dave, 'address', '3 Other Road'), declared(dave, 'country', 'DE')],
      'no-stream',
    );
  });

  it("a print-and-post token of a partner's operator: one record on its topic, the token as signed, the recipients' address blocks only", async () => {
    const token = testToken({ step: 'print-and-post', stepIndex: 2, parameters: { postal: 'registered' } });
    expect(await tokens.forward({ token, signature: SIGNATURE }, context)).toBe('forwarded');
    expect(published).toHaveLength(1);
    const [record] = published;
    expect(record).toMatchObject({
      topic: 'sigillum.partner.acme-post.tokens',
      key: `job-${token.tokenId}`,
      id: nameBasedId(`partner-token:${token.tokenId}`),
      type: PARTNER_TOKEN_TYPE,
      source: '/sigillum/processor',
      time: token.issuedAt,
      correlationId: 'corr-1',
      causationId: 'token-event-1',
      dataVersion: 1,
    });
    expect(record.data).toEqual({
      token,
      signature: SIGNATURE,
      // Carol declared no country: nothing about her but her id (the partner reports address.missing).
      recipients: [{ recipientId: BOB, addressBlock: ['Bob Durand', '1 rue de la Paix', '75002 Paris', 'FR'], country: 'FR' }, { recipientId: CAROL }],
    });
    // Exactly as signed: the same object, not a copy with fields dropped or added.
    expect((record.data as { token: unknown }).token).toBe(token);
    const text = JSON.stringify(record.data);
    expect(text).not.toContain('Carol Secret');
    expect(text).not.toContain('Dave');
  });

  it('a redelivered token publishes the same record id again (the partner drops it by ce_id)', async () => {
    const token = testToken({ step: 'print-and-post' });
    await tokens.forward({ token, signature: SIGNATURE }, context);
    await tokens.forward({ token, signature: SIGNATURE }, { correlationId: 'corr-1', causationId: 'redelivered' });
    expect(published.map((message) => [message.id, message.key, message.time])).toEqual([
      [published[0].id, `job-${token.tokenId}`, token.issuedAt],
      [published[0].id, `job-${token.tokenId}`, token.issuedAt],
    ]);
    const next = testToken({ step: 'print-and-post', tokenId: 'a1b2c3d4-0000-4000-8000-000000000002', attempt: 2 });
    await tokens.forward({ token: next, signature: SIGNATURE }, context);
    expect(published[2].id).not.toBe(published[0].id);
  });

  it('another step of a partner: the token alone; an operator bound to no partner: nothing', async () => {
    const seal = testToken({ step: 'seal' });
    expect(await tokens.forward({ token: seal, signature: SIGNATURE }, context)).toBe('forwarded');
    expect(published[0].data).toEqual({ token: seal, signature: SIGNATURE });
    expect(await tokens.forward({ token: testToken({ step: 'print-and-post', operatorId: OTHER_OPERATOR }), signature: SIGNATURE }, context)).toBe(
      'not-a-partner',
    );
    expect(published).toHaveLength(1);
  });

  it('an unknown chain: the partner is told there is no recipient it could post to', async () => {
    const token = testToken({ step: 'print-and-post', correspondenceId: 'f0e1d2c3-b4a5-4968-8776-a5b4c3d2e1f0' });
    await tokens.forward({ token, signature: SIGNATURE }, context);
    expect(published[0].data).toEqual({ token, signature: SIGNATURE, recipients: [] });
  });

  it('the work consumer forwards only the tokens its runner does not host, once per delivery', async () => {
    let outcome: JobOutcome = 'not-hosted';
    const runner = { run: async () => outcome } as unknown as JobRunner;
    const consumer = new JobConsumer(runner, tokens);
    const token = testToken({ step: 'print-and-post' });
    const message: DeliveredMessage = {
      topic: 'sigillum.chain.events',
      key: `chain-${token.correspondenceId}`,
      id: 'token-event-1',
      type: 'sigillum.chain.StepTokenIssued',
      source: '/sigillum/certifier',
      time: TEST_NOW.toISOString(),
      correlationId: 'corr-1',
      causationId: 'cause-1',
      dataVersion: 1,
      data: { token, signature: SIGNATURE },
      partition: 0,
      offset: '0',
    };
    await consumer.onChainEvent(message);
    expect(published.map((record) => [record.topic, record.causationId])).toEqual([['sigillum.partner.acme-post.tokens', 'token-event-1']]);
    for (outcome of ['returned', 'already-recorded', 'failed', 'refused'] as JobOutcome[]) await consumer.onChainEvent(message);
    expect(published).toHaveLength(1);
    await consumer.onChainEvent({ ...message, type: 'sigillum.chain.ChainStarted', data: chainOf() });
    expect(published).toHaveLength(1);
  });
});
